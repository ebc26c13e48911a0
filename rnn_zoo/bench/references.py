"""The bench's floor and ceiling: two embeddings that read no weight, trained like every encoder.

``constant`` is one learned embedding for every member: what the emulator learns without
reading a member. ``oracle`` is a learned map (a small MLP) of what the zoo's metadata says
about the member -- its task, its snapshot, its run's hyperparameters -- as the member's task
family turns them into features (``oracle_features`` of rnn_zoo.tasks). Both run through the
same emulation code, with the same seeds and therefore the same batches of members and
sequences as the encoders: each has its own :class:`EmulationData` whose only "parameter"
is a features tensor (n, f), indexed by ``data.batch`` exactly as weights are. The zoo's
weights never reach them. Their frozen embeddings go through the same downstream predictors;
they have no supervised baseline.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import torch
from torch import Tensor, nn

from rnn_zoo.bench.pretraining import EmulationData
from rnn_zoo.encoders.plugins import RESERVED, reserved_name

REFERENCES = RESERVED  # the names no encoder may take: "constant", "oracle"
FEATURES = "oracle.features"  # the one key of a reference's params: features (n, f), no weight
WIDTH = 16  # embedding width of both references
HIDDEN = 64  # the oracle MLP's hidden width


class ConstantEmbedding(nn.Module):
    """One learned embedding (e,) for every member: params (n, ...) -> (n, e)."""

    def __init__(self, width: int = WIDTH) -> None:
        super().__init__()
        self.embedding = nn.Parameter(torch.randn(width))

    def forward(self, params: Mapping[str, Tensor]) -> Tensor:
        return self.embedding.expand(params[FEATURES].shape[0], -1)


class FeatureMap(nn.Module):
    """A learned map of metadata features (n, f) -> embeddings (n, e): Linear, ReLU, Linear."""

    def __init__(self, features: int, width: int = WIDTH, hidden: int = HIDDEN) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(features, hidden), nn.ReLU(), nn.Linear(hidden, width))

    def forward(self, params: Mapping[str, Tensor]) -> Tensor:
        return self.mlp(params[FEATURES])


@dataclass(frozen=True)
class Reference:
    """A reference row: its bench data and encoder factory, or why it is not applicable."""

    name: str
    data: Any = None  # BenchData whose splits hold features instead of weights; None: n/a
    factory: Callable[[], nn.Module] | None = None
    reason: str | None = None


def refuse_reserved(encoders: Sequence[str]) -> None:
    """A ZooError when an encoder is named like a reference row (``constant``, ``oracle``)."""
    taken = [name for name in encoders if name in REFERENCES]
    if taken:
        raise reserved_name(taken[0])


def oracle_features(family: Any, table: Any) -> Tensor | str:
    """Features (n, f) of every row of ``table`` from its metadata alone, by the zoo's task
    ``family`` (:mod:`rnn_zoo.tasks.registry`; None: the zoo names none), or why there are none."""
    from rnn_zoo.bench.properties import column_values

    if "task" not in table.column_names:
        return "the zoo's metadata has no task column, which is what the oracle reads"
    if family is None:
        return "the zoo's zoo.json names no registered task family, whose metadata the oracle would read"
    columns = {column: column_values(table, column) for column in table.column_names}
    found = family.oracle_features(columns)
    if found is None:
        return (
            f"the zoo's metadata lacks what the {family.name} oracle reads (a task column of the family's "
            f"shape and a step column); its columns are: {', '.join(table.column_names)}"
        )
    return found


def with_features(data: Any, features: Tensor) -> Any:
    """``data`` (BenchData) with each split's weights replaced by its rows of ``features``.

    The rows of ``features`` are the splits' rows in order (train, validation, ood), as in
    ``data.rows.table``; the probes, and so the batches drawn, are the splits' own.
    """
    splits: dict[str, EmulationData] = {}
    start = 0
    for split, emulation in data.splits.items():
        rows = features[start : start + len(emulation)].to(emulation.probes.log_probs.device)
        splits[split] = EmulationData({FEATURES: rows}, emulation.spec, emulation.probes)
        start += len(emulation)
    return replace(data, splits=splits)


def bench_references(data: Any, enabled: bool = True) -> dict[str, Reference]:
    """The reference rows of a bench of ``data`` (BenchData): each ready to run, or n/a with why."""
    if not enabled:
        return {}
    sizes = sum(len(split) for split in data.splits.values())
    constant = Reference("constant", with_features(data, torch.zeros(sizes, 1)), ConstantEmbedding)
    found = oracle_features(data.family, data.rows.table)
    if isinstance(found, str):
        return {"constant": constant, "oracle": Reference("oracle", reason=found)}
    oracle = Reference("oracle", with_features(data, found), lambda: FeatureMap(found.shape[1]))
    return {"constant": constant, "oracle": oracle}


def not_applicable(references: Mapping[str, Reference]) -> dict[str, str]:
    """Why each reference that cannot run is n/a, by name."""
    return {name: ref.reason for name, ref in references.items() if ref.reason is not None}


def reference_names(config: Any) -> tuple[str, ...]:
    """The reference rows a bench of ``config`` (BenchConfig) plans: both, or none when turned off."""
    return REFERENCES if config.references else ()


def without_transfer(runs: dict[str, dict[str, Any]]) -> None:
    """Mark the reference rows' transfer n/a wherever the encoders transferred (in place): a
    reference reads no weights, so there is no trained encoder to apply to another config."""
    targets = {
        name for seeds in runs.values() for record in seeds.values() for name in record.get("transfer", {})
    }
    if not targets:
        return
    for name in REFERENCES:
        for record in runs.get(name, {}).values():
            reason = "a reference row reads no weights: there is no encoder to transfer"
            record["transfer"] = {
                target: {"applicable": False, "reason": reason} for target in sorted(targets)
            }
