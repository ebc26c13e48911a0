"""Check a zoo: hashes, schema, and that parquet and safetensors hold the same weights bit for bit."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from rnn_zoo.errors import ZooError
from rnn_zoo.load import locate_zoo
from rnn_zoo.schema import Column, ZooSchema
from rnn_zoo.store import find_shards, read_table, sha256
from rnn_zoo.zoo import Zoo


def verify_zoo(root: str | Path | Zoo, progress: Callable[[Iterable], Iterable] = iter) -> Zoo:
    """Raise ZooError naming the first bad shard; return the opened zoo when all is well."""
    zoo = locate_zoo(root)
    schema = zoo.schema
    on_disk = {split: [s.data_file for s in shards] for split, shards in find_shards(zoo.root).items()}
    indexed = {split: [s["data_file"] for s in zoo.shards(split)] for split in zoo.splits}
    if on_disk != indexed:
        raise ZooError(f"zoo {zoo.root}: the shards under data/ differ from weights/index.json")
    entries = [entry for split in zoo.splits for entry in zoo.shards(split)]
    for entry in progress(entries):
        problem = _shard_problem(zoo.root, schema, entry)
        if problem:
            raise ZooError(f"bad shard {problem}")
    return zoo


def _shard_problem(root: Path, schema: ZooSchema, entry: Mapping[str, Any]) -> str | None:
    from safetensors import safe_open

    for kind in ("data", "weights"):
        path = root / entry[f"{kind}_file"]
        if not path.is_file():
            return f"{entry[f'{kind}_file']}: file is missing"
        if sha256(path) != entry["sha256"][kind]:
            return f"{entry[f'{kind}_file']}: sha256 does not match weights/index.json"
    data_file, weights_file = entry["data_file"], entry["weights_file"]
    table = read_table(root / data_file)
    rows = entry["rows"][1] - entry["rows"][0]
    if tuple(table.column_names) != schema.names:
        return f"{data_file}: columns differ from the zoo schema"
    if table.num_rows != rows:
        return f"{data_file}: {table.num_rows} rows, weights/index.json says {rows}"
    with safe_open(str(root / weights_file), framework="numpy") as handle:
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


def column_to_numpy(chunked: Any, column: Column) -> np.ndarray:
    """A parquet column of fixed-shape arrays as one (rows, *shape) array, without a row loop."""
    array = chunked.combine_chunks()
    if hasattr(array, "storage"):  # datasets' ArrayND extension type
        array = array.storage
    while hasattr(array, "flatten") and array.type.num_fields:
        array = array.flatten()
    return array.to_numpy(zero_copy_only=False).astype(column.dtype, copy=False).reshape(-1, *column.shape)
