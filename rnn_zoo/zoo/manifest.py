"""A finished zoo directory: finalising it after its shards are written, and opening it."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnn_zoo.errors import ZooError
from rnn_zoo.zoo.index import card_sha256, check_index, index_split
from rnn_zoo.zoo.integrity import check_sha256s, inside, parse_json, seal_json, unseal_json
from rnn_zoo.zoo.schema import ZooSchema
from rnn_zoo.zoo.shards import FORMAT_VERSION, ZooInfo, find_shards, json_text, library_versions, write_text

MANIFEST = "zoo.json"
INDEX = "weights/index.json"
CARD = "README.md"


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

    @property
    def storage(self) -> Path:
        """The folder every file of the zoo must lie in, links followed: the zoo's own root."""
        return self.root

    def path(self, name: str) -> Path:
        """The file ``name`` of the zoo; ZooError if the name (or a link on the way) leaves the zoo."""
        return inside(self.root, name, f"zoo {self.root}", self.storage)

    def shard_paths(self, split: str, kinds: Sequence[str], verify: bool = True) -> list[Path]:
        """Paths of one split's shard files of these kinds (``data``, ``weights``), in row order.

        The files are fetched (a zoo on the Hub), must all be there, and with ``verify`` must
        match their sha256 in the index; otherwise ZooError names them.
        """
        named = [
            (entry[f"{kind}_file"], entry["sha256"][kind]) for entry in self.shards(split) for kind in kinds
        ]
        self.fetch(name for name, _ in named)
        paths = [self.path(name) for name, _ in named]
        missing = [name for (name, _), path in zip(named, paths, strict=True) if not path.is_file()]
        if missing:
            raise ZooError(f"zoo {self.root} is missing {', '.join(missing)}; re-download or rebuild the zoo")
        if verify:
            check_sha256s([(path, digest, name) for (name, digest), path in zip(named, paths, strict=True)])
        return paths

    def fetch(self, files: Iterable[str]) -> None:
        """Make these files (paths relative to ``root``) readable; a local zoo has them all already.

        A zoo opened from the Hub (rnn_zoo.zoo.hub.HubZoo) downloads them into the cache.
        """


def open_zoo(root: str | Path, *, repo_id: str | None = None, storage: Path | None = None) -> Zoo:
    """Open a local zoo directory, checking that it is one, of a known format, and undamaged.

    zoo.json and the card must match the sha256 the sealed weights/index.json records, and the
    index must name only the zoo's own shards. ``repo_id`` is the Hub repo a card was pushed
    to; ``storage`` the folder the zoo's files may link into (default ``root``).
    """
    root = Path(root)
    if not root.is_dir():
        raise ZooError(f"{root} is not a directory; give the path of a zoo built by `rnn-zoo build`")
    manifest_raw = _read(root, MANIFEST, storage)
    manifest = parse_json(manifest_raw, f"{root / MANIFEST}")
    _check_version(manifest, root)
    index = unseal_json(_read(root, INDEX, storage), f"{root / INDEX}")
    check_index(index, f"{root / INDEX}")
    if hashlib.sha256(manifest_raw).hexdigest() != index["files"].get(MANIFEST):
        raise ZooError(f"{root / MANIFEST}: sha256 does not match {INDEX}; the zoo is damaged")
    zoo = Zoo(root, manifest, index)
    _check_manifest(zoo)
    if (root / CARD).is_file():
        card = _read(root, CARD, storage)
        if card_sha256(card, zoo.name, repo_id) != index["files"].get(CARD):
            raise ZooError(f"{root / CARD}: sha256 does not match {INDEX}; the zoo is damaged")
    return zoo


def _read(root: Path, name: str, storage: Path | None) -> bytes:
    path = inside(root, name, f"zoo {root}", storage)
    if not path.is_file():
        raise ZooError(f"{root} is not an rnn-zoo zoo: {name} is missing")
    return path.read_bytes()


def _check_version(manifest: Mapping[str, Any], root: Path) -> None:
    version = manifest.get("format_version")
    if not isinstance(version, int):
        raise ZooError(f"{root / MANIFEST} has no integer format_version; the zoo is damaged")
    if version > FORMAT_VERSION:
        raise ZooError(
            f"zoo {root} has format version {version} ({MANIFEST}), newer than this rnn-zoo reads "
            f"({FORMAT_VERSION}); upgrade rnn-zoo"
        )
    if version < 1:
        raise ZooError(f"zoo {root} has unknown format version {version} ({MANIFEST})")


def _check_manifest(zoo: Zoo) -> None:
    where = zoo.root / MANIFEST
    if not isinstance(zoo.manifest.get("name"), str):
        raise ZooError(f"{where} has no name; the zoo is damaged")
    try:
        ZooSchema.from_dict(zoo.manifest["schema"])
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ZooError(
            f"{where} has no valid schema ({type(error).__name__}: {error}); the zoo is damaged"
        ) from None


def finalize_zoo(root: str | Path, info: ZooInfo) -> Zoo:
    """Index every written shard and write weights/index.json, zoo.json and the card README.md."""
    from rnn_zoo.zoo.card import render_card

    root = Path(root)
    shards = find_shards(root)
    if not shards:
        raise ZooError(f"{root} holds no finished shards to index")
    index: dict[str, Any] = {"format_version": FORMAT_VERSION, "splits": {}, "model_ids": {}}
    counts = {}
    for split, split_shards in shards.items():
        entries, runs = index_split(root, split_shards, index["model_ids"])
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
    manifest_text, card = json_text(manifest), render_card(manifest)
    index["files"] = {
        MANIFEST: hashlib.sha256(manifest_text.encode()).hexdigest(),
        CARD: card_sha256(card.encode(), info.name),
    }
    write_text(root / MANIFEST, manifest_text)
    write_text(root / CARD, card)
    write_text(root / INDEX, seal_json(index))  # last: it seals the other two
    return Zoo(root, manifest, index)
