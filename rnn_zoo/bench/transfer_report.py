"""The transfer results: per encoder x target config, in results.json and as report.md's tables."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch

from rnn_zoo.bench.properties import get_property
from rnn_zoo.bench.tables import SCORED, cell, downstream_intervals, interval, property_head
from rnn_zoo.bench.transfer import TRANSFERS_WHEN


def transfer_results(runs: Mapping[str, Mapping[str, Any]], seed: int = 0) -> dict[str, Any]:
    """results.json's ``transfer``: the target configs and, per encoder x target, mean and 95% CI
    over seeds of its emulation loss and downstream scores, or why it is not applicable.
    Empty when the bench transferred to no config."""
    generator = torch.Generator().manual_seed(seed)  # its own: the bench's other summaries do not move
    records = {
        encoder: [record.get("transfer", {}) for record in seeds.values()] for encoder, seeds in runs.items()
    }
    targets = list(dict.fromkeys(name for seeds in records.values() for record in seeds for name in record))
    if not targets:
        return {}
    summary = {
        encoder: {name: _summarize([record[name] for record in seeds], generator) for name in targets}
        for encoder, seeds in records.items()
    }
    return {"transfer": {"targets": targets, "summary": summary}}


def _summarize(records: Sequence[Mapping[str, Any]], generator: torch.Generator) -> dict[str, Any]:
    unfit = next((record for record in records if not record["applicable"]), None)
    if unfit is not None:
        return {"applicable": False, "reason": unfit["reason"]}
    return {
        "applicable": True,
        "emulation_loss": interval([record["emulation_loss"] for record in records], generator),
        "downstream": downstream_intervals([record["downstream"] for record in records], generator),
    }


def transfer_section(results: Mapping[str, Any]) -> list[str]:
    """report.md's transfer tables (emulation loss, then one per property), or no lines without transfer."""
    if "transfer" not in results:
        return []
    source = results["zoo"].get("config")
    lines = [
        "",
        "## Transfer to other configs",
        "",
        f"Each encoder pre-trained on config `{source}` is applied, frozen, to the members of other "
        "configs: the encoder is built for their members and the trained weights are loaded into it. "
        f"{TRANSFERS_WHEN} *n/a*: the shapes do not fit, or the config lacks a split the evaluation "
        "needs (reasons below the tables).",
        "",
        transfer_emulation_table(results),
    ]
    for prop in results["properties"]:
        lines += ["", transfer_table(results, prop)]
    return lines + unfit_lines(results)


def transfer_emulation_table(results: Mapping[str, Any]) -> str:
    """Validation emulation loss per encoder on its own config and on each target config."""
    source, targets = results["zoo"].get("config"), results["transfer"]["targets"]
    lines = [
        f"**emulation loss** — {source}'s emulator on each config's validation members, lower is better",
        "",
        f"| encoder | {source} (own) | " + " | ".join(targets) + " |",
        "|---|---|" + "---|" * len(targets),
    ]
    for encoder, summary in results["summary"].items():
        moved = results["transfer"]["summary"][encoder]
        cells = [_transferred(moved[name], "emulation_loss") for name in targets]
        lines.append(f"| {encoder} | {cell(summary['emulation_loss'])} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def transfer_table(results: Mapping[str, Any], prop: str) -> str:
    """One property's primary metric, MLP on frozen embeddings, per encoder x config x scored split."""
    metric = get_property(prop).primary
    source, targets = results["zoo"].get("config"), results["transfer"]["targets"]
    header = [
        f"{name}{' (own)' if name == source else ''} {split}"
        for name in [source, *targets]
        for split in SCORED
    ]
    lines = property_head(prop, ", pre-trained encoder", header)
    for encoder, summary in results["summary"].items():
        own = summary["downstream"].get(prop, {}).get("pre-trained", {})
        cells = [cell(own.get(split, {}).get(metric)) for split in SCORED]
        moved = results["transfer"]["summary"][encoder]
        for name in targets:
            keys = [("downstream", prop, "pre-trained", split, metric) for split in SCORED]
            cells += [_transferred(moved[name], *path) for path in keys]
        lines.append(f"| {encoder} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _transferred(entry: Mapping[str, Any], *keys: str) -> str:
    """The interval at ``keys`` of a target's summary as a cell, or n/a."""
    if not entry["applicable"]:
        return "n/a"
    for key in keys:
        entry = entry.get(key) or {}
    return cell(entry or None)


def unfit_lines(results: Mapping[str, Any]) -> list[str]:
    """Why each pair shown n/a is not applicable."""
    rows = [
        f"- {encoder} → {name}: {entry['reason']}"
        for encoder, targets in results["transfer"]["summary"].items()
        for name, entry in targets.items()
        if not entry["applicable"]
    ]
    return ["", "Not applicable:", "", *rows] if rows else []
