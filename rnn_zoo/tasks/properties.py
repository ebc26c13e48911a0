"""Member properties that downstream predictors learn from embeddings: what a task family declares.

A property reads one metadata column and turns it into targets: class ids (n, k) for
classification (k heads of ``classes`` classes each) or real values (n, k) for regression.
Its metrics compare predictions (in target space: class ids or real values) with targets.
Each task family lists the properties its zoos have (``TaskFamily.properties``); the ones
here are read from columns every family may have.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnn_zoo.errors import ZooError

Metrics = Callable[[Tensor, Tensor], dict[str, float]]


@dataclass(frozen=True)
class Property:
    """What to predict from an embedding, read from metadata ``column`` of per-row ``shape``."""

    name: str
    column: str
    shape: tuple[int, ...]
    description: str
    targets: Callable[[np.ndarray], Tensor]
    metrics: Metrics
    primary: str  # the metric the report leads with
    higher_is_better: bool
    classification: bool = False

    def check(self, columns: Mapping[str, tuple[int, ...]], zoo: str) -> None:
        """Raise ZooError unless ``columns`` (name -> per-row shape) has this property's column."""
        if columns.get(self.column) != self.shape:
            have = ", ".join(f"{name}{list(shape) if shape else ''}" for name, shape in columns.items())
            raise ZooError(
                f"zoo {zoo} has no property {self.name!r} (it needs column {self.column!r} of shape "
                f"{list(self.shape)}); its columns are: {have}"
            )


def regression_metrics(predicted: Tensor, target: Tensor) -> dict[str, float | None]:
    """R^2 (1 - SSE / SST about the evaluated rows' mean) and mean absolute error.

    R^2 is None (undefined) when the evaluated targets are all equal, e.g. a split whose
    members all have performance 0.
    """
    sse = (predicted - target).pow(2).sum()
    sst = (target - target.mean(0)).pow(2).sum()
    r2 = float(1 - sse / sst) if float(sst) > 1e-12 else None
    return {"r2": r2, "mae": float((predicted - target).abs().mean())}


def accuracy_metrics(predicted: Tensor, target: Tensor) -> dict[str, float]:
    """Exact-match accuracy over all heads, and mean accuracy per head."""
    correct = predicted == target  # (n, k)
    return {"accuracy": float(correct.all(1).float().mean()), "head_accuracy": float(correct.float().mean())}


def scalar_targets(values: np.ndarray) -> Tensor:
    """Real values (n,) -> regression targets (n, 1)."""
    return torch.from_numpy(np.array(values, dtype=np.float32)).reshape(-1, 1)


def rank_targets(values: np.ndarray) -> Tensor:
    """Each value's rank among the distinct values (the snapshot schedule), as class ids (n, 1)."""
    return torch.from_numpy(np.unique(values, return_inverse=True)[1].reshape(-1, 1).astype(np.int64))


def scalar_property(name: str, column: str, description: str) -> Property:
    """A real-valued property read from a scalar column, scored by R^2."""
    return Property(name, column, (), description, scalar_targets, regression_metrics, "r2", True)


TRAINING_STEP = Property(
    "training-step",
    "step",
    (),
    "snapshot step, one class per step of the schedule",
    rank_targets,
    accuracy_metrics,
    "accuracy",
    True,
    classification=True,
)
GENERIC = (TRAINING_STEP,)  # what every zoo has: a zoo.json that names no family is benched on these
