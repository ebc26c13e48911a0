"""What a recipe builds, before anything is trained: its runs, configs and shards.

The runs (task, split, seed, weight decay) follow from the recipe alone. A recipe that lists
architectures builds a zoo of one config per architecture: each run draws its architecture
from its own seed, so the draw does not depend on the number of runs, the population or the
order. Runs are grouped by config, then split, into shards of ``runs_per_shard`` runs; a
shard is the unit of resume and of ``--shard i/n`` parts.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rnn_zoo.build.families import DataSources, task_families
from rnn_zoo.build.recipe import ARCHITECTURES, DEFAULT_VARIANT, Recipe
from rnn_zoo.folder import take_part
from rnn_zoo.tasks import streams
from rnn_zoo.tasks.family import Run, TaskFamily
from rnn_zoo.zoo.schema import SPLITS, ZooSchema, spec_config_name, with_architecture
from rnn_zoo.zoo.shards import ShardId, ZooInfo

STREAM_RUN_SEED, STREAM_WEIGHT_DECAY, STREAM_ARCHITECTURE = 11, 12, 13


@dataclass(frozen=True)
class ShardPlan:
    """One shard of the zoo and the runs whose snapshots it holds, in row order."""

    shard: ShardId
    runs: tuple[Run, ...]


@dataclass(frozen=True)
class ZooPlan:
    """What a recipe builds: each config's task family and schema, and every shard with its runs.

    Configs are keyed by name; a recipe of one architecture has the one config None (its
    files directly under data/ and weights/).
    """

    families: dict[str | None, TaskFamily]
    schemas: dict[str | None, ZooSchema]
    shards: list[ShardPlan]

    @property
    def family(self) -> TaskFamily:
        """The first config's family: what every config shares (task, names, data record)."""
        return next(iter(self.families.values()))


def plan_runs(family: TaskFamily, recipe: Recipe) -> list[Run]:
    """Every run of the recipe: task and split from the family, seed and weight decay hashed."""
    runs = []
    for run_id, (task, split) in enumerate(family.draw_tasks(recipe.runs, recipe.seed)):
        decay = recipe.weight_decay[
            streams.seed_of(recipe.seed, STREAM_WEIGHT_DECAY, run_id) % len(recipe.weight_decay)
        ]
        runs.append(Run(run_id, streams.seed_of(recipe.seed, STREAM_RUN_SEED, run_id), split, task, decay))
    return runs


def plan_shards(runs: Sequence[Run], runs_per_shard: int, config: str | None = None) -> list[ShardPlan]:
    """Runs grouped by split (train, validation, ood) into shards of ``runs_per_shard`` runs (of ``config``)."""
    plans = []
    for split in SPLITS:
        members = [run for run in runs if run.split == split]
        count = -(-len(members) // runs_per_shard)
        for index in range(count):
            chunk = members[index * runs_per_shard : (index + 1) * runs_per_shard]
            plans.append(ShardPlan(ShardId(split, index, count, config), tuple(chunk)))
    return plans


def draw_architecture(run: Run, count: int) -> int:
    """Which of ``count`` architectures a run trains: drawn from its own seed alone."""
    return streams.seed_of(run.seed, STREAM_ARCHITECTURE) % count


def plan_zoo(recipe: Recipe, data: DataSources | None = None) -> ZooPlan:
    """Every config of the recipe's zoo that draws runs, and its shards: config by config, then by split."""
    families = task_families(recipe, data)
    runs = plan_runs(families[0], recipe)
    if not recipe.mixed:
        family = families[0]
        return ZooPlan({None: family}, {None: family.schema()}, plan_shards(runs, recipe.runs_per_shard))
    drawn = [draw_architecture(run, len(families)) for run in runs]
    plan = ZooPlan({}, {}, [])
    for number, family in enumerate(families):
        mine = [run for run, which in zip(runs, drawn, strict=True) if which == number]
        name = spec_config_name(family.spec)
        if mine:
            plan.families[name] = family
            plan.schemas[name] = with_architecture(family.schema(), tuple(ARCHITECTURES))
            plan.shards.extend(plan_shards(mine, recipe.runs_per_shard, name))
    return plan


def part_of(plans: Sequence[ShardPlan], part: tuple[int, int] | None) -> list[ShardPlan]:
    """The shards of part i of n (every n-th shard, from the i-th); all shards for None."""
    return take_part(plans, part, "shards in the recipe")


def zoo_info(plan: ZooPlan, recipe: Recipe, build: dict) -> ZooInfo:
    """The manifest fields of a zoo built from ``recipe``; a family's ``build_record`` joins ``build``."""
    family = plan.family
    build = {**build, **family.build_record}  # e.g. which MNIST the zoo was trained on
    if not recipe.mixed:
        return ZooInfo(
            family.name,
            f"{family.title} {family.spec.cell_family.label} zoo",
            family.description,
            plan.schemas[None],
            recipe.to_dict(),
            build,
        )
    description = (
        f"{family.description} Members come in {len(plan.schemas)} architectures, one config each "
        f"({', '.join(map(str, plan.schemas))}); each run draws its architecture from its own seed."
    )
    return ZooInfo(
        zoo_name(recipe),
        f"{family.title} zoo, {recipe.variant} architectures",
        description,
        {str(name): schema for name, schema in plan.schemas.items()},
        recipe.to_dict(),
        build,
    )


def zoo_name(recipe: Recipe) -> str:
    """The zoo's name (and default folder): the task, plus the recipe variant when it has one."""
    return recipe.task if recipe.variant == DEFAULT_VARIANT else f"{recipe.task}-{recipe.variant}"
