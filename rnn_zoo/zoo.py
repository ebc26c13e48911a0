"""A finished zoo directory: finalising it after its shards are written, and opening it."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnn_zoo.errors import ZooError
from rnn_zoo.schema import ZooSchema
from rnn_zoo.store import (
    FORMAT_VERSION,
    ShardId,
    ZooInfo,
    find_shards,
    library_versions,
    read_table,
    sha256,
    write_json,
    write_text,
)

MANIFEST = "zoo.json"
INDEX = "weights/index.json"


@dataclass(frozen=True)
class Zoo:
    """An opened zoo directory: its manifest (zoo.json), schema and weight index."""

    root: Path
    manifest: Mapping[str, Any]
    index: Mapping[str, Any]

    @property
    def schema(self) -> ZooSchema:
        return ZooSchema.from_dict(self.manifest["schema"])

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.index["splits"])

    def shards(self, split: str) -> list[Mapping[str, Any]]:
        """Index entries of one split's shards, in row order."""
        if split not in self.index["splits"]:
            have = ", ".join(self.splits)
            raise ZooError(f"zoo {self.root} has no split {split!r}; it has: {have}")
        return list(self.index["splits"][split]["shards"])

    def num_rows(self, split: str) -> int:
        return int(self.index["splits"][split]["rows"]) if split in self.index["splits"] else 0

    def fetch(self, files: Iterable[str]) -> None:
        """Make these files (paths relative to ``root``) readable; a local zoo has them all already.

        A zoo opened from the Hub (rnn_zoo.hub.HubZoo) downloads them into the cache.
        """


def open_zoo(root: str | Path) -> Zoo:
    """Open a local zoo directory, checking that it is one and that its format is known."""
    root = Path(root)
    if not root.is_dir():
        raise ZooError(f"{root} is not a directory; give the path of a zoo built by `rnn-zoo build`")
    manifest = _read_json(root / MANIFEST, root)
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise ZooError(f"{root / MANIFEST} has no integer format_version; the zoo is damaged")
    if version > FORMAT_VERSION:
        raise ZooError(
            f"zoo {root} has format version {version}, newer than this rnn-zoo reads "
            f"({FORMAT_VERSION}); upgrade rnn-zoo"
        )
    if version < 1:
        raise ZooError(f"zoo {root} has unknown format version {version}")
    return Zoo(root, manifest, _read_json(root / INDEX, root))


def _read_json(path: Path, root: Path) -> dict[str, Any]:
    if not path.is_file():
        raise ZooError(f"{root} is not an rnn-zoo zoo: {path.relative_to(root)} is missing")
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ZooError(f"{path} is not valid JSON ({error}); the zoo is damaged") from None


def finalize_zoo(root: str | Path, info: ZooInfo) -> Zoo:
    """Index every written shard and write weights/index.json, zoo.json and the card README.md."""
    from rnn_zoo.card import render_card

    root = Path(root)
    shards = find_shards(root)
    if not shards:
        raise ZooError(f"{root} holds no finished shards to index")
    index: dict[str, Any] = {"format_version": FORMAT_VERSION, "splits": {}, "model_ids": {}}
    counts = {}
    for split, split_shards in shards.items():
        entries, runs = _index_split(root, split_shards, index["model_ids"])
        rows = entries[-1]["rows"][1]
        index["splits"][split] = {"rows": rows, "shards": entries}
        counts[split] = {"rows": rows, "runs": runs}
    manifest = {
        "format_version": FORMAT_VERSION,
        "name": info.name,
        "pretty_name": info.pretty_name,
        "description": info.description,
        "schema": info.schema.to_dict(),
        "recipe": dict(info.recipe),
        "build": dict(info.build),
        "versions": library_versions(),
        "counts": counts,
    }
    write_json(root / INDEX, index)
    write_json(root / MANIFEST, manifest)
    write_text(root / "README.md", render_card(manifest))
    return Zoo(root, manifest, index)


def _index_split(root: Path, shards: list[ShardId], locations: dict[str, list]) -> tuple[list[dict], int]:
    from safetensors import safe_open

    entries, start, runs = [], 0, set()
    for shard in shards:
        with safe_open(str(root / shard.weights_file), framework="numpy") as handle:
            model_ids = json.loads(handle.metadata()["model_ids"])
        for row, model_id in enumerate(model_ids):
            locations[model_id] = [shard.split, shard.index, row]
        runs.update(read_table(root / shard.data_file, columns=["run_id"]).column(0).to_pylist())
        stop = start + len(model_ids)
        entries.append(
            {
                "data_file": shard.data_file,
                "weights_file": shard.weights_file,
                "rows": [start, stop],
                "sha256": {
                    "data": sha256(root / shard.data_file),
                    "weights": sha256(root / shard.weights_file),
                },
            }
        )
        start = stop
    return entries, len(runs)
