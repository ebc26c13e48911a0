"""Confidence intervals over seeds: the percentile bootstrap of the mean."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch

from rnn_zoo.errors import ZooError


@dataclass(frozen=True)
class Interval:
    """A mean over seeds with the bounds of its confidence interval."""

    mean: float
    low: float
    high: float

    def to_dict(self) -> dict[str, float]:
        return {"mean": self.mean, "low": self.low, "high": self.high}


def bootstrap_ci(
    values: Sequence[float],
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    generator: torch.Generator | None = None,
) -> Interval:
    """Percentile bootstrap CI of the mean: resample ``values`` with replacement ``resamples`` times.

    One value gives a zero-width interval at that value.
    """
    if not len(values):
        raise ZooError("a confidence interval needs at least one value")
    if not 0 < confidence < 1:
        raise ZooError(f"confidence must lie strictly between 0 and 1, got {confidence}")
    sample = torch.tensor([float(v) for v in values], dtype=torch.float64)
    generator = generator or torch.Generator().manual_seed(0)
    drawn = torch.randint(len(sample), (resamples, len(sample)), generator=generator)
    means = sample[drawn].mean(1)
    tail = (1 - confidence) / 2
    low, high = torch.quantile(means, torch.tensor([tail, 1 - tail], dtype=torch.float64)).tolist()
    return Interval(float(sample.mean()), low, high)


def pearson(first: Sequence[float], second: Sequence[float]) -> float:
    """Pearson correlation of two equally long samples; nan when either is constant."""
    a = torch.tensor([float(v) for v in first], dtype=torch.float64)
    b = torch.tensor([float(v) for v in second], dtype=torch.float64)
    if len(a) != len(b) or len(a) < 2:
        raise ZooError("a correlation needs two samples of the same length, at least 2")
    a, b = a - a.mean(), b - b.mean()
    denominator = (a.pow(2).sum() * b.pow(2).sum()).sqrt()
    return float(a @ b / denominator) if denominator > 0 else float("nan")
