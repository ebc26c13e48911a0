"""The benchmark's results: summaries with bootstrap CIs, results.json, report.md and plots."""

from __future__ import annotations

import platform
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from torch import Tensor

from rnn_zoo.bench.config import config_record
from rnn_zoo.bench.output import file_stem
from rnn_zoo.bench.pretraining import VALIDATION_SEED, validation_subset
from rnn_zoo.bench.readings import curve_section, first_lines, ranking_section
from rnn_zoo.bench.tables import cloned_section, downstream_table, emulation_table, summarize
from rnn_zoo.bench.transfer_report import transfer_results, transfer_section
from rnn_zoo.files import library_versions, sha256, write_json, write_text
from rnn_zoo.zoo.schema import DEFAULT_CONFIG

FIDELITY_DOC = "docs/fidelity.md"  # the differences from the authors' code, in the repository


def zoo_fingerprint(root: Path) -> str:
    """sha256 of the zoo's weights/index.json, which lists the sha256 of every shard."""
    return sha256(Path(root) / "weights" / "index.json")


def versions() -> dict[str, str]:
    return {**library_versions(), "python": platform.python_version()}


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
    from rnn_zoo.bench.plots import (
        plot_cloned,
        plot_embedding_pca,
        plot_training_curves,
        task_colours,
        validation_curves,
    )
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
    plot_training_curves(
        out / "plots/training-curves.png",
        validation_curves(results),
        dashed=list(results.get("references") or ()),
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


def emulation_validation(data: Any, config: Any) -> dict[str, Any]:
    """Which stored sequences of which validation members every emulation validation scored:
    row m of ``sequences`` lists the sequence indices of validation member m (in split order)."""
    subset = validation_subset(data.splits["validation"], config.emulation)
    return {"split": "validation", "seed": VALIDATION_SEED, "sequences": subset.tolist()}


def bench_results(data: Any, config: Any, encoders: list[str], runs: dict[str, Any]) -> dict[str, Any]:
    """Every number of every seed, their summaries, the config, versions and the zoo's identity.

    ``data`` is the benchmark's BenchData, ``config`` its BenchConfig.
    """
    root = data.zoo.root
    return {
        "zoo": {
            "name": data.zoo.name,
            "root": str(root),
            "config": data.zoo.config_name,
            "fingerprint": zoo_fingerprint(root),
            "family": data.family.name if data.family is not None else None,
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
