"""Emulation losses: distances between the emulator's and the member's output distributions.

Each loss takes log-probabilities ``emulator`` (q) and ``member`` (p) of the same shape
(..., o), compares the two distributions at every position and returns the mean over all
leading dimensions (members, sequences, time steps) as a scalar.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from rnn_zoo.errors import ZooError

Loss = Callable[[Tensor, Tensor], Tensor]


def total_variation(emulator: Tensor, member: Tensor) -> Tensor:
    """0.5 * sum_o |q - p| per position, averaged over positions; in [0, 1]."""
    return 0.5 * (emulator.exp() - member.exp()).abs().sum(-1).mean()


def reverse_kl(emulator: Tensor, member: Tensor) -> Tensor:
    """KL(q || p) = sum_o q (log q - log p) per position, averaged over positions (in nats).

    Outputs the emulator gives no mass (q = 0) add nothing, as 0 log 0 = 0.
    """
    q = emulator.exp()
    terms = torch.where(q > 0, q * (emulator - member), torch.zeros_like(q))
    return terms.sum(-1).mean()


LOSSES: dict[str, Loss] = {"total-variation": total_variation, "reverse-kl": reverse_kl}


def get_loss(name: str) -> Loss:
    """The loss registered under ``name``."""
    if name not in LOSSES:
        raise ZooError(f"unknown emulation loss {name!r}; choose one of: {', '.join(LOSSES)}")
    return LOSSES[name]
