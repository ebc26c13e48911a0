"""The loss of one emulation batch -- the encoder, the emulator, the loss -- eager or compiled.

:class:`CompiledLoss` runs it through ``torch.compile`` (forward and backward: one graph of
fused kernels instead of hundreds of small ops a step). Compiling costs minutes on a CPU, so
it pays on long runs only; where it fails (no compiler, an op it cannot trace) the step runs
eagerly from then on, after one warning.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn

from rnn_zoo.bench.losses import get_loss
from rnn_zoo.errors import first_line
from rnn_zoo.member.spec import Params


def batch_loss(
    encoder: nn.Module, emulator: nn.Module, loss: str, params: Params, inputs: Tensor, targets: Tensor
) -> Tensor:
    """Loss of emulating n members (``params`` (n, ...)) on their b sequences each: ``inputs``
    (n * b, t, i), member by member, and the members' ``targets`` (n * b, t, o)."""
    sequences = inputs.shape[0] // next(iter(params.values())).shape[0]
    embedding = encoder(params).repeat_interleave(sequences, dim=0)  # (n * b, e)
    return get_loss(loss)(emulator(embedding, inputs), targets)


class BatchLoss(nn.Module):
    """:func:`batch_loss` of an encoder and an emulator, as one module (what gets compiled)."""

    def __init__(self, encoder: nn.Module, emulator: nn.Module, loss: str) -> None:
        super().__init__()
        self.encoder, self.emulator, self.loss = encoder, emulator, loss

    def forward(self, params: Params, inputs: Tensor, targets: Tensor) -> Tensor:
        return batch_loss(self.encoder, self.emulator, self.loss, params, inputs, targets)


class CompiledLoss:
    """``module`` compiled by ``torch.compile(backend=backend)``; eager after a failure to compile."""

    def __init__(self, module: nn.Module, backend: str | Callable[..., Any] = "inductor") -> None:
        self.eager = module
        self.compiled: nn.Module | None = torch.compile(module, backend=backend, dynamic=False)

    def __call__(self, params: Params, inputs: Tensor, targets: Tensor) -> Tensor:
        if self.compiled is not None:
            try:
                return self.compiled(params, inputs, targets)
            except Exception as error:  # noqa: BLE001 -- torch.compile's failures share no base class
                message = f"emulation runs eagerly: torch.compile failed ({first_line(error)})"
                warnings.warn(message, RuntimeWarning, stacklevel=2)
                self.compiled = None
        return self.eager(params, inputs, targets)


@dataclass(frozen=True)
class StepParts:
    """What a training step updates and how: both modules, their optimizer, the batch loss."""

    modules: nn.ModuleDict
    optimizer: torch.optim.Optimizer
    loss: Callable[[Params, Tensor, Tensor], Tensor]
