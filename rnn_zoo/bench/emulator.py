"""The emulator: an LSTM that, conditioned on a member's embedding, reproduces the member's outputs.

The embedding is L2-normalised, mapped linearly to the emulator's LSTM input width and added
to the first input step (after the inputs' own linear map). A linear map is needed because the
embedding width e (16) and the member input width i (6 or 16) differ, and it lets the
emulator decide how strongly each embedding direction steers its initial state.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import torch
from torch import Tensor, nn

State = tuple[Tensor, Tensor]  # nn.LSTM's (h, c), each (layers, n, d)


@dataclass(frozen=True)
class EmulatorConfig:
    """Sizes of the emulator; ``input_size`` and ``output_size`` are the member's."""

    input_size: int
    output_size: int
    embedding_size: int
    hidden_size: int = 256
    num_layers: int = 2

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Emulator(nn.Module):
    """(n, e) embeddings and (n, t, i) member inputs -> (n, t, o) log-probabilities."""

    def __init__(self, config: EmulatorConfig) -> None:
        super().__init__()
        self.config = config
        width = config.hidden_size
        self.from_input = nn.Linear(config.input_size, width)
        self.from_embedding = nn.Linear(config.embedding_size, width)
        self.lstm = nn.LSTM(width, width, config.num_layers, batch_first=True)
        self.to_output = nn.Linear(width, config.output_size)

    def forward(self, embedding: Tensor, inputs: Tensor) -> Tensor:
        """Log-probabilities of the member's outputs after every input step."""
        return self.run(inputs, embedding=embedding)[0]

    def run(
        self, inputs: Tensor, state: State | None = None, *, embedding: Tensor | None = None
    ) -> tuple[Tensor, State]:
        """(n, t, i) inputs from ``state`` -> (n, t, o) log-probabilities and the new state.

        Give ``embedding`` (n, e) when ``inputs`` start at the first step: it is added there.
        Stepping with the returned state continues the sequence (as when sampling from it).
        """
        steps = self.from_input(inputs)  # (n, t, d)
        if embedding is not None:
            condition = self.from_embedding(nn.functional.normalize(embedding, dim=-1))  # (n, d)
            steps = torch.cat([steps[:, :1] + condition.unsqueeze(1), steps[:, 1:]], dim=1)
        hidden, state = self.lstm(steps, state)
        return self.to_output(hidden).log_softmax(-1), state
