"""How emulation optimises: AdamW's kernel per device, per-module gradient clipping, the best state."""

from __future__ import annotations

import torch
from torch import nn


def make_optimizer(modules: nn.Module, lr: float, weight_decay: float) -> torch.optim.Optimizer:
    """AdamW over every parameter with its fused kernel (CPU and CUDA), else the multi-tensor one.

    torch's default on a CPU is a Python loop over the tensors: with the hundreds of small
    tensors of an equivariant encoder, a large share of its step (fused: about 5x less).
    """
    try:
        return torch.optim.AdamW(modules.parameters(), lr=lr, weight_decay=weight_decay, fused=True)
    except (RuntimeError, ValueError):  # a device or dtype without the fused kernel
        return torch.optim.AdamW(modules.parameters(), lr=lr, weight_decay=weight_decay, foreach=True)


class BestState:
    """The modules' state at their best validation loss so far, kept in preallocated copies."""

    def __init__(self, modules: nn.Module) -> None:
        self.modules = modules
        self.state = {key: value.detach().clone() for key, value in modules.state_dict().items()}
        self.loss, self.step = float("inf"), 0

    def update(self, loss: float, step: int) -> bool:
        """Keep the current state if ``loss`` is the best so far; say whether it was."""
        if not loss < self.loss:
            return False
        for key, value in self.modules.state_dict().items():
            self.state[key].copy_(value)
        self.loss, self.step = loss, step
        return True

    def restore(self) -> None:
        self.modules.load_state_dict(self.state)


def clip_gradients(modules: nn.ModuleDict, clip: float) -> None:
    """Clip each module's gradient (encoder, emulator) to norm ``clip`` on its own, as the
    authors' code does: a large emulator gradient does not shrink the encoder's."""
    for module in modules.values():
        nn.utils.clip_grad_norm_(module.parameters(), clip, foreach=True)
