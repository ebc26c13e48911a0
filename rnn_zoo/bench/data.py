"""What a bench reads of a zoo: every split ready for emulation, the rows the predictors use,
the properties to predict, and the zoo's task family (the one its zoo.json names)."""

from __future__ import annotations

from typing import Any

from rnn_zoo.bench.config import SPLITS, BenchConfig, BenchData
from rnn_zoo.bench.downstream import TooFewTasks, downstream_rows
from rnn_zoo.bench.pretraining import emulation_data
from rnn_zoo.bench.probes import require_probes
from rnn_zoo.bench.properties import available_properties, column_shapes, get_property
from rnn_zoo.errors import ZooError
from rnn_zoo.tasks.registry import family_of, outdated_probes, runs_for_ood_tasks
from rnn_zoo.zoo.load import load_weights, locate_zoo
from rnn_zoo.zoo.manifest import Zoo


def bench_data(zoo: Any, config: BenchConfig, zoo_config: str | None = None) -> BenchData:
    """Load every split of ``zoo`` (of config ``zoo_config`` in a zoo of several) and check
    that it has the requested properties (by default every one its family offers)."""
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
    family = family_of(opened.manifest)
    names = config.properties or available_properties(rows.table, family)
    for name in names:
        get_property(name).check(column_shapes(rows.table), str(opened.root))
    splits = {split: emulation_data(opened, split).to(config.device) for split in SPLITS}
    return BenchData(opened, splits, rows, tuple(names), family)


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
    recipe = zoo.manifest.get("recipe") or {}
    task, seed = recipe.get("task"), recipe.get("seed", 0)
    preset = f" --preset {recipe['preset']}" if recipe.get("preset") else ""
    if recipe.get("variant"):  # a config of a zoo of several holds a share of the zoo's runs
        return (
            f"rebuild the zoo with more than its {recipe.get('runs')} runs: "
            f"`rnn-zoo build --task {task} --recipe {recipe['variant']}{preset} --seed {seed} --runs N`"
        )
    built = task and "runs" in recipe  # a zoo that `rnn-zoo build` wrote (not, e.g., a synthetic one)
    runs = runs_for_ood_tasks(str(task), int(seed), needed=2) if built else None
    if runs is None:
        return "build it with more runs (`rnn-zoo build ... --runs N`)"
    return f"rebuild it with more runs: `rnn-zoo build --task {task}{preset} --seed {seed} --runs {runs}`"
