"""The benchmark's results: summaries with bootstrap CIs, results.json, report.md and plots."""

from __future__ import annotations

import math
import platform
from collections.abc import Mapping, Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rnn_zoo.bench.output import file_stem
from rnn_zoo.bench.pretraining import VALIDATION_SEED, validation_subset
from rnn_zoo.bench.properties import get_property
from rnn_zoo.bench.readings import curve_section, first_lines, ranking_section, score_cell, score_notes
from rnn_zoo.bench.statistics import bootstrap_ci
from rnn_zoo.zoo.schema import DEFAULT_CONFIG
from rnn_zoo.zoo.shards import library_versions, sha256, write_json, write_text

FIDELITY_DOC = "docs/fidelity.md"  # the differences from the authors' code, in the repository

# Paper, Table 2: validation emulation loss (total variation), formal languages / MNIST.
PAPER_EMULATION_LOSS: dict[str, dict[str, float]] = {
    "formal-languages": {
        "layer-stats": 0.051,
        "flat": 0.045,
        "param-transformer": 0.043,
        "dws": 0.046,
        "probing-noninteractive": 0.023,
        "probing": 0.015,
    },
    "mnist": {
        "layer-stats": 0.039,
        "flat": 0.024,
        "param-transformer": 0.067,
        "dws": 0.024,
        "probing-noninteractive": 0.017,
        "probing": 0.017,
    },
}
MODES = ("pre-trained", "supervised")
SCORED = ("validation", "ood")


def zoo_fingerprint(root: Path) -> str:
    """sha256 of the zoo's weights/index.json, which lists the sha256 of every shard."""
    return sha256(Path(root) / "weights" / "index.json")


def zoo_family(table: Any) -> str | None:
    """Which of the paper's zoos a metadata table looks like, for its Table 2 column."""
    from rnn_zoo.bench.properties import column_shapes

    shape = column_shapes(table).get("task")
    return {(4,): "formal-languages", (): "mnist"}.get(shape) if shape is not None else None


def versions() -> dict[str, str]:
    return {**library_versions(), "python": platform.python_version()}


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


def emulation_table(results: Mapping[str, Any]) -> str:
    """Validation emulation loss per encoder, ours beside the paper's Table 2."""
    paper = PAPER_EMULATION_LOSS.get(results["zoo"].get("family") or "", {})
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


def render_report(results: Mapping[str, Any]) -> str:
    """report.md: what was run, the emulation table, one downstream table per property, plots."""
    zoo = results["zoo"]
    config = results["config"]
    parts = [
        "# rnn-zoo benchmark",
        "",
        f"Zoo `{zoo['name']}` ({zoo['root']}), config `{zoo.get('config', DEFAULT_CONFIG)}`, fingerprint `{zoo['fingerprint'][:16]}`; "
        f"{config['seeds']} seed(s), {config['emulation']['steps']} emulation steps "
        f"({config['emulation']['loss']}), device {config['device']}; rnn-zoo {results['versions']['rnn-zoo']}, "
        f"torch {results['versions']['torch']}.",
        "",
        *(line for sentence in first_lines(results) for line in (sentence, "")),
        f"Where this benchmark still differs from the authors' code, and the expected effect of each "
        f"difference: [{FIDELITY_DOC}]({FIDELITY_DOC}) in the rnn-zoo repository.",
        "",
        "## Emulation (validation loss, lower is better)",
        "",
        emulation_table(results),
        *ranking_section(results),
        *curve_section(results),
        "",
        "## Downstream properties",
        "",
        "Predictors fit on train members plus half of the OOD tasks; scored on validation members "
        "(in distribution) and on the other OOD tasks. *pre-trained*: MLP on frozen embeddings"
        + (
            "; *supervised*: the same encoder trained end to end on the property."
            if config.get("supervised", True)
            else " (the supervised baselines were not run in this config)."
        ),
    ]
    for prop in results["properties"]:
        parts += ["", downstream_table(results, prop)]
    parts += cloned_section(results)
    from rnn_zoo.bench.transfer_report import transfer_section  # it builds on this module's tables

    parts += transfer_section(results)
    if results.get("plots"):
        parts += ["", "## Plots", ""] + [f"![{Path(p).stem}]({p})" for p in results["plots"]]
    return "\n".join(parts) + "\n"


def write_report(out: str | Path, results: Mapping[str, Any]) -> None:
    """Write results.json and report.md into ``out`` (atomically)."""
    out = Path(out)
    write_json(out / "results.json", results)
    write_text(out / "report.md", render_report(results))


def write_plots(
    out: Path, results: Mapping[str, Any], embeddings: Mapping[str, Tensor], table: Any
) -> list[str]:
    """PCA of each encoder's embeddings (seed 0) and the training curves; relative PNG paths."""
    from rnn_zoo.bench.plots import plot_cloned, plot_embedding_pca, plot_training_curves, task_colours
    from rnn_zoo.bench.properties import column_values

    colours = {}
    if "task" in table.column_names:
        colours["task"] = task_colours(column_values(table, "task"))
    for column in ("performance", "eval_accuracy", "step"):
        if column in table.column_names:
            colours[column] = column_values(table, column).astype(float)
            break
    written = []
    for encoder, embedded in embeddings.items():
        name = f"plots/pca-{file_stem(encoder)}.png"
        plot_embedding_pca(out / name, embedded, colours, encoder)
        written.append(name)
    curves = {
        name: [seed["emulation"]["curve"] for seed in seeds.values()]
        for name, seeds in results["runs"].items()
    }
    plot_training_curves(
        out / "plots/training-curves.png", curves, dashed=list(results.get("references") or ())
    )
    written.append("plots/training-curves.png")
    pairs = {
        name: (np.array(cloned["original"]), np.array(cloned["cloned"]))
        for name, seeds in results["runs"].items()
        if "original" in (cloned := next(iter(seeds.values())).get("cloned") or {})
    }
    if pairs:
        plot_cloned(out / "plots/cloned-performance.png", pairs)
        written.append("plots/cloned-performance.png")
    return written


def config_record(config: Any) -> dict[str, Any]:
    """The resolved config as JSON-ready data."""
    record = asdict(config)
    record["properties"] = list(config.properties) if config.properties else None
    return record


def emulation_validation(data: Any, config: Any) -> dict[str, Any]:
    """Which stored sequences of which validation members every emulation validation scored:
    row m of ``sequences`` lists the sequence indices of validation member m (in split order)."""
    subset = validation_subset(data.splits["validation"], config.emulation)
    return {"split": "validation", "seed": VALIDATION_SEED, "sequences": subset.tolist()}


def bench_results(data: Any, config: Any, encoders: list[str], runs: dict[str, Any]) -> dict[str, Any]:
    """Every number of every seed, their summaries, the config, versions and the zoo's identity.

    ``data`` is the benchmark's BenchData, ``config`` its BenchConfig.
    """
    from rnn_zoo.bench.transfer_report import transfer_results

    root = data.zoo.root
    return {
        "zoo": {
            "name": data.zoo.name,
            "root": str(root),
            "config": data.zoo.config_name,
            "fingerprint": zoo_fingerprint(root),
            "family": zoo_family(data.rows.table),
            "rows": {split: len(members) for split, members in data.splits.items()},
            "scored_rows": {split: len(rows) for split, rows in data.rows.rows.items()},
        },
        "versions": versions(),
        "config": config_record(config),
        "encoders": encoders,
        "properties": list(data.properties),
        "seeds": list(range(config.seeds)),
        "emulation_validation": emulation_validation(data, config),
        "runs": runs,
        "summary": summarize(runs),
        **transfer_results(runs),
    }
