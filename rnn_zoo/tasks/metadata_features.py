"""What a zoo's metadata says about each member, as numbers: the bench's oracle reads these.

The pieces every family shares (the snapshot, the run's hyperparameters); a family encodes
its own task beside its properties. Every function maps metadata columns (numpy arrays, one row per member, every split of the
zoo together) to float features (n, f). None of them reads a weight. A column's scaling
is taken over all the rows it is given, so that one member's features do not depend on
which split it is in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import torch
from torch import Tensor

Columns = Mapping[str, np.ndarray]


def has_columns(columns: Columns, names: Sequence[str]) -> bool:
    """Whether every one of ``names`` is among ``columns``."""
    return all(name in columns for name in names)


def one_hot_classes(values: np.ndarray) -> Tensor:
    """One-hot of each row's rank among the distinct values: (n,) -> (n, distinct)."""
    ranks = np.unique(values, return_inverse=True)[1].reshape(-1)
    return torch.nn.functional.one_hot(torch.from_numpy(ranks.astype(np.int64))).float()


def standardized(values: np.ndarray) -> Tensor:
    """(n,) -> (n, 1), zero mean and unit spread; all zeros where the values are all equal."""
    column = torch.from_numpy(np.asarray(values, dtype=np.float64)).reshape(-1, 1)
    spread = column.std(0, unbiased=False) if len(column) > 1 else torch.zeros(1, dtype=torch.float64)
    centred = column - column.mean(0)
    return (centred / spread if float(spread) > 1e-12 else torch.zeros_like(column)).float()


def snapshot_features(steps: np.ndarray) -> Tensor:
    """The snapshot as its place in the schedule (one-hot) and its log step (standardized)."""
    steps = np.asarray(steps, dtype=np.float64)
    return torch.cat([one_hot_classes(steps), standardized(np.log1p(steps))], dim=1)


def hyperparameter_features(columns: Columns) -> list[Tensor]:
    """Per-run hyperparameters the zoo records: the log weight decay (standardized), if stored."""
    if "weight_decay" not in columns:
        return []
    decay = np.asarray(columns["weight_decay"], dtype=np.float64)
    return [standardized(np.log10(np.clip(decay, 1e-12, None)))]
