"""The headroom of a bench: how far below the floor (constant) the ceiling (oracle) gets, and
each encoder's share of that distance -- with CIs over seeds, and whether the seeds' noise
leaves room to rank anything at all.

Every reference and encoder runs with the same seeds, so the numbers are paired by seed: the
bootstrap resamples seeds, and every row of a resample uses the same seeds.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import Tensor

from rnn_zoo.bench.statistics import Interval, paired_bootstrap_ci


def seed_losses(runs: Mapping[str, Mapping[str, Any]], name: str, seeds: Sequence[str]) -> list[float]:
    """Best validation emulation loss of ``name`` at each of ``seeds`` (results.json seed keys)."""
    return [float(runs[name][seed]["emulation"]["best_validation_loss"]) for seed in seeds]


def difference(means: Tensor) -> Tensor:
    """Column 0 minus column 1: constant minus oracle (or minus an encoder)."""
    return means[:, 0] - means[:, 1]


def share(means: Tensor) -> Tensor:
    """(constant - encoder) / (constant - oracle) of columns (constant, oracle, encoder); nan
    where the headroom is not positive."""
    headroom = means[:, 0] - means[:, 1]
    ratio = (means[:, 0] - means[:, 2]) / headroom
    return torch.where(headroom > 0, ratio, torch.full_like(ratio, float("nan")))


def half_width(found: Interval) -> float:
    return (found.high - found.low) / 2


def within_noise(
    constant: Interval, oracle: Interval, headroom: Interval, encoders: Mapping[str, Interval], seeds: int
) -> str | None:
    """Why the headroom is within the seeds' noise, or None when it separates floor and ceiling.

    Within noise: fewer than two seeds (no noise is measured), the headroom's CI reaches 0,
    the constant's and the oracle's CIs overlap, or the headroom is smaller than an
    encoder's CI half-width (that encoder's own noise spans it).
    """
    if seeds < 2:
        return "one seed measures no noise"
    if headroom.low <= 0:
        return "the headroom's 95% CI over seeds reaches 0"
    if constant.low <= oracle.high:
        return "the constant's and the oracle's 95% CIs overlap"
    widest = max(encoders.items(), key=lambda item: half_width(item[1]), default=None)
    if widest is not None and headroom.mean < half_width(widest[1]):
        return f"it is smaller than the half-width of {widest[0]}'s 95% CI ({half_width(widest[1]):.4f})"
    return None


def headroom_record(runs: Mapping[str, Mapping[str, Any]], encoders: Sequence[str]) -> dict[str, Any]:
    """Floor, ceiling, headroom, every encoder's share and the noise verdict, from results' runs."""
    seeds = sorted(set(runs["constant"]) & set(runs["oracle"]), key=int)
    constant, oracle = seed_losses(runs, "constant", seeds), seed_losses(runs, "oracle", seeds)
    single = {
        name: paired_bootstrap_ci([seed_losses(runs, name, seeds)], lambda means: means[:, 0])
        for name in ("constant", "oracle", *encoders)
    }
    headroom = paired_bootstrap_ci([constant, oracle], difference)
    shares = {
        name: paired_bootstrap_ci([constant, oracle, seed_losses(runs, name, seeds)], share)
        for name in encoders
    }
    floor, ceiling = single["constant"], single["oracle"]
    if headroom is None or floor is None or ceiling is None:
        noise: str | None = "a reference's validation loss is not finite"
    else:
        measured = {name: single[name] for name in encoders if single[name] is not None}
        noise = within_noise(floor, ceiling, headroom, measured, len(seeds))
    return {
        "seeds": len(seeds),
        "constant": floor.to_dict() if floor else None,
        "oracle": ceiling.to_dict() if ceiling else None,
        "headroom": headroom.to_dict() if headroom else None,
        "shares": {name: found.to_dict() if found else None for name, found in shares.items()},
        "within_noise": noise is not None,
        "noise": noise,
    }


def shown(found: Mapping[str, float] | None, digits: int = 4) -> str:
    """An interval as ``mean [low, high]``, ``n/a`` where there is none."""
    if found is None:
        return "n/a"
    return f"{found['mean']:.{digits}f} [{found['low']:.{digits}f}, {found['high']:.{digits}f}]"


def headroom_sentence(record: Mapping[str, Any], steps: int) -> str:
    """The report's first word on what the run can tell: a ranking, or why there is none."""
    budget = f"{steps:,} emulation steps, {record['seeds']} seed(s)"
    gap = shown(record["headroom"])
    if record["within_noise"]:
        return (
            f"**This run cannot rank the encoders**: at its budget ({budget}) the headroom, constant "
            f"minus oracle validation loss, is {gap}, within the seeds' noise ({record['noise']}); "
            "more emulation steps or seeds would give it room."
        )
    return (
        f"Headroom at this budget ({budget}): constant minus oracle validation loss = {gap} "
        "(mean [95% CI] over seeds); the encoders are ranked by their share of it, "
        "(constant - encoder) / (constant - oracle)."
    )


def ranking_lines(record: Mapping[str, Any], summary: Mapping[str, Any]) -> list[str]:
    """The encoders ranked by share of the headroom (none when the headroom is within noise)."""
    if record["within_noise"]:
        return []
    shares = record["shares"]
    order = sorted(shares, key=lambda name: -(shares[name] or {"mean": float("-inf")})["mean"])
    lines = ["| rank | encoder | validation loss | share of the headroom |", "|---|---|---|---|"]
    for rank, name in enumerate(order, 1):
        loss = shown(summary[name]["emulation_loss"])
        lines.append(f"| {rank} | {name} | {loss} | {shown(shares[name], 2)} |")
    return lines
