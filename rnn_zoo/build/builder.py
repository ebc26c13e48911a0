"""Build a zoo from a recipe: runs -> shards -> populations -> shard files -> finished zoo.

The runs, configs and shards follow from the recipe alone (:mod:`rnn_zoo.build.plan`).
Pending runs are trained in populations as large as memory allows, every population of
one architecture (config); each shard is written (atomically) as soon as all its runs are
done, so a build that is stopped at any point and started again continues from the shards
already written.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from rnn_zoo.build.cuda_graphs import CaptureOutcomes
from rnn_zoo.build.families import DataSources
from rnn_zoo.build.output import claim_output, data_identity, release_output
from rnn_zoo.build.plan import (  # plan_runs and plan_shards: also importable from here, as before
    ShardPlan,
    ZooPlan,
    part_of,
    plan_runs,  # noqa: F401
    plan_shards,  # noqa: F401
    plan_zoo,
    zoo_info,
)
from rnn_zoo.build.recipe import ARCHITECTURES, Recipe
from rnn_zoo.build.trainer import train_population
from rnn_zoo.errors import ZooError
from rnn_zoo.events import Event, ignore
from rnn_zoo.member.spec import map_params
from rnn_zoo.tasks.family import Run, TaskFamily
from rnn_zoo.zoo.manifest import finalize_zoo
from rnn_zoo.zoo.schema import ZooSchema, architecture_values, model_id
from rnn_zoo.zoo.shards import ShardId, shard_done, write_shard

MEMORY_FRACTION = 0.5  # of the free memory a population may use


@dataclass
class BuildReport:
    """What a build did: where, how many runs it trained now, population size and wall time."""

    root: Path
    finished: bool
    metric: str = "performance"
    runs_trained: int = 0
    population: int = 0
    seconds: float = 0.0
    shards: list[ShardId] = field(default_factory=list)


def resolve_device(name: str) -> torch.device:
    """``auto`` is cuda when there is a GPU, else cpu."""
    if name == "auto":
        name = "cuda" if torch.cuda.is_available() else "cpu"
    if name == "cuda" and not torch.cuda.is_available():
        raise ZooError("--device cuda was asked for, but torch sees no CUDA GPU; use --device cpu")
    return torch.device(name)


def free_memory(device: torch.device) -> int:
    """Bytes free for a population on ``device`` (the OS's available memory on CPU)."""
    if device.type == "cuda":
        return int(torch.cuda.mem_get_info(device)[0])
    return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")


def population_size(family: TaskFamily, recipe: Recipe, device: torch.device, requested: int | None) -> int:
    """Members per population: ``requested``, else as many as fit in half the free memory."""
    per_member = family.member_bytes(recipe.batch_size) + 20 * family.spec.num_parameters
    free = free_memory(device)
    fits = int(MEMORY_FRACTION * free) // per_member
    if fits < 1:
        raise ZooError(
            f"not enough memory for one member on {device.type}: it needs about {per_member / 1e6:.0f} MB "
            f"and {free / 1e6:.0f} MB are free; free some memory or use another device"
        )
    if requested is not None and requested < 1:
        raise ZooError(f"--population {requested} must be at least 1")
    return requested or fits


def build_zoo(
    recipe: Recipe,
    out: Path,
    *,
    device: torch.device,
    population: int | None = None,
    part: tuple[int, int] | None = None,
    event: Event = ignore,
    data: DataSources | None = None,
) -> BuildReport:
    """Build (or resume) the zoo of ``recipe`` in ``out``; finalise it unless ``part`` is given.

    The build holds the write lock of ``out`` throughout, taken once ``out`` is accepted (empty,
    or holding this build): a second build or merge into it is refused.

    ``data`` says where the family finds external data (MNIST); it is loaded before anything
    is written. Events (see rnn_zoo.events): ``start`` {steps, members} once, with the
    population steps and runs to go; ``step`` {step} after every population step;
    ``members_done`` {count} after each population; on a GPU, ``capture`` {captured, reason}
    per population, whose outcome zoo.json's ``build`` records as ``cuda_graph``.
    """
    plan = plan_zoo(recipe, data)
    mine = part_of(plan.shards, part)
    fits = {
        name: population_size(family, recipe, device, population) for name, family in plan.families.items()
    }
    captures = CaptureOutcomes(event)  # the build record says whether CUDA graphs were captured
    with claim_output(out, recipe, part, data_identity(plan.family.build_record)):
        report = _build_shards(plan, recipe, Path(out), mine, fits, (device, captures))
        if part is None:
            finalize_zoo(out, zoo_info(plan, recipe, {"device": device.type, **captures.record()}))
            release_output(out)
            report.finished = True
    return report


def _build_shards(
    plan: ZooPlan,
    recipe: Recipe,
    out: Path,
    mine: Sequence[ShardPlan],
    fits: dict[str | None, int],
    where: tuple[torch.device, Event],
) -> BuildReport:
    """Train and write the shards of ``mine`` not finished in ``out``, ``fits[config]`` members at once."""
    device, event = where
    pending = {
        name: [s for s in mine if s.shard.config == name and not shard_done(out, s.shard)] for name in fits
    }
    runs = {name: [run for shard in shards for run in shard.runs] for name, shards in pending.items()}
    sizes = {name: min(fits[name], max(1, len(runs[name]))) for name in fits}
    populations, members = sum(-(-len(runs[n]) // sizes[n]) for n in sizes), sum(map(len, runs.values()))
    shards = [shard.shard for shard in mine]
    report = BuildReport(
        out, False, plan.family.summary_metric, population=max(sizes.values()), shards=shards
    )
    event("start", {"steps": populations * recipe.train_config().steps, "members": members})
    started = time.perf_counter()
    for name, family in plan.families.items():
        if pending[name]:
            work = ConfigWork(family, plan.schemas[name], pending[name], sizes[name])
            train_and_write(work, recipe, out, device, event)
    report.runs_trained, report.seconds = members, time.perf_counter() - started
    return report


@dataclass(frozen=True)
class ConfigWork:
    """What is left to build of one config: its family and schema, the shards not finished
    (``pending``) and how many members train at once (``size``)."""

    family: TaskFamily
    schema: ZooSchema
    pending: Sequence[ShardPlan]
    size: int


def train_and_write(work: ConfigWork, recipe: Recipe, out: Path, device: torch.device, event: Event) -> None:
    """Train the runs of ``work.pending`` in populations of ``work.size``; write each shard of
    ``work.schema`` once all its runs are done.

    Shards are written by one thread beside the training of the next population.
    """
    family, schema, pending, size = work.family, work.schema, work.pending, work.size
    runs, rows = [run for plan in pending for run in plan.runs], {}
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="shard-writer") as writer:
        writes = []
        for start in range(0, len(runs), size):
            members = runs[start : start + size]
            rows.update(train_fitting(family, recipe, members, device, event))
            event("members_done", {"count": len(members)})
            for plan in pending:
                if plan.runs[0].run_id in rows and all(run.run_id in rows for run in plan.runs):
                    shard_rows = _concatenate([rows.pop(r.run_id) for r in plan.runs])
                    if plan.shard.config is not None:
                        shard_rows.update(_architecture_rows(family, len(shard_rows["model_id"])))
                    writes.append(writer.submit(write_shard, out, schema, plan.shard, shard_rows))
        for write in writes:
            write.result()  # a failed write raises here


def _architecture_rows(family: TaskFamily, count: int) -> dict[str, np.ndarray]:
    """The architecture columns of ``count`` rows of one config (see with_architecture)."""
    return {
        name: np.full(count, value)
        for name, value in architecture_values(family.spec, tuple(ARCHITECTURES)).items()
    }


def train_fitting(
    family: TaskFamily, recipe: Recipe, runs: Sequence[Run], device: torch.device, event: Event
) -> dict[int, dict[str, np.ndarray]]:
    """:func:`train_members`, with running out of device memory said in one line."""
    try:
        return train_members(family, recipe, runs, device, event)
    except torch.OutOfMemoryError:
        raise ZooError(
            f"a population of {len(runs)} members does not fit in the memory of {device}; "
            f"give a smaller --population (e.g. {max(1, len(runs) // 2)})"
        ) from None


def train_members(
    family: TaskFamily, recipe: Recipe, runs: Sequence[Run], device: torch.device, event: Event
) -> dict[int, dict[str, np.ndarray]]:
    """Train one population; return each run's rows (one per snapshot), keyed by run id."""
    snapshots: list[dict[str, np.ndarray]] = []

    def on_snapshot(step: int, params: dict[str, torch.Tensor], train_loss: torch.Tensor) -> None:
        columns = family.snapshot_columns(params, runs, step, train_loss)
        columns.update(map_params(lambda tensor: tensor.cpu().numpy().copy(), params))
        columns["step"] = np.full(len(runs), step, dtype=np.int64)
        snapshots.append(columns)

    config = recipe.train_config()
    train_population(family, runs, config, device=device, on_snapshot=on_snapshot, event=event)
    rows = {}
    for index, run in enumerate(runs):
        run_rows = {name: np.stack([snap[name][index] for snap in snapshots]) for name in snapshots[0]}
        run_rows["run_id"] = np.full(len(snapshots), run.run_id, dtype=np.int64)
        run_rows["model_id"] = np.array([model_id(run.run_id, int(step)) for step in run_rows["step"]])
        rows[run.run_id] = run_rows
    return rows


def _concatenate(parts: Sequence[dict[str, np.ndarray]]) -> dict[str, np.ndarray]:
    return {name: np.concatenate([part[name] for part in parts]) for name in parts[0]}
