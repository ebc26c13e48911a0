"""Merging the directories of ``rnn-zoo build --shard i/n`` parts into one zoo, checked against the plan.

A part is trusted only as far as the plan of its recorded recipe and seed allows: it may hold
only the shards its index owns (every n-th from the i-th), each shard's files must match the
record written with them, and each shard's rows must be the runs the plan assigns it (run
ids, snapshot steps, model ids, tasks and weight decays, in row order). Anything else is
refused naming the part and the shard, and nothing is copied from a refused part.

The merged zoo is byte-identical to a single build of the recipe but for its build record:
zoo.json records ``"merged_parts": N`` where a single build records the device it trained on,
so zoo.json, the card rendered from it (README.md) and weights/index.json, which records
their sha256, differ; every shard is identical.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from rnn_zoo.build.families import DataSources
from rnn_zoo.build.output import (
    build_folder,
    claim_output,
    data_identity,
    describe_data,
    read_claim,
    release_output,
)
from rnn_zoo.build.plan import ShardPlan, ZooPlan, part_of, plan_zoo, zoo_info
from rnn_zoo.build.recipe import DEFAULT_VARIANT, Recipe, load_recipe
from rnn_zoo.errors import ZooError
from rnn_zoo.folder import OutputFolder
from rnn_zoo.zoo.integrity import file_sha256, reading
from rnn_zoo.zoo.manifest import INDEX, Zoo, finalize_zoo
from rnn_zoo.zoo.schema import ZooSchema, model_id
from rnn_zoo.zoo.shards import ShardId, read_table, shard_done, shard_record

PLAN_COLUMNS = ("run_id", "step", "model_id", "task", "weight_decay")


def merge_parts(parts: Sequence[Path], out: Path, data: DataSources | None = None) -> Zoo:
    """Combine the directories of ``--shard i/n`` builds of one recipe into one finished zoo.

    ``data`` says where to find the parts' external data (MNIST) again, for the zoo's record.
    """
    claims = [_part_claim(Path(path)) for path in parts]
    recipes = {json.dumps(claim.get("recipe"), sort_keys=True) for claim in claims}
    if len(recipes) != 1:
        raise ZooError("the parts were built from different recipes or seeds; merge parts of one build only")
    if len({json.dumps(claim.get("data"), sort_keys=True) for claim in claims}) != 1:
        raise ZooError("the parts were trained on different data; merge parts of one build only")
    recipe = _recipe_from(claims[0]["recipe"])
    plan = plan_zoo(recipe, data)
    found = data_identity(plan.family.build_record)
    if found != claims[0]["data"]:
        raise ZooError(
            f"the parts were trained on {describe_data(claims[0]['data'])} but {describe_data(found)} was "
            "found; give the same source with --mnist / --mnist-dir"
        )
    owners = [_checked_part(Path(path), claim, plan) for path, claim in zip(parts, claims, strict=True)]
    with claim_output(Path(out), recipe, None, found) as folder:
        for shard in plan.shards:
            if not shard_done(folder.root, shard.shard):
                _copy_shard(owners, shard.shard, folder)
        zoo = finalize_zoo(folder.root, zoo_info(plan, recipe, {"merged_parts": len(parts)}))
        release_output(folder.root)
    return zoo


def _part_claim(path: Path) -> dict[str, Any]:
    claim = read_claim(path) if path.is_dir() else None
    if claim is None or not isinstance(claim.get("recipe"), dict):
        raise ZooError(
            f"{path} is not the directory of an rnn-zoo build; give directories written by `rnn-zoo build --shard`"
        )
    return claim


def _recipe_from(data: dict[str, Any]) -> Recipe:
    """The recipe a build recorded, re-resolved from its recipe file (and checked to be the same)."""
    fields = {key: value for key, value in data.items() if key not in ("task", "preset", "variant")}
    try:
        recipe = load_recipe(data["task"], data["preset"], fields, data.get("variant", DEFAULT_VARIANT))
    except KeyError as error:
        raise ZooError(f"the parts' recorded recipe has no {error}; the parts are damaged") from None
    if json.loads(json.dumps(recipe.to_dict())) != data:
        raise ZooError(f"the recorded recipe of task {data['task']!r} no longer resolves to itself")
    return recipe


def _part_of(claim: dict[str, Any], where: Path) -> tuple[int, int] | None:
    part = claim.get("part")
    if part is None:
        return None
    if not (isinstance(part, list) and len(part) == 2 and all(type(n) is int for n in part)):
        raise ZooError(f"part {where}: its build.json records no part i/n ({part!r}); the part is damaged")
    return part[0], part[1]


def _checked_part(path: Path, claim: dict[str, Any], plan: ZooPlan) -> tuple[OutputFolder, list[ShardPlan]]:
    """The part's folder and the shards it owns, once what it holds is checked against the plan."""
    part, folder = _part_of(claim, path), build_folder(path)
    folder.check_place()
    label = f"part {path} (--shard {part[0]}/{part[1]})" if part else f"part {path}"
    try:
        owned = part_of(plan.shards, part)
    except ZooError as error:
        raise ZooError(f"{label} does not fit the recipe's plan: {error}") from None
    allowed = {
        INDEX,
        *(name for shard in owned for _, name in (*shard.shard.files, ("record", shard.shard.record_file))),
    }
    for name in _shard_files(folder):
        if name not in allowed:
            raise ZooError(
                f"{label} holds {name}, which is no shard its index owns under the recipe and seed it "
                "records; it comes from another build: remove it and merge again"
            )
    schemas = plan.schemas
    for shard in owned:
        if shard_done(path, shard.shard):
            _check_rows(path, shard, schemas[shard.shard.config], label)
    return folder, owned


def _shard_files(folder: OutputFolder) -> list[str]:
    """The names of every file a part holds under data/, weights/ and .build/ (but the lock and marker)."""
    names = folder.files()
    return [name for name in names if name.split("/")[0] in ("data", "weights")] + [
        f"{folder.state}/{path.relative_to(folder.root / folder.state).as_posix()}"
        for path in sorted((folder.root / folder.state).rglob("*.json"))
    ]


def _check_rows(root: Path, plan: ShardPlan, schema: ZooSchema, label: str) -> None:
    """Refuse a shard whose rows are not the planned runs' snapshots, in row order."""
    shard = plan.shard
    columns = [name for name in PLAN_COLUMNS if name in schema.names or name == "model_id"]
    with reading(f"{label}: {shard.data_file}"):
        table = read_table(root / shard.data_file, columns=columns).to_pydict()
    with reading(f"{label}: {shard.weights_file}"):
        weights_ids = _weights_model_ids(root / shard.weights_file)
    runs = {run.run_id: run for run in plan.runs}
    dtypes = {column.name: column.dtype for column in schema.columns}
    order = list(dict.fromkeys(table["run_id"]))
    wrong = order != [run.run_id for run in plan.runs] or weights_ids != table["model_id"]
    for row, run_id in enumerate(table["run_id"]):
        run = runs.get(run_id)
        wrong = wrong or run is None or table["model_id"][row] != model_id(run_id, table["step"][row])
        for name in ("task", "weight_decay"):
            if not wrong and name in table:
                expected = run.task if name == "task" else run.weight_decay
                wrong = not _same(table[name][row], expected, dtypes[name])
    if wrong:
        raise ZooError(
            f"{label}: shard {shard.stem} does not hold the runs the plan assigns it (run ids, steps, tasks "
            "or weight decays differ); it comes from another build: build that part again and merge again"
        )


def _same(value: Any, expected: Any, dtype: str) -> bool:
    stored = np.asarray(value, dtype=dtype)
    planned = np.asarray(expected, dtype=dtype)
    return stored.size == planned.size and np.array_equal(stored.ravel(), planned.ravel())


def _weights_model_ids(path: Path) -> list[str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        return json.loads((handle.metadata() or {})["model_ids"])


def _copy_shard(
    owners: Sequence[tuple[OutputFolder, list[ShardPlan]]], shard: ShardId, out: OutputFolder
) -> None:
    """Copy a shard from a part that owns it and whose files match its record, checking the copies too."""
    owning = [folder for folder, owned in owners if any(plan.shard == shard for plan in owned)]
    source = next((folder for folder in owning if shard_done(folder.root, shard)), None)
    record = shard_record(source.root, shard) if source is not None else None
    if source is None or record is None:
        which = ", ".join(str(folder.root) for folder in owning) or "none of the parts given"
        raise ZooError(
            f"no part holds shard {shard.stem} (with files that match the record written with them); "
            f"it belongs to {which}: build that part again and merge again"
        )
    out.copy_from(source, {name: record[kind] for kind, name in shard.files}, file_sha256)
    out.copy_from(source, {shard.record_file: source.digests([shard.record_file])[shard.record_file]})
