"""weights/index.json: a zoo's record of itself.

It lists every shard of every split (names, row ranges, the sha256 of both files), maps each
model id to its row, records the sha256 of zoo.json and of the card, and is sealed with its
own sha256 (:func:`rnn_zoo.files.seal_json`), so no byte of a zoo can change unnoticed.
Shard names in it must be exactly the canonical ones (``data/{split}-NNNNN-of-MMMMM.parquet``,
``data/{config}/{split}-...`` in a zoo of several configs), so a reader never opens anything else.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rnn_zoo.errors import ZooError
from rnn_zoo.zoo.card import default_repo_id
from rnn_zoo.zoo.integrity import check_name, file_sha256, reading
from rnn_zoo.zoo.schema import CONFIG_NAME, SPLITS
from rnn_zoo.zoo.shards import ShardId, read_table, shard_record

_HEX = re.compile(r"^[0-9a-f]{64}$")


def card_sha256(raw: bytes, name: str, repo_id: str | None = None) -> str:
    """sha256 of a card, with the loading examples' ``repo_id`` read back as ``rnn-zoo/<name>``.

    ``rnn-zoo push`` points the card's examples at the repo it uploads to; the index records
    the card as built.
    """
    if repo_id is not None:
        raw = raw.replace(f'"{repo_id}"'.encode(), f'"{default_repo_id(name)}"'.encode())
    return hashlib.sha256(raw).hexdigest()


def index_split(root: Path, shards: list[ShardId], locations: dict[str, list]) -> tuple[list[dict], int]:
    """Index entries of one split's finished shards (checked against their records) and its run count."""
    entries, start, runs = [], 0, set()
    for shard in shards:
        digests = _recorded_digests(root, shard)
        with reading(shard.weights_file):
            model_ids = json.loads(_safetensors_metadata(root / shard.weights_file)["model_ids"])
        for row, model_id in enumerate(model_ids):
            locations[model_id] = [shard.split, shard.index, row]
        with reading(shard.data_file):
            runs.update(read_table(root / shard.data_file, columns=["run_id"]).column(0).to_pylist())
        stop = start + len(model_ids)
        entries.append(
            {
                "data_file": shard.data_file,
                "weights_file": shard.weights_file,
                "rows": [start, stop],
                "sha256": digests,
            }
        )
        start = stop
    return entries, len(runs)


def _recorded_digests(root: Path, shard: ShardId) -> dict[str, str]:
    record = shard_record(root, shard)
    if record is None:
        raise ZooError(
            f"{shard.data_file} has no record of its sha256 ({shard.record_file}), so it was not written by "
            f"this build; remove it, or rerun the build command to rebuild it"
        )
    for kind, name in shard.files:
        if file_sha256(root / name) != record[kind]:
            raise ZooError(
                f"{name}: sha256 does not match the one recorded when it was written ({shard.record_file}); "
                f"rerun the build command to rebuild it"
            )
    return record


def _safetensors_metadata(path: Path) -> dict[str, str]:
    from safetensors import safe_open

    with safe_open(str(path), framework="numpy") as handle:
        return handle.metadata()


class _Bad(Exception):
    """One problem with the index's structure, as a clause."""


def check_index(index: Mapping[str, Any], where: str) -> None:
    """Raise ZooError naming ``where`` unless the index has the structure and shard names of its format.

    A zoo of one config (v1) has ``splits`` and ``model_ids`` at the top; a zoo of several (v2)
    has them per config under ``configs``, each config's shards under its own name.
    """
    try:
        if "configs" in index:
            configs = _field(index, "configs", dict)
            if not configs:
                raise _Bad("'configs' is empty")
            for config, block in configs.items():
                if not (isinstance(config, str) and CONFIG_NAME.match(config)):
                    raise _Bad(f"config name {config!r} is not a lower-case name such as lstm-2x32")
                _check_config(block, config, where)
        else:
            _check_config(index, None, where)
        for name in _field(index, "files", dict).values():
            _digest(name)
    except _Bad as problem:
        raise ZooError(f"{where} is damaged ({problem}); re-download or rebuild the zoo") from None


def _check_config(block: Any, config: str | None, where: str) -> None:
    for split, entry in _field(block, "splits", dict).items():
        if split not in SPLITS:
            raise _Bad(f"unknown split {split!r}")
        _check_split(split, entry, where, config)
    _field(block, "model_ids", dict)


def _check_split(split: str, entry: Any, where: str, config: str | None) -> None:
    shards = _field(entry, "shards", list)
    start = 0
    for position, shard in enumerate(shards):
        expected = ShardId(split, position, len(shards), config)
        if not isinstance(shard, dict):
            raise _Bad(f"shard {expected.stem} is not an object")
        for kind, name in expected.files:
            if check_name(shard.get(f"{kind}_file"), where) != name:
                raise _Bad(
                    f"shard {position} of {split} is named {shard.get(f'{kind}_file')!r}, not {name!r}"
                )
            _digest(_field(shard, "sha256", dict).get(kind))
        rows = shard.get("rows")
        if not (isinstance(rows, list) and len(rows) == 2 and rows[0] == start and _count(rows[1]) > start):
            raise _Bad(f"shard {expected.stem} has rows {rows!r}, not a range starting at {start}")
        start = rows[1]
    if not shards or _count(_field(entry, "rows", int)) != start:
        raise _Bad(f"split {split} has {entry.get('rows')!r} rows but shards for {start}")


def _field(mapping: Any, key: str, kind: type) -> Any:
    value = mapping.get(key) if isinstance(mapping, dict) else None
    if not isinstance(value, kind):
        raise _Bad(f"{key!r} is missing or not a {kind.__name__}")
    return value


def _digest(value: Any) -> str:
    if not (isinstance(value, str) and _HEX.match(value)):
        raise _Bad(f"{value!r} is not a sha256")
    return value


def _count(value: Any) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Bad(f"{value!r} is not a row count")
    return value
