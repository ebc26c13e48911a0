"""What a bench's numbers mean: the floor and ceiling, the headroom, the learning curves, the
cells that have no true value, and a zoo too small for its preset -- added to results.json
and said first in the report.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from rnn_zoo.bench.curves import curve_lines, curve_trends
from rnn_zoo.bench.headroom import headroom_record, headroom_sentence, ranking_lines
from rnn_zoo.bench.references import REFERENCES

SCORED = ("validation", "ood")
SMALL_ZOO = 0.5  # a zoo below this fraction of its preset's own zoo is called much smaller


def add_readings(results: dict[str, Any], data: Any, not_applicable: Mapping[str, str]) -> None:
    """Add ``references``, ``headroom``, ``learning_curves``, ``undefined_scores`` and
    ``zoo_size`` to ``results`` (results.json) of a bench of ``data`` (BenchData)."""
    runs, config = results["runs"], results["config"]
    planned = REFERENCES if config.get("references") else ()
    results["references"] = {
        name: {"status": "n/a", "reason": not_applicable[name]}
        if name in not_applicable
        else {"status": "ran"}
        for name in planned
    }
    encoders = [name for name in results["encoders"] if name in runs]
    if all(name in runs for name in REFERENCES):
        results["headroom"] = headroom_record(runs, encoders)
    results["learning_curves"] = curve_trends(runs)
    results["undefined_scores"] = undefined_scores(data.rows, results["properties"])
    results["zoo_size"] = zoo_size(data.zoo, config.get("preset"), sum(results["zoo"]["rows"].values()))


def undefined_scores(rows: Any, properties: Sequence[str]) -> dict[str, dict[str, str]]:
    """Why a property's score has no true value on a split: property -> split -> reason.

    When every fitted member has the same target the predictor has nothing to learn (any
    score is the constant's); when every scored member of a regression property has the same
    target, R^2 is undefined (e.g. performance on a zoo whose members all failed).
    """
    from rnn_zoo.bench.properties import column_values, get_property

    found: dict[str, dict[str, str]] = {}
    for name in properties:
        prop = get_property(name)
        targets = prop.targets(column_values(rows.table, prop.column))
        for split in SCORED:
            reason = _constant(targets[rows.rows["fit"]], f"fitted member has the same {prop.column}")
            if reason is None and not prop.classification:
                reason = _constant(
                    targets[rows.rows[split]], f"scored {split} member has the same {prop.column}"
                )
            if reason is not None:
                found.setdefault(name, {})[split] = reason
    return found


def _constant(targets: Any, what: str) -> str | None:
    """``every {what} ({value})`` when the rows' targets are all equal, else None."""
    if len(targets) == 0 or bool((targets != targets[0]).any()):
        return None
    value = ", ".join(f"{float(v):g}" for v in np.asarray(targets[0]).reshape(-1))
    return f"every {what} ({value})"


def zoo_size(zoo: Any, preset: str | None, members: int) -> dict[str, Any] | None:
    """The zoo's members beside those of the zoo its preset is sized for (the build preset of the
    same name for the zoo's task); None when either is unknown."""
    task = (zoo.manifest.get("recipe") or {}).get("task")
    assumed = preset_members(str(task), preset) if task and preset else None
    if assumed is None:
        return None
    return {"preset": preset, "task": task, "members": members, "assumed": assumed}


def preset_members(task: str, preset: str) -> int | None:
    """Members (runs x snapshots) of `rnn-zoo build --task TASK --preset PRESET`, read from the
    task family's recipe (the bench does not build); None where there is none."""
    from rnn_zoo.tasks.registry import family_names, read_recipe_file

    if task not in family_names():
        return None
    recipe = read_recipe_file(task)
    if preset not in recipe.get("presets", {}):
        return None
    settings = {**recipe, **recipe["presets"][preset]}
    return int(settings["runs"]) * len(settings["snapshot_steps"])


def first_lines(results: Mapping[str, Any]) -> list[str]:
    """The report's first words: a zoo too small for its preset, then the headroom or why there is none."""
    lines = []
    size = results.get("zoo_size")
    if size and size["members"] < SMALL_ZOO * size["assumed"]:
        lines.append(
            f"**The zoo is much smaller than the {size['preset']} preset assumes**: {size['members']:,} "
            f"members, where `rnn-zoo build --task {size['task']} --preset {size['preset']}` makes "
            f"{size['assumed']:,}; its numbers say little about the encoders."
        )
    references = results.get("references") or {}
    if not references:
        lines.append(
            "No floor or ceiling: this bench ran without its reference rows (--no-references), so it "
            "cannot say whether its budget separates the encoders."
        )
    elif "headroom" in results:
        lines.append(headroom_sentence(results["headroom"], results["config"]["emulation"]["steps"]))
    for name, found in references.items():
        if found["status"] == "n/a":
            lines.append(f"The {name} row is n/a: {found['reason']}; no headroom, no ranking.")
    return lines


def ranking_section(results: Mapping[str, Any]) -> list[str]:
    """The ranking by share of the headroom, when the run has one."""
    lines = ranking_lines(results["headroom"], results["summary"]) if "headroom" in results else []
    return ["", "## Ranking by share of the headroom", "", *lines] if lines else []


def curve_section(results: Mapping[str, Any]) -> list[str]:
    lines = curve_lines(results.get("learning_curves") or {})
    return ["", *lines] if lines else []


def score_cell(results: Mapping[str, Any], row: str, prop: str, mode: str, split: str) -> str | None:
    """``n/a`` for a cell without a true value (a reference's supervised baseline, a constant
    target); None where the measured interval is the cell."""
    if row in REFERENCES and mode == "supervised":
        return "n/a"
    if split in (results.get("undefined_scores") or {}).get(prop, {}):
        return "n/a"
    return None


def score_notes(results: Mapping[str, Any], prop: str) -> list[str]:
    """Why the property's n/a cells are n/a, one line each."""
    notes = [
        f"n/a on {split}: {reason}."
        for split, reason in (results.get("undefined_scores") or {}).get(prop, {}).items()
    ]
    if results.get("references") and results["config"].get("supervised", True):
        notes.append("n/a for constant and oracle, supervised: they read no weights to train end to end.")
    return ["", *notes] if notes else []
