"""Zoo recipes: one TOML file per zoo in builders/, with named presets.

A recipe file holds the zoo's default settings at its top level and presets under
``[presets.NAME]``. Settings resolve as default < preset < command line; a key the recipe
does not know is an error, never silently ignored. The resolved recipe is stored in the
zoo's zoo.json.

A file may also hold named recipe variants, ``[recipes.NAME]`` (``rnn-zoo build --recipe
NAME``), with presets of their own, ``[recipes.NAME.presets.PRESET]``: they share the task's
schedule and options and change what differs, resolving as file default < variant default <
file preset < variant preset < command line. The architecture keys (``ARCHITECTURES``:
MemberSpec fields) may be lists: each run then draws one value of each from its seed, and
the zoo holds one config per architecture.

A recipe's ``version`` says what its zoo's rows mean beyond their shapes (e.g. which images
an MNIST member's probes are): it goes up when a recipe changes what a zoo holds without
changing the zoo format, so a reader can tell zoos built before the change. A zoo.json
without one was built at version 1.
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from rnn_zoo.build.trainer import TrainConfig
from rnn_zoo.errors import ZooError
from rnn_zoo.member.cells import CELLS
from rnn_zoo.tasks.registry import family_names, read_recipe_file


def _integer(value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"expected an integer, got {value!r}")
    return value


def _cell(value: Any) -> str:
    if value not in CELLS:
        raise ValueError(f"unknown cell {value!r}; choose from {', '.join(CELLS)}")
    return str(value)


MAX_RUNS = 1_000_000  # 1,000 times the paper's zoo: more is a typo, not a plan
DEFAULT_VARIANT = "default"  # the recipe file's own defaults, no [recipes.NAME]
# The MemberSpec fields a recipe sets, each a value or a list to draw from, with their parsers.
ARCHITECTURES: dict[str, Callable[[Any], Any]] = {
    "cell": _cell,
    "hidden_size": _integer,
    "num_layers": _integer,
}
DEFAULT_CELL = "lstm"  # recorded in zoo.json only when another, so LSTM recipes record as before


@dataclass(frozen=True)
class Recipe:
    """Everything that determines a zoo's contents (the device and population size do not)."""

    task: str
    preset: str
    version: int
    runs: int
    seed: int
    hidden_size: int | tuple[int, ...]  # a tuple: each run draws one (see ARCHITECTURES)
    num_layers: int | tuple[int, ...]
    batch_size: int
    snapshot_steps: tuple[int, ...]
    learning_rate: tuple[tuple[int, float], ...]
    weight_decay: tuple[float, ...]
    runs_per_shard: int
    task_options: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    variant: str = DEFAULT_VARIANT  # the [recipes.NAME] of the file, or the file's own defaults
    cell: str | tuple[str, ...] = DEFAULT_CELL  # the members' recurrent cell (rnn_zoo.member.cells)

    @property
    def mixed(self) -> bool:
        """Whether the recipe lists architectures: a zoo of one config per architecture."""
        return any(isinstance(getattr(self, key), tuple) for key in ARCHITECTURES)

    def architectures(self) -> list[dict[str, Any]]:
        """Every architecture of the recipe (MemberSpec fields), the product of the listed values in order."""
        axes = [_values(getattr(self, key)) for key in ARCHITECTURES]
        return [dict(zip(ARCHITECTURES, values, strict=True)) for values in itertools.product(*axes)]

    def __post_init__(self) -> None:
        steps = self.snapshot_steps
        sizes = [size for axis in self._axes() for size in _values(axis) if isinstance(size, int)]
        problems = {
            "version must be at least 1": self.version < 1,
            f"runs must be 1 to {MAX_RUNS:,}": not 1 <= self.runs <= MAX_RUNS,
            "seed must be 0 to 2**63-1 (an int64 counter seed)": not 0 <= self.seed < 2**63,
            "snapshot_steps must be increasing steps >= 0": not steps
            or list(steps) != sorted(set(steps))
            or steps[0] < 0,
            "learning_rate needs (step, rate) points in increasing step order": not self.learning_rate
            or [s for s, _ in self.learning_rate] != sorted({s for s, _ in self.learning_rate}),
            "weight_decay must list at least one value": not self.weight_decay,
            "runs_per_shard, batch_size, hidden_size and num_layers must be at least 1": min(
                self.runs_per_shard, self.batch_size, *sizes
            )
            < 1,
            "a list of architecture values must be non-empty, each value once": any(
                len(set(values)) != len(values) or not values for values in map(_values, self._axes())
            ),
        }
        for problem, failed in problems.items():
            if failed:
                raise ZooError(f"recipe {self.task!r} (preset {self.preset!r}): {problem}")

    def train_config(self) -> TrainConfig:
        """The trainer's view of the recipe."""
        return TrainConfig(self.batch_size, self.snapshot_steps, self.learning_rate)

    def _axes(self) -> list[Any]:
        return [getattr(self, key) for key in ARCHITECTURES]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form (lists for tuples), as stored in zoo.json; ``variant`` only when not the default."""
        data = dataclasses.asdict(self)
        data["snapshot_steps"] = list(self.snapshot_steps)
        data["learning_rate"] = [list(point) for point in self.learning_rate]
        data["weight_decay"] = list(self.weight_decay)
        data["task_options"] = dict(self.task_options)
        for key in ARCHITECTURES:
            data[key] = list(data[key]) if isinstance(data[key], tuple) else data[key]
        if self.variant == DEFAULT_VARIANT:
            del data["variant"]  # a recipe's own defaults record as they did before variants
        if self.cell == DEFAULT_CELL:
            del data["cell"]  # an LSTM recipe records as it did before cells
        return data


def _values(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


FIELDS = tuple(field.name for field in dataclasses.fields(Recipe) if field.name not in ("preset", "variant"))


def available_tasks() -> list[str]:
    """Task names a recipe can name: every registered task family (:mod:`rnn_zoo.tasks.registry`)."""
    return family_names()


def load_recipe(
    task: str,
    preset: str = "paper",
    overrides: Mapping[str, Any] | None = None,
    variant: str = DEFAULT_VARIANT,
) -> Recipe:
    """Resolve a recipe: the file's defaults, the variant's, the preset (the file's, then the
    variant's), then ``overrides`` (e.g. --runs)."""
    data = read_recipe_file(task)
    variants = data.get("recipes", {})
    if variant != DEFAULT_VARIANT and variant not in variants:
        known = ", ".join([DEFAULT_VARIANT, *variants])
        raise ZooError(f"unknown recipe {variant!r} for task {task!r}; choose one of: {known}")
    chosen = variants.get(variant, {})
    presets = data.get("presets", {})
    if preset not in presets:
        raise ZooError(f"unknown preset {preset!r} for task {task!r}; choose one of: {', '.join(presets)}")
    settings = _settings(data, f"builders/{task}.toml")
    layers = (
        (chosen, f"recipe {variant!r}"),
        (presets[preset], f"preset {preset!r}"),
        (chosen.get("presets", {}).get(preset, {}), f"preset {preset!r} of recipe {variant!r}"),
        (overrides or {}, "the command line"),
    )
    for layer, where in layers:
        layer = _settings(layer, where)
        options = {**settings.get("task_options", {}), **layer.pop("task_options", {})}
        settings.update(layer, task_options=options)
    missing = [name for name in FIELDS if name not in settings]
    if missing:
        raise ZooError(f"builders/{task}.toml does not set {', '.join(missing)}")
    if settings["task"] != task:
        raise ZooError(f"builders/{task}.toml names task {settings['task']!r}; the file name must match")
    return _recipe(settings, preset, variant)


def _settings(table: Mapping[str, Any], where: str) -> dict[str, Any]:
    """The recipe settings of one layer, refusing keys the recipe does not know."""
    settings = {key: value for key, value in table.items() if key not in ("presets", "recipes")}
    unknown = sorted(set(settings) - set(FIELDS))
    if unknown:
        raise ZooError(f"{where} sets unknown recipe key(s) {', '.join(unknown)}; known: {', '.join(FIELDS)}")
    return settings


def _recipe(settings: Mapping[str, Any], preset: str, variant: str) -> Recipe:
    try:
        return Recipe(
            task=str(settings["task"]),
            preset=preset,
            version=_integer(settings["version"]),
            runs=_integer(settings["runs"]),
            seed=_integer(settings["seed"]),
            **{key: _architecture(settings[key], parse) for key, parse in ARCHITECTURES.items()},
            batch_size=_integer(settings["batch_size"]),
            snapshot_steps=tuple(_integer(step) for step in settings["snapshot_steps"]),
            learning_rate=tuple((_integer(step), float(rate)) for step, rate in settings["learning_rate"]),
            weight_decay=tuple(float(value) for value in settings["weight_decay"]),
            runs_per_shard=_integer(settings["runs_per_shard"]),
            task_options=dict(settings.get("task_options", {})),
            variant=variant,
        )
    except (TypeError, ValueError) as error:
        raise ZooError(
            f"recipe {settings['task']!r} (preset {preset!r}) has a badly typed value: {error}"
        ) from None


def _architecture(value: Any, parse: Callable[[Any], Any]) -> Any:
    """One architecture key's value: a scalar, or a list (a tuple: each run draws one)."""
    return tuple(parse(item) for item in value) if isinstance(value, list) else parse(value)
