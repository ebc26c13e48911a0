"""Repeatable module initialisation without touching the global random state."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import torch


@contextmanager
def seeded_init(seed: int) -> Iterator[None]:
    """Within the block, torch's default generator starts from ``seed``; outside, nothing changes.

    Module constructors draw their initial weights from the default generator, so this is
    how a seed decides them; the caller's random state is restored afterwards.
    """
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        yield
