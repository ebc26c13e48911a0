"""Confidence intervals over seeds: the percentile bootstrap of the mean, alone or paired by seed."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

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
    means = _resampled_means(sample.unsqueeze(1), resamples, generator)[:, 0]
    low, high = _bounds(means, confidence)
    return Interval(float(sample.mean()), low, high)


def paired_bootstrap_ci(
    columns: Sequence[Sequence[float]],
    statistic: Callable[[Tensor], Tensor],
    *,
    confidence: float = 0.95,
    resamples: int = 10_000,
    seed: int = 0,
) -> Interval | None:
    """Percentile bootstrap CI of ``statistic`` (means (r, k) -> (r,)) over seeds resampled
    together: ``columns[k]`` holds row k's value per seed, the seeds in the same order in every row.

    None where the statistic of the plain means is not finite; resamples where it is not
    finite are left out of the bounds.
    """
    values = torch.tensor([list(column) for column in columns], dtype=torch.float64).T  # (s, k)
    resampled = statistic(_resampled_means(values, resamples, torch.Generator().manual_seed(seed)))  # (r,)
    centre = float(statistic(values.mean(0, keepdim=True))[0])
    finite = resampled[resampled.isfinite()]
    if not torch.isfinite(torch.tensor(centre)) or not len(finite):
        return None
    low, high = _bounds(finite, confidence)
    return Interval(centre, low, high)


def _resampled_means(values: Tensor, resamples: int, generator: torch.Generator) -> Tensor:
    """Means over seeds of ``resamples`` resamples of the rows (seeds) of ``values`` (s, k): (r, k)."""
    drawn = torch.randint(len(values), (resamples, len(values)), generator=generator)
    return values[drawn].mean(1)


def _bounds(samples: Tensor, confidence: float) -> tuple[float, float]:
    """The percentile bounds of a ``confidence`` interval of ``samples`` (r,)."""
    tail = (1 - confidence) / 2
    low, high = torch.quantile(samples, torch.tensor([tail, 1 - tail], dtype=torch.float64)).tolist()
    return low, high


def pearson(first: Sequence[float], second: Sequence[float]) -> float:
    """Pearson correlation of two equally long samples; nan when either is constant."""
    a = torch.tensor([float(v) for v in first], dtype=torch.float64)
    b = torch.tensor([float(v) for v in second], dtype=torch.float64)
    if len(a) != len(b) or len(a) < 2:
        raise ZooError("a correlation needs two samples of the same length, at least 2")
    a, b = a - a.mean(), b - b.mean()
    denominator = (a.pow(2).sum() * b.pow(2).sum()).sqrt()
    return float(a @ b / denominator) if denominator > 0 else float("nan")
