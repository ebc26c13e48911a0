"""Counter-based random numbers: a pure function of (seed, counters), vectorised in torch.

A population member's data stream must not depend on which other members share its
population, and must be cheap to draw for all members at once on any device. Instead of one
``torch.Generator`` per member, every random number is a hash of the member's seed and the
counters that name it (stream, training step, sequence, position), computed with int64
tensor ops (the splitmix64 finaliser). The same seed gives the same numbers on CPU and GPU
and in a population of any size.
"""

from __future__ import annotations

import torch
from torch import Tensor

_GOLDEN = -7046029254386353131  # 0x9E3779B97F4A7C15 as a signed int64
_MIX_1 = -4658895280553007687  # 0xBF58476D1CE4E5B9
_MIX_2 = -7723592293110705685  # 0x94D049BB133111EB


def _shift_right(x: Tensor, bits: int) -> Tensor:
    """Logical right shift of int64 (torch's >> is arithmetic)."""
    return (x >> bits) & ((1 << (64 - bits)) - 1)


def mix(x: Tensor) -> Tensor:
    """The splitmix64 finaliser on int64 tensors (multiplication wraps like uint64)."""
    x = (x ^ _shift_right(x, 30)) * _MIX_1
    x = (x ^ _shift_right(x, 27)) * _MIX_2
    return x ^ _shift_right(x, 31)


def hash_counters(seed: Tensor | int, *counters: Tensor | int) -> Tensor:
    """A 64-bit hash of a seed and counters; tensors broadcast against each other."""
    key = torch.as_tensor(seed, dtype=torch.int64)
    for counter in counters:  # an int stays a scalar operand: nothing is copied to a GPU
        key = mix(key * _GOLDEN + counter)
    return mix(key)


def uniform(seed: Tensor | int, *counters: Tensor | int) -> Tensor:
    """Float32 numbers in [0, 1) on a 2**-24 grid, one per broadcast element of the counters."""
    return _shift_right(hash_counters(seed, *counters), 40).to(torch.float32) * 2.0**-24


def integers(low: Tensor, high: Tensor, seed: Tensor | int, *counters: Tensor | int) -> Tensor:
    """Integers uniform in [low, high) (low < high, high - low <= 2**31), broadcast like ``uniform``."""
    bits = _shift_right(hash_counters(seed, *counters), 33)  # 31 random bits
    return low + ((bits * (high - low)) >> 31)


def seed_of(seed: int, *counters: int) -> int:
    """A non-negative 62-bit seed derived from a seed and counters (for torch.Generator)."""
    return int(_shift_right(hash_counters(seed, *counters), 2))
