"""Member properties that downstream predictors learn from embeddings, in one registry.

A property reads one metadata column and turns it into targets: class ids (n, k) for
classification (k heads of ``classes`` classes each) or real values (n, k) for regression.
Its metrics compare predictions (in target space: class ids or real values) with targets.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

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


def task_metrics(predicted: Tensor, target: Tensor) -> dict[str, float]:
    """Exact-task accuracy (all three occurrence differences right) and per-difference accuracy."""
    scores = accuracy_metrics(predicted, target)
    return {"exact_match": scores["accuracy"], "difference_accuracy": scores["head_accuracy"]}


def angle_metrics(predicted: Tensor, target: Tensor) -> dict[str, float]:
    """Mean absolute angular error in degrees between (sin, cos) pairs."""
    degrees = [torch.rad2deg(torch.atan2(pair[:, 0], pair[:, 1])) for pair in (predicted, target)]
    error = (degrees[0] - degrees[1]).abs() % 360
    return {"angular_error_deg": float(torch.minimum(error, 360 - error).mean())}


def task_difference_targets(values: np.ndarray) -> Tensor:
    """[0, m_b, m_c, m_d] with m in {-3..2} -> class ids (n, 3) in 0..5."""
    return torch.from_numpy(np.asarray(values[:, 1:], dtype=np.int64) + 3)


def angle_targets(values: np.ndarray) -> Tensor:
    """Angles in degrees -> (sin, cos), (n, 2)."""
    radians = torch.from_numpy(np.array(values, dtype=np.float64)) * (math.pi / 180)
    return torch.stack([radians.sin(), radians.cos()], dim=1).float()


def scalar_targets(values: np.ndarray) -> Tensor:
    return torch.from_numpy(np.array(values, dtype=np.float32)).reshape(-1, 1)


def rank_targets(values: np.ndarray) -> Tensor:
    """Each value's rank among the distinct values (the snapshot schedule), as class ids (n, 1)."""
    return torch.from_numpy(np.unique(values, return_inverse=True)[1].reshape(-1, 1).astype(np.int64))


def _scalar(name: str, column: str, description: str) -> Property:
    return Property(name, column, (), description, scalar_targets, regression_metrics, "r2", True)


PROPERTIES: dict[str, Property] = {
    prop.name: prop
    for prop in (
        Property(
            "task",
            "task",
            (4,),
            "formal-language task: the three occurrence differences",
            task_difference_targets,
            task_metrics,
            "exact_match",
            True,
            classification=True,
        ),
        _scalar("performance", "performance", "fraction of sampled strings in the language"),
        Property(
            "rotation",
            "task",
            (),
            "rotation angle of the member's MNIST task (degrees)",
            angle_targets,
            angle_metrics,
            "angular_error_deg",
            False,
        ),
        _scalar("accuracy", "eval_accuracy", "accuracy on the member's evaluation images"),
        Property(
            "training-step",
            "step",
            (),
            "snapshot step, one class per step of the schedule",
            rank_targets,
            accuracy_metrics,
            "accuracy",
            True,
            classification=True,
        ),
        _scalar("generalization-gap", "generalization_gap", "eval loss minus train loss"),
    )
}


def get_property(name: str) -> Property:
    """The property registered under ``name``."""
    if name not in PROPERTIES:
        raise ZooError(f"unknown property {name!r}; choose one of: {', '.join(PROPERTIES)}")
    return PROPERTIES[name]


def column_shapes(table: Any) -> dict[str, tuple[int, ...]]:
    """Per-row shapes of a pyarrow table's columns: () for scalars, (k,) for fixed-size lists."""
    import pyarrow as pa

    shapes = {}
    for field in table.schema:
        kind = field.type
        shapes[field.name] = (kind.list_size,) if pa.types.is_fixed_size_list(kind) else ()
    return shapes


def available_properties(table: Any) -> tuple[str, ...]:
    """Names of the registered properties that a metadata table can provide."""
    shapes = column_shapes(table)
    return tuple(name for name, prop in PROPERTIES.items() if shapes.get(prop.column) == prop.shape)


def column_values(table: Any, name: str) -> np.ndarray:
    """One metadata column as a numpy array (n,) or (n, k), without a row loop."""
    import pyarrow as pa

    array = table.column(name).combine_chunks()
    if pa.types.is_fixed_size_list(array.type):
        return array.flatten().to_numpy(zero_copy_only=False).reshape(len(array), array.type.list_size)
    return array.to_numpy(zero_copy_only=False)
