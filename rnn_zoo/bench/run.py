"""The weight-encoder benchmark: emulation pre-training, downstream evaluation, report.

For every encoder and seed (a job, :mod:`rnn_zoo.bench.job`): pre-train the encoder by
emulation, embed every member, fit predictors of every property on the frozen embeddings,
and train the same architecture end to end on each property (the supervised baseline).
With an output directory (:mod:`rnn_zoo.bench.output`) each finished job is kept, a rerun
skips it, a part runs one share of the jobs, and parts merge into the results of one run.
A zoo of several configs is benched one config at a time, and each job's encoder may then be
applied, frozen, to the other configs' members (:mod:`rnn_zoo.bench.transfer`).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property, partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnn_zoo.bench import output as bench_out
from rnn_zoo.bench.cloning import Accept
from rnn_zoo.bench.downstream import DownstreamConfig, TooFewTasks, downstream_config, downstream_rows
from rnn_zoo.bench.estimate import estimate_jobs
from rnn_zoo.bench.job import check_encoder, run_seed, seeded
from rnn_zoo.bench.output import Job
from rnn_zoo.bench.pretraining import (
    Augment,
    EmulationConfig,
    EmulationData,
    emulation_config,
    emulation_data,
)
from rnn_zoo.bench.probes import require_probes
from rnn_zoo.bench.properties import available_properties, column_shapes, get_property
from rnn_zoo.bench.readings import add_readings
from rnn_zoo.bench.references import (
    bench_references,
    not_applicable,
    reference_holders,
    reference_inputs,
    reference_names,
    refuse_reserved,
    without_transfer,
)
from rnn_zoo.bench.report import bench_results, config_record, write_plots, write_report, zoo_fingerprint
from rnn_zoo.bench.transfer import Target, load_targets, target_names, transfer_job
from rnn_zoo.encoders.plugins import first_line
from rnn_zoo.encoders.plugins import make_encoder as build_encoder
from rnn_zoo.errors import ZooError
from rnn_zoo.events import Event
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.tasks import outdated_probes
from rnn_zoo.zoo.load import locate_zoo
from rnn_zoo.zoo.manifest import Zoo

ENCODERS = ("layer-stats", "flat", "param-transformer", "dws", "probing-noninteractive", "probing")
SPLITS = ("train", "validation", "ood")
EncoderBuilder = Callable[..., nn.Module]
Options = Mapping[str, Mapping[str, Any]]


@dataclass(frozen=True)
class BenchConfig:
    """Seeds, emulation and downstream settings, the properties (None: all the zoo has), device."""

    seeds: int = 15
    emulation: EmulationConfig = field(default_factory=EmulationConfig)
    downstream: DownstreamConfig = field(default_factory=DownstreamConfig)
    properties: tuple[str, ...] | None = None
    supervised: bool = True
    device: str = "cpu"
    split_seed: int = 0  # which OOD tasks the predictors may fit on
    clone_members: int = 256  # validation members whose emulator clone is evaluated (0: none)
    clone_samples: int = 1_000  # sequences each clone generates (token zoos)
    bos: int = 4  # the BOS token id that generation starts from (token zoos)
    references: bool = True  # the constant and oracle rows (rnn_zoo.bench.references)
    preset: str | None = None  # the preset the config was resolved from, if any


BENCH_PRESETS: dict[str, dict[str, Any]] = {
    "tiny": {"seeds": 2, "clone_members": 16, "clone_samples": 100},
    # medium leaves out the supervised baselines: end-to-end training of each encoder on each
    # property would cost more than the pre-training it is compared with.
    "medium": {"seeds": 3, "clone_members": 64, "clone_samples": 300, "supervised": False},
    "small": {"seeds": 3, "clone_members": 64, "clone_samples": 300},
    "paper": {"seeds": 15},
}


# Encoder sizes per preset: tiny is a smoke test of the whole pipeline, so its encoders are
# narrow; medium narrows only the parameter transformer (at the authors' size one step takes
# seconds on a CPU core); small and paper use each encoder's default (the authors' sizes,
# docs/fidelity.md).
ENCODER_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {
        "layer-stats": {"widths": (64,)},
        "flat": {"widths": (64,)},
        "param-transformer": {"width": 32, "layers": 1},
        "dws": {"layers": 2, "channels": 8},
        "probing-noninteractive": {"reader_width": 32, "reader_layers": 1},
        "probing": {"reader_width": 32, "reader_layers": 1},
    },
    "medium": {"param-transformer": {"width": 64, "layers": 2}},
}


def bench_config(
    preset: str | None = None,
    *,
    seeds: int | None = None,
    steps: int | None = None,
    device: str | None = None,
    properties: Sequence[str] | None = None,
    emulation: Mapping[str, Any] | None = None,
    downstream: Mapping[str, Any] | None = None,
) -> BenchConfig:
    """Defaults < preset (tiny, medium, small, paper) < explicit arguments; ``steps`` = emulation steps."""
    if preset is not None and preset not in BENCH_PRESETS:
        raise ZooError(f"unknown bench preset {preset!r}; choose one of: {', '.join(BENCH_PRESETS)}")
    emulation_overrides = {"steps": steps, **(emulation or {})}
    values = {**BENCH_PRESETS.get(preset or "", {}), **({"seeds": seeds} if seeds else {})}
    return BenchConfig(
        **values,
        emulation=emulation_config(preset, **emulation_overrides),
        downstream=downstream_config(preset, **(downstream or {})),
        properties=tuple(properties) if properties else None,
        device=device or "cpu",
        preset=preset,
    )


@dataclass(frozen=True)
class BenchData:
    """The zoo's splits ready for emulation, their metadata rows, and the properties to predict."""

    zoo: Any
    splits: Mapping[str, EmulationData]
    rows: Any
    properties: tuple[str, ...]

    @cached_property
    def all_params(self) -> dict[str, Tensor]:
        """Parameters of every member, train then validation then OOD rows (the rows' order); built once."""
        names = self.splits["train"].params
        return {name: torch.cat([self.splits[split].params[name] for split in SPLITS]) for name in names}


def bench_data(zoo: Any, config: BenchConfig, zoo_config: str | None = None) -> BenchData:
    """Load every split of ``zoo`` (of config ``zoo_config`` in a zoo of several) and check
    that it has the requested properties."""
    from rnn_zoo.zoo.load import load_weights

    opened = bench_zoo(zoo, zoo_config)
    require_probes(opened)
    outdated = outdated_probes(opened.manifest)
    if outdated:
        raise ZooError(f"zoo {opened.root} cannot be benchmarked: {outdated}")
    missing = [split for split in SPLITS if opened.num_rows(split) == 0]
    if missing:
        raise ZooError(
            f"zoo {opened.root} has too few members for the benchmark: no {', '.join(missing)} split; "
            + more_runs(opened)
        )
    tables = {split: load_weights(opened, split).metadata for split in SPLITS}
    try:
        rows = downstream_rows(tables, seed=config.split_seed, zoo=str(opened.root))
    except TooFewTasks as error:
        raise ZooError(f"{str(error).split('; ')[0]}; {more_runs(opened)}") from None
    names = config.properties or available_properties(rows.table)
    for name in names:
        get_property(name).check(column_shapes(rows.table), str(opened.root))
    splits = {split: emulation_data(opened, split).to(config.device) for split in SPLITS}
    return BenchData(opened, splits, rows, tuple(names))


def bench_zoo(zoo: Any, zoo_config: str | None) -> Zoo:
    """The zoo narrowed to the config a bench is of; a zoo of several configs needs one named."""
    opened = locate_zoo(zoo)
    if opened.multi_config and zoo_config is None:
        raise ZooError(
            f"zoo {opened.root} holds {len(opened.configs)} member architectures ({', '.join(opened.configs)}); "
            "bench one at a time: pass --config NAME"
        )
    return opened.config(zoo_config)


def more_runs(zoo: Any) -> str:
    """The fix for a zoo with too few OOD tasks: the build command with enough --runs, if known."""
    from rnn_zoo.tasks import runs_for_ood_tasks

    recipe = zoo.manifest.get("recipe") or {}
    task, seed = recipe.get("task"), recipe.get("seed", 0)
    preset = f" --preset {recipe['preset']}" if recipe.get("preset") else ""
    if recipe.get("variant"):  # a config of a zoo of several holds a share of the zoo's runs
        return (
            f"rebuild the zoo with more than its {recipe.get('runs')} runs: "
            f"`rnn-zoo build --task {task} --recipe {recipe['variant']}{preset} --seed {seed} --runs N`"
        )
    runs = runs_for_ood_tasks(str(task), int(seed), needed=2) if task else None
    if runs is None:
        return "build it with more runs (`rnn-zoo build ... --runs N`)"
    return f"rebuild it with more runs: `rnn-zoo build --task {task}{preset} --seed {seed} --runs {runs}`"


def config_from_record(record: Mapping[str, Any]) -> BenchConfig:
    """The BenchConfig that ``config_record`` (results.json, bench.json) wrote down."""
    values = dict(record)
    values["emulation"] = EmulationConfig(**values["emulation"])
    values["downstream"] = DownstreamConfig(**values["downstream"])
    values["properties"] = tuple(values["properties"]) if values["properties"] else None
    values.setdefault("references", False)  # benches from before the reference rows ran none
    return BenchConfig(**values)


def bench_claim(
    data: BenchData,
    config: BenchConfig,
    encoders: Sequence[str],
    options: Options,
    transfer_to: Sequence[str],
) -> dict:
    """What an output directory of this bench holds (bench.json): the config benched is part of it."""
    zoo = {
        "name": data.zoo.name,
        "fingerprint": zoo_fingerprint(data.zoo.root),
        "root": str(data.zoo.root),
        "config": data.zoo.config_name,
    }
    return bench_out.make_claim(zoo, config_record(config), encoders, options, transfer_to)


def run_bench(
    zoo: Any,
    encoders: Sequence[str] = ENCODERS,
    config: BenchConfig | None = None,
    out: str | Path | None = None,
    *,
    part: tuple[int, int] | None = None,
    encoder_builder: EncoderBuilder = build_encoder,
    encoder_options: Options | None = None,
    augment_for: Callable[[str, MemberSpec], Augment | None] | None = None,
    accept: Accept | None = None,
    event: Event | None = None,
    zoo_config: str | None = None,
    transfer_to: Sequence[str] = (),
) -> dict[str, Any] | None:
    """Benchmark ``encoders`` on ``zoo``; with ``out``, write results.json, report.md, plots, checkpoints.

    ``encoder_builder(name, spec, input_kind=..., **options)`` makes a fresh encoder (default:
    built-in, installed or import path, see :mod:`rnn_zoo.encoders.plugins`);
    ``augment_for(name, spec)`` gives the weight augmentation used while pre-training it;
    ``accept(samples, tasks)`` judges sequences generated by emulator clones (token zoos).
    With ``out``, finished jobs found there are skipped (``event("skip", ...)``); with ``part``
    (i, n) only that share of the jobs runs, into ``out``, and None is returned.
    In a zoo of several configs ``zoo_config`` names the one benched; ``transfer_to`` names
    other configs (or ``all``) that each pre-trained encoder is then applied to, frozen
    (:mod:`rnn_zoo.bench.transfer`); they are looked up in ``zoo`` as given, so give the whole
    zoo (a path, or a Zoo not narrowed with ``Zoo.config``).
    """
    config = config or BenchConfig()
    options = encoder_options or {}
    refuse_reserved(encoders)
    jobs = bench_out.share(bench_out.plan_jobs([*encoders, *reference_names(config)], config.seeds), part)
    if part is not None and out is None:
        raise ZooError("a part of a bench needs an output directory (--out) to keep its jobs in")
    data = bench_data(zoo, config, zoo_config)
    source = data.zoo.config_name
    names = target_names(zoo, source, transfer_to) if transfer_to else ()
    spec, kind = data.splits["train"].spec, data.splits["train"].probes.kind
    builder_for = partial(_builder_for, encoder_builder, kind, options)
    factories = {name: partial(builder_for(spec), name) for name in dict.fromkeys(encoders)}
    for name in dict.fromkeys(job.encoder for job in jobs):
        if name in factories:
            check_encoder(name, seeded(factories[name], 0), data)
    targets = load_targets(zoo, names, config, data.properties, builder_for)
    if out is not None:
        bench_out.claim_out(Path(out), bench_claim(data, config, encoders, options, names))
    inputs = {name: (data, config, factories[name]) for name in factories}
    inputs.update(reference_inputs(bench_references(data, config.references), config))
    jobs = [job for job in jobs if job.encoder in inputs]  # an n/a reference does not run
    pending = [job for job in jobs if out is None or not bench_out.is_finished(Path(out), job)]
    if event and pending:
        event("estimate", estimate_jobs(pending, inputs))
    finished: dict[Job, tuple[dict[str, Any], Tensor]] = {}
    for job in jobs:
        if job not in pending:
            if event:
                event("skip", {"encoder": job.encoder, "seed": job.seed})
            continue
        job_data, job_config, factory = inputs[job.encoder]
        reference = job.encoder not in factories  # no augmentation, no transfer
        augment = augment_for(job.encoder, spec) if augment_for and not reference else None
        started = time.perf_counter()
        run = _run_job(
            job, job_data, job_config, factory, out, augment, accept, event, {} if reference else targets
        )
        finished[job] = run
        if event:
            event("job", {"encoder": job.encoder, "seed": job.seed, "seconds": time.perf_counter() - started})
    return None if part is not None else assemble(data, config, encoders, out, finished)


def _run_job(
    job: Job,
    data: BenchData,
    config: BenchConfig,
    factory: Callable[[], nn.Module],
    out: str | Path | None,
    augment: Augment | None,
    accept: Accept | None,
    event: Event | None,
    targets: Mapping[str, Target],
) -> tuple[dict[str, Any], Tensor]:
    """Run one job, then its transfer to ``targets``; with ``out``, keep its checkpoint,
    embeddings (the transferred ones too) and record there.

    A failure (most likely in an encoder's own code) is one line; finished jobs are kept.
    """
    checkpoint = bench_out.checkpoint_dir(Path(out), job) if out is not None else None
    try:
        record, embedded, result = run_seed(
            job.encoder,
            job.seed,
            data,
            config,
            seeded(factory, job.seed),
            augment=augment,
            accept=accept,
            checkpoint=checkpoint,
            event=event,
        )
        transferred: dict[str, Tensor] = {}
        if targets:
            build = partial(_target_encoder, job.encoder, job.seed)
            record["transfer"], transferred = transfer_job(
                result, build, targets, config, source=data.zoo.config_name, seed=job.seed
            )
    except (ZooError, KeyboardInterrupt):
        raise
    except Exception as error:
        kept = "; the jobs finished before it are kept" if out is not None else ""
        raise ZooError(f"{job} failed ({first_line(error)}){kept}") from None
    if out is not None:
        bench_out.save_job(Path(out), job, record, embedded, transferred)
    return record, embedded


def _builder_for(
    builder: EncoderBuilder, kind: str, options: Options, spec: MemberSpec
) -> Callable[[str], nn.Module]:
    """``build(name)``: a fresh encoder ``name`` for members of ``spec``, with its options."""
    return lambda name: builder(name, spec, input_kind=kind, **options.get(name, {}))


def _target_encoder(name: str, seed: int, target: Target) -> nn.Module:
    """Encoder ``name`` for ``target``'s members, initialised as the job's own encoder was."""
    return seeded(partial(target.build, name), seed)()


def assemble(
    data: BenchData,
    config: BenchConfig,
    encoders: Sequence[str],
    out: str | Path | None,
    finished: Mapping[Job, tuple[dict[str, Any], Tensor]] | None = None,
) -> dict[str, Any]:
    """results.json from every job's record, in plan order: read back from ``out`` when given
    (so a fresh, resumed or merged bench gives the same file), else from ``finished``; with
    ``out``, also report.md and the plots (seed 0's embeddings)."""
    runs: dict[str, dict[str, Any]] = {}
    embeddings: dict[str, Tensor] = {}
    references = bench_references(data, config.references)
    ran = [name for name in references if name not in not_applicable(references)]
    for job in bench_out.plan_jobs([*encoders, *ran], config.seeds):
        if out is None:
            record = (finished or {})[job][0]
        else:
            record = bench_out.load_record(Path(out), job)
            if job.encoder not in embeddings:  # seed 0's, for the PCA plot
                embeddings[job.encoder] = bench_out.load_embeddings(Path(out), job)
        runs.setdefault(job.encoder, {})[str(job.seed)] = record
    without_transfer(runs)
    results = bench_results(data, config, list(dict.fromkeys(encoders)), runs)
    add_readings(results, data, not_applicable(references))
    if out is not None:
        results["plots"] = write_plots(Path(out), results, embeddings, data.rows.table)
        write_report(out, results)
    return results


def merge_bench(parts: Sequence[str | Path], out: str | Path, zoo: Any = None) -> dict[str, Any]:
    """Join the output directories of a bench's parts into ``out``: results as from one run.

    ``zoo`` defaults to where the parts found it (bench.json); it must be the same zoo.
    """
    claim, holders = bench_out.gather_parts([Path(part) for part in parts])
    config = config_from_record(claim["config"])
    opened = locate_zoo(zoo or claim["zoo"]["root"])
    if zoo_fingerprint(opened.root) != claim["zoo"]["fingerprint"]:
        raise ZooError(
            f"the zoo at {opened.root} is not the parts' zoo (its weights/index.json differs); "
            "give theirs with --zoo"
        )
    # nothing trains: the CPU will do
    data = bench_data(opened, replace(config, device="cpu"), claim["zoo"]["config"])
    holders.update(reference_holders(parts, bench_references(data, config.references), config.seeds))
    bench_out.claim_out(Path(out), claim)
    bench_out.copy_jobs(holders, Path(out))
    return assemble(data, config, claim["encoders"], out)
