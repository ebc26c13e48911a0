"""The baseline encoder: one learned embedding for every member, whatever its weights.

What emulation reaches with it is what the emulator learns without reading any member, so an
encoder's validation emulation loss below it is what that encoder's embeddings add.

    PYTHONPATH=benchmarks rnn-zoo bench --encoder constant_encoder:make_encoder --preset medium
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn


class ConstantEncoder(nn.Module):
    """The same learned embedding (e,) for every member: params (n, ...) -> (n, e)."""

    invariant = True  # shown by `rnn-zoo encoders`
    description = "baseline: one learned embedding for every member"

    def __init__(self, width: int = 16) -> None:
        super().__init__()
        self.embedding = nn.Parameter(torch.randn(width))

    def forward(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        n = next(iter(params.values())).shape[0]
        return self.embedding.expand(n, -1)


def make_encoder(spec: Any, *, input_kind: str = "tokens", embedding_size: int = 16) -> ConstantEncoder:
    """The bench's factory contract (README, "Your own encoder"); the member spec is not needed."""
    return ConstantEncoder(embedding_size)
