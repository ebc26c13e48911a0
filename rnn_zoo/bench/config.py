"""The bench's settings: typed frozen configs, every preset in one table, resolved one way.

Each config resolves as its defaults < the named preset < the values given (a command-line
option, a keyword argument); a value None is not given, an unknown key fails. A preset is
one entry of :data:`PRESETS`, holding what it changes in each config and the sizes of the
built-in encoders. Nothing here imports the rest of the bench: it sits at the bottom.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field, fields
from functools import cached_property
from typing import Any, TypeVar

import torch
from torch import Tensor

from rnn_zoo.bench.losses import get_loss
from rnn_zoo.errors import ZooError

ConfigT = TypeVar("ConfigT")
Options = Mapping[str, Mapping[str, Any]]  # encoder name -> its factory's options
SPLITS = ("train", "validation", "ood")


@dataclass(frozen=True)
class EmulationConfig:
    """Emulation training; the defaults are the paper's (100k steps, 64 members x 1 sequence).

    Validation scores the first ``validation_members`` members (None: all) of the validation
    split, each on a fixed random subset of ``validation_sequences`` of its stored sequences
    (:func:`rnn_zoo.bench.pretraining.validation_subset`); the paper preset validates on one,
    as the authors' code does. The encoder's and the emulator's gradients are each clipped to
    norm ``clip``.
    """

    steps: int = 100_000
    batch_members: int = 64
    batch_sequences: int = 1
    lr: float = 1e-4
    weight_decay: float = 0.01
    clip: float = 0.1
    loss: str = "total-variation"
    validate_every: int = 1_000
    validation_members: int | None = None  # None: every validation member
    validation_sequences: int = 10
    emulator_hidden: int = 256
    emulator_layers: int = 2
    seed: int = 0

    def __post_init__(self) -> None:
        get_loss(self.loss)
        for name in ("steps", "batch_members", "batch_sequences", "validate_every", "validation_sequences"):
            if getattr(self, name) < 1:
                raise ZooError(f"EmulationConfig.{name} must be at least 1, got {getattr(self, name)}")


@dataclass(frozen=True)
class DownstreamConfig:
    """Predictor training: an MLP with one hidden layer, AdamW, minibatches of members."""

    steps: int = 2_000
    supervised_steps: int = 2_000
    batch: int = 256
    lr: float = 1e-3
    supervised_lr: float = 1e-4
    weight_decay: float = 0.01
    hidden: int = 64


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
    references: bool = True  # the constant and oracle rows (rnn_zoo.bench.references)
    preset: str | None = None  # the preset the config was resolved from, if any


@dataclass(frozen=True)
class Preset:
    """What a named preset changes: BenchConfig's own fields, the emulation and downstream
    configs, and per built-in encoder its size options."""

    bench: Mapping[str, Any] = field(default_factory=dict)
    emulation: Mapping[str, Any] = field(default_factory=dict)
    downstream: Mapping[str, Any] = field(default_factory=dict)
    encoders: Options = field(default_factory=dict)


PRESETS: dict[str, Preset] = {
    # tiny: a smoke test of the whole pipeline: narrow encoders, and a high emulation rate so
    # that 100 steps visibly learn.
    "tiny": Preset(
        bench={"seeds": 2, "clone_members": 16, "clone_samples": 100},
        emulation={
            "steps": 100,
            "validate_every": 25,
            "validation_members": 256,
            "emulator_hidden": 64,
            "lr": 3e-3,
            "clip": 1.0,
        },
        downstream={"steps": 200, "supervised_steps": 50, "batch": 64},
        encoders={
            "layer-stats": {"widths": (64,)},
            "flat": {"widths": (64,)},
            "param-transformer": {"width": 32, "layers": 1},
            "dws": {"layers": 2, "channels": 8},
            "probing-noninteractive": {"reader_width": 32, "reader_layers": 1},
            "probing": {"reader_width": 32, "reader_layers": 1},
        },
    ),
    # medium: the CPU-sized ranking of docs/results.md. No supervised baselines: end-to-end
    # training of each encoder on each property would cost more than the pre-training it is
    # compared with; an emulation rate 10x the paper's so 800 steps learn; a narrower
    # parameter transformer (at the authors' size one step takes seconds on a CPU core).
    "medium": Preset(
        bench={"seeds": 3, "clone_members": 64, "clone_samples": 300, "supervised": False},
        emulation={"steps": 800, "validate_every": 200, "emulator_hidden": 128, "lr": 1e-3},
        downstream={"steps": 1_000, "supervised_steps": 500},
        encoders={"param-transformer": {"width": 64, "layers": 2}},
    ),
    # paper-cpu: Table 2 on one 2-core machine, for a zoo of `rnn-zoo build --preset paper-cpu`
    # (1,000 runs x 9 snapshots). Steps and learning rate from that zoo's floor and ceiling
    # curves (benchmarks/headroom_curves.py, docs/results.md): at 2,500 steps the oracle ends at
    # 0.44 of the constant at lr 1e-3 and at 3e-3 alike (0.53 and 0.51 at 2,000). Emulator,
    # downstream and clones as medium's; encoders at the authors' sizes but the parameter
    # transformer, narrowed as in medium.
    "paper-cpu": Preset(
        bench={"seeds": 3, "clone_members": 64, "clone_samples": 300, "supervised": False},
        emulation={
            "steps": 2_500,
            "validate_every": 250,
            "validation_members": 1_024,
            "emulator_hidden": 128,
            "lr": 1e-3,
        },
        downstream={"steps": 1_000, "supervised_steps": 500},
        encoders={"param-transformer": {"width": 64, "layers": 2}},
    ),
    # small and paper use each encoder's default size (the authors', docs/fidelity.md). small's
    # learning rate from the floor and ceiling curves of the README's small zoo (docs/results.md):
    # best oracle / constant 0.74 [0.70, 0.76] at 1e-3, both curves flat from 1,000 steps;
    # 0.84 [0.79, 0.89] at the paper's 1e-4, still falling at 3,000.
    "small": Preset(
        bench={"seeds": 3, "clone_members": 64, "clone_samples": 300},
        emulation={
            "steps": 3_000,
            "validate_every": 500,
            "validation_members": 1_024,
            "emulator_hidden": 128,
            "lr": 1e-3,
        },
        downstream={"steps": 1_000, "supervised_steps": 500},
    ),
    "paper": Preset(
        bench={"seeds": 15},
        emulation={"validation_sequences": 1},
        downstream={"steps": 5_000, "supervised_steps": 10_000},
    ),
}


def preset_named(preset: str | None) -> Preset:
    """The preset called ``preset`` (None: no preset, the defaults)."""
    if preset is None:
        return Preset()
    if preset not in PRESETS:
        raise ZooError(f"unknown bench preset {preset!r}; choose one of: {', '.join(PRESETS)}")
    return PRESETS[preset]


def resolve_config(cls: type[ConfigT], preset: Mapping[str, Any], given: Mapping[str, Any]) -> ConfigT:
    """``cls`` built from its defaults, then the ``preset``'s values, then ``given`` (None = not given)."""
    known = {item.name for item in fields(cls)}  # type: ignore[arg-type]
    given = {key: value for key, value in given.items() if value is not None}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ZooError(
            f"unknown {cls.__name__} option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}"
        )
    return cls(**{**preset, **given})


def emulation_config(preset: str | None = None, **given: Any) -> EmulationConfig:
    """Defaults < preset (tiny, medium, small, paper) < ``given``; unknown keys fail."""
    return resolve_config(EmulationConfig, preset_named(preset).emulation, given)


def downstream_config(preset: str | None = None, **given: Any) -> DownstreamConfig:
    """Defaults < preset (tiny, medium, small, paper) < ``given``; unknown keys fail."""
    return resolve_config(DownstreamConfig, preset_named(preset).downstream, given)


def bench_config(
    preset: str | None = None,
    *,
    emulation: Mapping[str, Any] | None = None,
    downstream: Mapping[str, Any] | None = None,
    **given: Any,
) -> BenchConfig:
    """Defaults < preset (tiny, medium, small, paper) < ``given``, in every config alike.

    ``given`` holds BenchConfig's own fields (seeds, device, properties, ...) and ``steps``,
    the emulation steps; ``emulation`` and ``downstream`` hold those configs' fields.
    """
    chosen = preset_named(preset)
    emulation = {"steps": given.pop("steps", None), **(emulation or {})}
    sections = {
        "emulation": resolve_config(EmulationConfig, chosen.emulation, emulation),
        "downstream": resolve_config(DownstreamConfig, chosen.downstream, downstream or {}),
    }
    if given.get("properties") is not None:
        given["properties"] = tuple(given["properties"]) or None
    return resolve_config(BenchConfig, {**chosen.bench, **sections, "preset": preset}, given)


def encoder_options(
    preset: str | None, names: Sequence[str], given: Mapping[str, Any]
) -> dict[str, dict[str, Any]]:
    """Per encoder: the preset's sizes for a built-in encoder, then the ``given`` options."""
    sizes = preset_named(preset).encoders
    return {name: {**sizes.get(name, {}), **given} for name in names}


def config_record(config: BenchConfig) -> dict[str, Any]:
    """The resolved config as JSON-ready data (results.json, bench.json)."""
    record = asdict(config)
    record["properties"] = list(config.properties) if config.properties else None
    return record


def config_from_record(record: Mapping[str, Any]) -> BenchConfig:
    """The BenchConfig that :func:`config_record` wrote down."""
    values = dict(record)
    values["emulation"] = EmulationConfig(**values["emulation"])
    values["downstream"] = DownstreamConfig(**values["downstream"])
    values["properties"] = tuple(values["properties"]) if values["properties"] else None
    values.pop("bos", None)  # recorded before the BOS token came from the zoo's task family
    values.setdefault("references", False)  # benches from before the reference rows ran none
    return BenchConfig(**values)


@dataclass(frozen=True)
class BenchData:
    """The zoo's splits ready for emulation (:class:`rnn_zoo.bench.pretraining.EmulationData`),
    their metadata rows (:class:`rnn_zoo.bench.downstream.DownstreamRows`), the properties
    to predict, and the zoo's task family (:mod:`rnn_zoo.tasks.registry`; None: it names none)."""

    zoo: Any
    splits: Mapping[str, Any]
    rows: Any
    properties: tuple[str, ...]
    family: Any = None

    @cached_property
    def all_params(self) -> dict[str, Tensor]:
        """Parameters of every member, train then validation then OOD rows (the rows' order); built once."""
        names = self.splits["train"].params
        return {name: torch.cat([self.splits[split].params[name] for split in SPLITS]) for name in names}
