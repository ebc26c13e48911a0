"""The weight-encoder benchmark: emulation pre-training, downstream evaluation, report.

For every encoder and seed: pre-train the encoder by emulation, embed every member, fit
predictors of every property on the frozen embeddings, and train the same architecture end
to end on each property (the supervised baseline). Everything measured goes to results.json.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnn_zoo.cloning import Accept, clone_record
from rnn_zoo.downstream import DownstreamConfig, downstream_config, downstream_rows, embed, evaluate_property
from rnn_zoo.emulation import (
    Augment,
    EmulationConfig,
    EmulationData,
    emulation_config,
    emulation_data,
    train_emulation,
)
from rnn_zoo.errors import ZooError
from rnn_zoo.load import locate_zoo
from rnn_zoo.lstm import MemberSpec
from rnn_zoo.probes import require_probes
from rnn_zoo.properties import available_properties, column_shapes, get_property
from rnn_zoo.report import bench_results, write_plots, write_report
from rnn_zoo.seeding import seeded_init

ENCODERS = ("layer-stats", "flat", "param-transformer", "dws", "probing-noninteractive", "probing")
SPLITS = ("train", "validation", "ood")
EncoderBuilder = Callable[..., nn.Module]
Event = Callable[[str, Mapping[str, Any]], None]


def build_encoder(name: str, spec: MemberSpec, *, input_kind: str, **config: Any) -> nn.Module:
    """The one lookup of encoders by name; probing encoders are told the zoo's input kind."""
    try:
        from rnn_zoo.encoders import build
    except ImportError:
        raise ZooError(
            "this rnn-zoo has no encoder suite (rnn_zoo.encoders); install a version with it"
        ) from None
    if name.startswith("probing"):
        config = {"input_kind": input_kind, **config}
    return build(name, spec, **config)


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


BENCH_PRESETS: dict[str, dict[str, int]] = {
    "tiny": {"seeds": 2, "clone_members": 16, "clone_samples": 100},
    "small": {"seeds": 3, "clone_members": 64, "clone_samples": 300},
    "paper": {"seeds": 15},
}


# Encoder sizes per preset: tiny is a smoke test of the whole pipeline, so its encoders are
# narrow; small and paper use each encoder's default (paper-sized, about 1.2M parameters).
ENCODER_PRESETS: dict[str, dict[str, dict[str, Any]]] = {
    "tiny": {
        "layer-stats": {"widths": (64,)},
        "flat": {"widths": (64,)},
        "param-transformer": {"width": 32, "layers": 1},
        "dws": {"layers": 2, "channels": 8},
        "probing-noninteractive": {"reader_width": 32, "reader_layers": 1},
        "probing": {"reader_width": 32, "reader_layers": 1},
    },
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
    """Defaults < preset (tiny, small, paper) < explicit arguments; ``steps`` = emulation steps."""
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


def bench_data(zoo: Any, config: BenchConfig) -> BenchData:
    """Load every split of ``zoo`` and check that it has the requested properties."""
    from rnn_zoo.load import load_weights

    opened = locate_zoo(zoo)
    require_probes(opened)
    missing = [split for split in SPLITS if opened.num_rows(split) == 0]
    if missing:
        raise ZooError(
            f"zoo {opened.root} has too few members for the benchmark: no {', '.join(missing)} split"
        )
    tables = {split: load_weights(opened, split).metadata for split in SPLITS}
    rows = downstream_rows(tables, seed=config.split_seed, zoo=str(opened.root))
    names = config.properties or available_properties(rows.table)
    for name in names:
        get_property(name).check(column_shapes(rows.table), str(opened.root))
    splits = {split: emulation_data(opened, split).to(config.device) for split in SPLITS}
    return BenchData(opened, splits, rows, tuple(names))


def run_seed(
    name: str,
    seed: int,
    data: BenchData,
    config: BenchConfig,
    make_encoder: Callable[[], nn.Module],
    *,
    augment: Augment | None = None,
    accept: Accept | None = None,
    checkpoint: Path | None = None,
    event: Event | None = None,
) -> tuple[dict[str, Any], Tensor, Any]:
    """One encoder, one seed: emulation pre-training, then every property, pre-trained and supervised.

    Returns the seed's record, the embeddings of every member and the emulation result.
    """
    started = time.perf_counter()

    def on_step(step: int, values: Mapping[str, float]) -> None:
        if event:
            event("emulation", {"encoder": name, "seed": seed, "step": step, **values})

    emulation = replace(config.emulation, seed=seed)
    result = train_emulation(
        make_encoder().to(config.device),
        data.splits["train"],
        data.splits["validation"],
        emulation,
        augment=augment,
        checkpoint=checkpoint,
        encoder_config={"name": name, "seed": seed},
        callback=on_step,
    )
    seconds = time.perf_counter() - started  # wall time, validation included
    embeddings = embed(result.encoder, data.all_params).cpu()
    record = {
        "emulation": {
            "best_validation_loss": result.best_validation_loss,
            "best_step": result.best_step,
            "curve": result.curve,
            "seconds": seconds,
        },
        "downstream": _downstream(name, seed, data, config, embeddings, make_encoder, event),
    }
    if config.clone_members:
        record["cloned"] = _clone(result.emulator, embeddings, data, config, accept, seed)
    return record, embeddings, result


def _downstream(
    name: str,
    seed: int,
    data: BenchData,
    config: BenchConfig,
    embeddings: Tensor,
    make_encoder: Callable[[], nn.Module],
    event: Event | None,
) -> dict[str, Any]:
    """Scores per property: an MLP on the frozen embeddings and, if asked, the supervised baseline."""
    params = data.all_params
    scores: dict[str, Any] = {}
    for prop in data.properties:
        if event:
            event("downstream", {"encoder": name, "seed": seed, "property": prop})
        scores[prop] = {
            "pre-trained": evaluate_property(embeddings, data.rows, prop, config.downstream, seed=seed)
        }
        if config.supervised:
            scores[prop]["supervised"] = evaluate_property(
                params, data.rows, prop, config.downstream, encoder_factory=make_encoder, seed=seed
            )
    return scores


def _clone(
    emulator: Any, embeddings: Tensor, data: BenchData, config: BenchConfig, accept: Accept | None, seed: int
) -> dict[str, Any] | None:
    """Cloned performance of the first ``clone_members`` validation members."""
    validation = data.splits["validation"]
    count = min(config.clone_members, len(validation))
    rows = data.rows.rows["validation"][:count]  # the validation split's first rows, in order
    probes = replace(
        validation.probes,
        sequences=validation.probes.sequences[:count],
        log_probs=validation.probes.log_probs[:count],
    )
    metadata = data.rows.table.take(rows.numpy())
    return clone_record(
        emulator,
        embeddings[rows],
        probes,
        validation.spec,
        metadata,
        accept=accept,
        bos=config.bos,
        samples=config.clone_samples,
        seed=seed,
    )


def seeded(factory: Callable[[], nn.Module], seed: int) -> Callable[[], nn.Module]:
    """``factory`` whose module initialisation is repeatable: it runs under its own seeded RNG."""

    def make() -> nn.Module:
        with seeded_init(seed):
            return factory()

    return make


def run_bench(
    zoo: Any,
    encoders: Sequence[str] = ENCODERS,
    config: BenchConfig | None = None,
    out: str | Path | None = None,
    *,
    encoder_builder: EncoderBuilder = build_encoder,
    encoder_options: Mapping[str, Mapping[str, Any]] | None = None,
    augment_for: Callable[[str, MemberSpec], Augment | None] | None = None,
    accept: Accept | None = None,
    event: Event | None = None,
) -> dict[str, Any]:
    """Benchmark ``encoders`` on ``zoo``; with ``out``, write results.json, report.md, plots, checkpoints.

    ``encoder_builder(name, spec, input_kind=..., **options)`` makes a fresh encoder;
    ``augment_for(name, spec)`` gives the weight augmentation used while pre-training it;
    ``accept(samples, tasks)`` judges sequences generated by emulator clones (token zoos).
    """
    config = config or BenchConfig()
    data = bench_data(zoo, config)
    spec, kind = data.splits["train"].spec, data.splits["train"].probes.kind
    runs: dict[str, dict[str, Any]] = {}
    embeddings: dict[str, Tensor] = {}
    for name in encoders:
        options = dict((encoder_options or {}).get(name, {}))

        def factory(name: str = name, options: dict = options) -> nn.Module:
            return encoder_builder(name, spec, input_kind=kind, **options)

        augment = augment_for(name, spec) if augment_for else None
        for seed in range(config.seeds):
            checkpoint = Path(out, "checkpoints", name, f"seed{seed}") if out is not None else None
            record, embedded, _ = run_seed(
                name,
                seed,
                data,
                config,
                seeded(factory, seed),
                augment=augment,
                accept=accept,
                checkpoint=checkpoint,
                event=event,
            )
            runs.setdefault(name, {})[str(seed)] = record
            embeddings.setdefault(name, embedded)
    results = bench_results(data, config, list(encoders), runs)
    if out is not None:
        results["plots"] = write_plots(Path(out), results, embeddings, data.rows.table)
        write_report(out, results)
    return results
