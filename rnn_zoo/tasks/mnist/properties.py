"""What the bench reads from a sequential-MNIST member: its properties and the paper's numbers."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rnn_zoo.tasks import metadata_features as features
from rnn_zoo.tasks.properties import TRAINING_STEP, Property, scalar_property


def angle_metrics(predicted: Tensor, target: Tensor) -> dict[str, float]:
    """Mean absolute angular error in degrees between (sin, cos) pairs."""
    degrees = [torch.rad2deg(torch.atan2(pair[:, 0], pair[:, 1])) for pair in (predicted, target)]
    error = (degrees[0] - degrees[1]).abs() % 360
    return {"angular_error_deg": float(torch.minimum(error, 360 - error).mean())}


def angle_targets(values: np.ndarray) -> Tensor:
    """Angles in degrees -> (sin, cos), (n, 2)."""
    radians = torch.from_numpy(np.array(values, dtype=np.float64)) * (math.pi / 180)
    return torch.stack([radians.sin(), radians.cos()], dim=1).float()


ROTATION = Property(
    "rotation",
    "task",
    (),
    "rotation angle of the member's MNIST task (degrees)",
    angle_targets,
    angle_metrics,
    "angular_error_deg",
    False,
)
PROPERTIES = (
    ROTATION,
    scalar_property("accuracy", "eval_accuracy", "accuracy on the member's evaluation images"),
    TRAINING_STEP,
    scalar_property("generalization-gap", "generalization_gap", "eval loss minus train loss"),
)

# Paper, Table 2: validation emulation loss (total variation) per encoder, sequential MNIST.
PAPER_EMULATION_LOSS = {
    "layer-stats": 0.039,
    "flat": 0.024,
    "param-transformer": 0.067,
    "dws": 0.024,
    "probing-noninteractive": 0.017,
    "probing": 0.017,
}


def oracle_features(columns: Mapping[str, Any]) -> Tensor | None:
    """What the metadata says about each member (the bench's oracle): its rotation angle,
    its snapshot and its weight decay, (n, f); None without task and step columns."""
    if not features.has_columns(columns, ("task", "step")) or np.ndim(columns["task"]) != 1:
        return None
    radians = torch.from_numpy(np.asarray(columns["task"], dtype=np.float64)).deg2rad()
    angle = torch.stack([radians.sin(), radians.cos()], dim=1).float()  # (n, 2)
    snapshot = features.snapshot_features(columns["step"])
    return torch.cat([angle, snapshot, *features.hyperparameter_features(columns)], dim=1)
