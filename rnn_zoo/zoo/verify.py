"""Check a zoo: hashes, schema, and that parquet and safetensors hold the same weights bit for bit."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rnn_zoo.errors import ZooError
from rnn_zoo.zoo.integrity import file_sha256, reading
from rnn_zoo.zoo.load import column_to_numpy, locate_zoo
from rnn_zoo.zoo.manifest import CARD, INDEX, Zoo
from rnn_zoo.zoo.schema import ZooSchema
from rnn_zoo.zoo.shards import find_shards, read_table


def verify_zoo(root: str | Path | Zoo, progress: Callable[[Iterable], Iterable] = iter) -> Zoo:
    """Raise ZooError naming the first bad file; return the opened zoo when all is well.

    Opening the zoo checks zoo.json, the card and the index itself (:func:`rnn_zoo.zoo.manifest.open_zoo`);
    then, for every config, the shards on disk must be exactly the indexed ones, the card's
    ``configs`` must name exactly them, and each shard must match its sha256 and agree with
    its twin bit for bit.
    """
    zoo = locate_zoo(root)
    entries = zoo.indexed_shards()
    zoo.fetch(entry[kind] for _, entry in entries for kind in ("data_file", "weights_file"))
    _check_shard_names(zoo)
    _check_card(zoo)
    schemas = {part.config_name: part.schema for part in zoo.each_config()}
    for part, entry in progress(entries):
        problem = _shard_problem(part, schemas[part.config_name], entry)
        if problem:
            raise ZooError(f"bad shard {problem}")
    return zoo


def _check_shard_names(zoo: Zoo) -> None:
    folders = [None] if not zoo.multi_config else list(zoo.configs)
    on_disk = {
        shard.data_file
        for folder in folders
        for shards in find_shards(zoo.root, folder).values()
        for shard in shards
    }
    if zoo.multi_config:  # nothing beside the configs' shards, at any depth
        on_disk |= {path.relative_to(zoo.root).as_posix() for path in zoo.root.glob("data/**/*.parquet")}
    indexed = {entry["data_file"] for _, entry in zoo.indexed_shards()}
    named = (("extra", on_disk - indexed), ("missing", indexed - on_disk))
    problems = "; ".join(f"{what} {', '.join(sorted(names))}" for what, names in named if names)
    if problems:
        raise ZooError(f"zoo {zoo.root}: the shards under data/ differ from {INDEX}: {problems}")


def _check_card(zoo: Zoo) -> None:
    """The card's metadata must pass the Hub's checks, and each config's splits name its indexed shards."""
    from rnn_zoo.zoo.card_checks import check_card, data_file_patterns

    if not (zoo.root / CARD).is_file():
        raise ZooError(f"zoo {zoo.root} has no {CARD} (its dataset card); rebuild the zoo to write it")
    configs = check_card(zoo.path(CARD), zoo.root)["configs"]
    if sorted(str(config.get("config_name")) for config in configs) != sorted(zoo.configs):
        raise ZooError(
            f"{zoo.root / CARD}: its configs are not the zoo's ({', '.join(zoo.configs)}); "
            "rebuild the zoo to re-render its card"
        )
    for config in configs:
        part = zoo.config(config["config_name"])
        for item in config["data_files"] if isinstance(config["data_files"], list) else ():
            if not isinstance(item, dict):
                continue
            names = {
                p.relative_to(zoo.root).as_posix() for p in _globbed(zoo, data_file_patterns(item["path"]))
            }
            if names != {entry["data_file"] for entry in part.shards(item["split"])}:
                raise ZooError(
                    f"{zoo.root / CARD}: split {item['split']!r} of config {config.get('config_name')!r} "
                    f"names other files than {INDEX}; rebuild the zoo to re-render its card"
                )


def _globbed(zoo: Zoo, patterns: list[str]) -> list[Path]:
    return [zoo.path(path.relative_to(zoo.root).as_posix()) for p in patterns for path in zoo.root.glob(p)]


def _shard_problem(zoo: Zoo, schema: ZooSchema, entry: Mapping[str, Any]) -> str | None:
    for kind in ("data", "weights"):
        path = zoo.path(entry[f"{kind}_file"])
        if not path.is_file():
            return f"{entry[f'{kind}_file']}: file is missing"
        if file_sha256(path) != entry["sha256"][kind]:
            return f"{entry[f'{kind}_file']}: sha256 does not match {INDEX}"
    with reading(entry["data_file"]):
        table = read_table(zoo.path(entry["data_file"]))
    with reading(entry["weights_file"]):
        return _twin_problem(zoo.path(entry["weights_file"]), schema, entry, table)


def _twin_problem(weights: Path, schema: ZooSchema, entry: Mapping[str, Any], table: Any) -> str | None:
    """What differs between a shard's parquet table and its safetensors file, if anything."""
    from safetensors import safe_open

    data_file, weights_file = entry["data_file"], entry["weights_file"]
    rows = entry["rows"][1] - entry["rows"][0]
    if tuple(table.column_names) != schema.names:
        return f"{data_file}: columns differ from the zoo schema"
    if table.num_rows != rows:
        return f"{data_file}: {table.num_rows} rows, {INDEX} says {rows}"
    with safe_open(str(weights), framework="numpy") as handle:
        if json.loads(handle.metadata()["model_ids"]) != table.column("model_id").to_pylist():
            return f"{weights_file}: model ids differ from {data_file}"
        if set(handle.keys()) != {column.name for column in schema.parameters}:
            return f"{weights_file}: tensor names differ from the member spec"
        for column in schema.parameters:
            stacked = handle.get_tensor(column.name)
            if stacked.shape != (rows, *column.shape) or stacked.dtype != np.float32:
                return f"{weights_file}: {column.name} has shape {stacked.shape} {stacked.dtype}"
            stored = column_to_numpy(table.column(column.name), column)
            if stored.tobytes() != stacked.tobytes():
                return f"{weights_file}: {column.name} differs from {data_file}"
    return None
