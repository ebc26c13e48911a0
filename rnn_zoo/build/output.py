"""A build's output directory: claiming it for one recipe, and merging ``--shard`` parts.

While a build is unfinished, ``build.json`` in its directory records the resolved recipe,
the part and the identity of external training data (the sha256 of the MNIST images); a
finished zoo records the same in zoo.json. A directory holding anything else, or a build of
another recipe, part or data, is refused, so nothing already there is overwritten or mixed.
Builds and merges hold the directory's write lock (:mod:`rnn_zoo.build.lock`) meanwhile, so
the claim cannot be checked by two writers at once.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from rnn_zoo.build.families import DataSources
from rnn_zoo.build.lock import output_lock
from rnn_zoo.build.plan import plan_zoo, zoo_info
from rnn_zoo.build.recipe import DEFAULT_VARIANT, Recipe, load_recipe
from rnn_zoo.errors import ZooError
from rnn_zoo.files import atomic_path, write_json
from rnn_zoo.zoo.integrity import file_sha256
from rnn_zoo.zoo.manifest import MANIFEST, Zoo, finalize_zoo
from rnn_zoo.zoo.shards import BUILD_STATE, ShardId, shard_done, shard_record

MARKER = "build.json"


def data_identity(build_record: dict[str, Any]) -> dict[str, str]:
    """Which external data a build trained on: the sha256 of each source in a family's build record."""
    return {
        name: record["sha256"]
        for name, record in sorted(build_record.items())
        if isinstance(record, dict) and "sha256" in record
    }


def _claim(recipe: Recipe, part: tuple[int, int] | None, data: dict[str, str]) -> dict[str, Any]:
    return {"recipe": recipe.to_dict(), "part": list(part) if part else None, "data": data}


def read_claim(out: Path) -> dict[str, Any] | None:
    """What build a directory holds: the marker of an unfinished build, or a finished zoo's recipe."""
    for name, read in (
        (MARKER, lambda d: {"data": {}, **d}),
        (
            MANIFEST,
            lambda d: {"recipe": d.get("recipe"), "part": None, "data": data_identity(d.get("build", {}))},
        ),
    ):
        path = out / name
        if path.is_file():
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
                if isinstance(data, dict):
                    return read(data)
            except (json.JSONDecodeError, UnicodeDecodeError, AttributeError, TypeError):
                pass
            raise ZooError(f"{path} is damaged; remove {out} or choose another --out")
    return None


def claim_output(
    out: Path, recipe: Recipe, part: tuple[int, int] | None, data: dict[str, str] | None = None
) -> None:
    """Make ``out`` the directory of this build, or refuse if it holds something else.

    ``data`` is the build's :func:`data_identity`. The caller holds the write lock of ``out``.
    """
    wanted = json.loads(json.dumps(_claim(recipe, part, data or {})))
    if out.exists() and not out.is_dir():
        raise ZooError(f"--out {out} is a file; give a directory")
    found = read_claim(out) if out.is_dir() else None
    if found is None and out.is_dir() and any(path.name != BUILD_STATE for path in out.iterdir()):
        raise ZooError(f"{out} is not empty and holds no rnn-zoo build; choose another --out")
    if found is not None and found != wanted:
        if found.get("recipe") != wanted["recipe"]:
            what = "recipe, preset or seed"
        elif found.get("data") != wanted["data"]:
            what = f"training data ({_describe(found['data'])}, not {_describe(wanted['data'])})"
        else:
            what = "part"
        raise ZooError(f"{out} holds a build with another {what}; choose another --out or remove {out}")
    if found is None or not (out / MANIFEST).is_file():
        write_json(out / MARKER, wanted)


def release_output(out: Path) -> None:
    """Drop the unfinished-build marker once zoo.json records the build."""
    (out / MARKER).unlink(missing_ok=True)


def merge_parts(parts: Sequence[Path], out: Path, data: DataSources | None = None) -> Zoo:
    """Combine the directories of ``--shard i/n`` builds of one recipe into one finished zoo.

    ``data`` says where to find the parts' external data (MNIST) again, for the zoo's record.
    """
    claims = [_part_claim(path) for path in parts]
    recipes = {json.dumps(claim["recipe"], sort_keys=True) for claim in claims}
    if len(recipes) != 1:
        raise ZooError("the parts were built from different recipes or seeds; merge parts of one build only")
    if len({json.dumps(claim["data"], sort_keys=True) for claim in claims}) != 1:
        raise ZooError("the parts were trained on different data; merge parts of one build only")
    recipe = _recipe_from(claims[0]["recipe"])
    plan = plan_zoo(recipe, data)
    found = data_identity(getattr(plan.family, "build_record", {}))
    if found != claims[0]["data"]:
        raise ZooError(
            f"the parts were trained on {_describe(claims[0]['data'])} but {_describe(found)} was found; "
            "give the same source with --mnist / --mnist-dir"
        )
    with output_lock(out):
        claim_output(out, recipe, None, found)
        for shard in plan.shards:
            if not shard_done(out, shard.shard):
                _copy_shard(parts, shard.shard, out)
        zoo = finalize_zoo(out, zoo_info(plan, recipe, {"merged_parts": len(parts)}))
        release_output(out)
    return zoo


def _copy_shard(parts: Sequence[Path], shard: ShardId, out: Path) -> None:
    """Copy a shard whose files match their record from one of ``parts``, checking the copies too."""
    source = next((path for path in parts if shard_done(path, shard)), None)
    record = shard_record(source, shard) if source is not None else None
    if source is None or record is None:
        raise ZooError(
            f"no part holds shard {shard.stem} (with files that match the record written with them); "
            "build the missing part again and merge again"
        )
    for kind, name in shard.files:
        with atomic_path(out / name) as temporary:
            shutil.copyfile(source / name, temporary)
            if file_sha256(temporary) != record[kind]:
                raise ZooError(f"{source / name} changed while it was copied; merge again")
    write_json(out / shard.record_file, record)


def _describe(data: dict[str, str]) -> str:
    return ", ".join(f"{name} sha256 {digest[:12]}" for name, digest in data.items()) or "no external data"


def _part_claim(path: Path) -> dict[str, Any]:
    claim = read_claim(path) if path.is_dir() else None
    if claim is None:
        raise ZooError(
            f"{path} is not the directory of an rnn-zoo build; give directories written by `rnn-zoo build --shard`"
        )
    return claim


def _recipe_from(data: dict[str, Any]) -> Recipe:
    """The recipe a build recorded, re-resolved from its recipe file (and checked to be the same)."""
    fields = {key: value for key, value in data.items() if key not in ("task", "preset", "variant")}
    recipe = load_recipe(data["task"], data["preset"], fields, data.get("variant", DEFAULT_VARIANT))
    if json.loads(json.dumps(recipe.to_dict())) != data:
        raise ZooError(f"the recorded recipe of task {data['task']!r} no longer resolves to itself")
    return recipe
