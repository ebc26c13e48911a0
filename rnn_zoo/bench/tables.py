"""The benchmark's summaries and tables: means with bootstrap CIs over seeds, as markdown."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from rnn_zoo.bench.properties import get_property
from rnn_zoo.bench.readings import score_cell, score_notes
from rnn_zoo.bench.statistics import bootstrap_ci
from rnn_zoo.tasks.registry import family_names, get_family

MODES = ("pre-trained", "supervised")
SCORED = ("validation", "ood")


def summarize(runs: Mapping[str, Mapping[str, Any]], seed: int = 0) -> dict[str, Any]:
    """Mean and 95% bootstrap CI over seeds of every number that a seed reports."""
    generator = torch.Generator().manual_seed(seed)
    summary: dict[str, Any] = {}
    for encoder, seeds in runs.items():
        records = list(seeds.values())
        losses = [record["emulation"]["best_validation_loss"] for record in records]
        summary[encoder] = {
            "emulation_loss": interval(losses, generator),
            "downstream": downstream_intervals([record["downstream"] for record in records], generator),
        }
        cloned = [record.get("cloned") or {} for record in records]
        for key in ("pearson_r", "agreement"):
            found = interval([entry.get(key) for entry in cloned], generator)
            if found is not None:
                summary[encoder][f"cloned_{key}"] = found
    return summary


def downstream_intervals(records: Sequence[Mapping[str, Any]], generator: torch.Generator) -> dict[str, Any]:
    """Interval of every downstream score (property -> mode -> split -> metric) over the seeds' records."""
    downstream: dict[str, Any] = {}
    for prop, modes in records[0].items():
        for mode, splits in modes.items():
            for split, metrics in splits.items():
                for metric in metrics:
                    values = [record[prop][mode][split][metric] for record in records]
                    found = interval(values, generator)
                    downstream.setdefault(prop, {}).setdefault(mode, {}).setdefault(split, {})[metric] = found
    return downstream


def interval(values: Sequence[float | None], generator: torch.Generator) -> dict[str, float] | None:
    """Bootstrap CI over the seeds where the number is defined (finite); None where it never is."""
    defined = [value for value in values if value is not None and math.isfinite(value)]
    return bootstrap_ci(defined, generator=generator).to_dict() if defined else None


def cell(found: Mapping[str, float] | None) -> str:
    """An interval as a table cell, ``mean [low, high]``; ``-`` where there is none."""
    if found is None:
        return "-"
    return f"{found['mean']:.3f} [{found['low']:.3f}, {found['high']:.3f}]"


def reference_emulation_loss(family: str | None) -> Mapping[str, float]:
    """The paper's emulation loss per encoder for a zoo of ``family`` (none for other zoos)."""
    return get_family(family).reference_emulation_loss if family in family_names() else {}


def emulation_table(results: Mapping[str, Any]) -> str:
    """Validation emulation loss per encoder, ours beside the paper's Table 2."""
    paper = reference_emulation_loss(results["zoo"].get("family"))
    lines = [
        "| encoder | validation emulation loss (ours, mean [95% CI]) | paper |",
        "|---|---|---|",
    ]
    for encoder, summary in results["summary"].items():
        theirs = f"{paper[encoder]:.3f}" if encoder in paper else "-"
        lines.append(f"| {encoder} | {cell(summary['emulation_loss'])} | {theirs} |")
    return "\n".join(lines)


def property_head(prop: str, note: str, header: Sequence[str]) -> list[str]:
    """A property table's title (its primary metric, which way is better, ``note``) and header rows."""
    better = "higher" if get_property(prop).higher_is_better else "lower"
    return [
        f"**{prop}** — {get_property(prop).primary} ({better} is better){note}, mean [95% CI] over seeds",
        "",
        "| encoder | " + " | ".join(header) + " |",
        "|---|" + "---|" * len(header),
    ]


def downstream_table(results: Mapping[str, Any], prop: str) -> str:
    """One property's primary metric per encoder x {validation, OOD} x {pre-trained, supervised}
    (pre-trained only when the supervised baselines were not run)."""
    metric = get_property(prop).primary
    modes_run = MODES if results["config"].get("supervised", True) else MODES[:1]
    lines = property_head(prop, "", [f"{split} {mode}" for split in SCORED for mode in modes_run])
    for encoder, summary in results["summary"].items():
        modes = summary["downstream"].get(prop, {})
        cells = [
            score_cell(results, encoder, prop, mode, split)
            or cell(modes.get(mode, {}).get(split, {}).get(metric))
            for split in SCORED
            for mode in modes_run
        ]
        lines.append(f"| {encoder} | " + " | ".join(cells) + " |")
    return "\n".join(lines + score_notes(results, prop))


def cloned_section(results: Mapping[str, Any]) -> list[str]:
    """Lines of the cloned-performance table, or none when no clone was evaluated."""
    rows = []
    for encoder, summary in results["summary"].items():
        for key, label in (
            ("cloned_pearson_r", "correlation with the member's performance"),
            ("cloned_agreement", "last-step agreement with the member"),
        ):
            if key in summary:
                rows.append(f"| {encoder} | {label} | {cell(summary[key])} |")
    if not rows:
        return []
    header = ["", "## Cloned performance (emulator conditioned on a validation member's embedding)", ""]
    return header + ["| encoder | measure | mean [95% CI] |", "|---|---|---|", *rows]
