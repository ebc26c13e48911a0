"""Learning curves of a bench: validation emulation loss against step, and whether each
encoder's curve was still falling when its emulation budget ran out.

*Still falling* means: the drop from the second-to-last validation to the last one, a mean
over seeds, has a 95% bootstrap CI above 0 (every seed's noise included). With one seed no
noise is measured, and the curve is said to fall when its last value is below the previous.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from rnn_zoo.bench.statistics import bootstrap_ci

Curve = Sequence[Mapping[str, float]]


def trend(curves: Sequence[Curve]) -> dict[str, Any]:
    """Steps, mean validation loss per validation, the last drop's CI and the verdict of one row."""
    steps = [int(point["step"]) for point in curves[0]]
    losses = torch.tensor([[point["validation_loss"] for point in curve] for curve in curves])
    record: dict[str, Any] = {"steps": steps, "mean_validation_loss": losses.mean(0).tolist()}
    if len(steps) < 2:
        return {**record, "last_drop": None, "still_falling": None, "trend": "one validation: no trend"}
    drops = (losses[:, -2] - losses[:, -1]).tolist()
    found = bootstrap_ci(drops, generator=torch.Generator().manual_seed(0))
    if len(drops) == 1:
        falling = drops[0] > 0
        verdict = "falling (one seed: noise not measured)" if falling else "not falling (one seed)"
    else:
        falling = found.low > 0
        verdict = "still falling" if falling else "rising" if found.high < 0 else "flat within noise"
    return {**record, "last_drop": found.to_dict(), "still_falling": falling, "trend": verdict}


def curve_trends(runs: Mapping[str, Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """:func:`trend` of every encoder and reference, from results.json's runs."""
    return {
        name: trend([record["emulation"]["curve"] for record in seeds.values()])
        for name, seeds in runs.items()
        if seeds
    }


def curve_lines(trends: Mapping[str, Mapping[str, Any]]) -> list[str]:
    """The report's learning-curve table: the last validation and whether the curve still fell."""
    if not trends:
        return []
    lines = [
        "## Learning curves",
        "",
        "Validation emulation loss at every validation: `learning_curves` in results.json, "
        "plots/training-curves.png. *still falling*: the drop from the previous validation to the "
        "last one, mean over seeds, has a 95% CI above 0.",
        "",
        "| encoder | validations | last step | last validation loss | last drop, mean [95% CI] | at the end |",
        "|---|---|---|---|---|---|",
    ]
    for name, found in trends.items():
        drop = found["last_drop"]
        shown = f"{drop['mean']:.4f} [{drop['low']:.4f}, {drop['high']:.4f}]" if drop else "-"
        last = found["mean_validation_loss"][-1]
        lines.append(
            f"| {name} | {len(found['steps'])} | {found['steps'][-1]} | {last:.4f} | {shown} | {found['trend']} |"
        )
    return lines
