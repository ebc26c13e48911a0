"""A finished zoo directory: finalising it after its shards are written, and opening it.

A zoo holds one config per member architecture. A zoo of one config (format v1) keeps its
schema and counts at the top of zoo.json and its splits at the top of the index; a zoo of
several (format v2) lists them per config under ``configs`` in both. ``Zoo.config(name)``
gives one config as a zoo of its own, which every reader of a v1 zoo reads as it is.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rnn_zoo.errors import ZooError
from rnn_zoo.files import json_text, library_versions, parse_json, seal_json, unseal_json, write_text
from rnn_zoo.zoo.index import card_sha256, check_index, index_split
from rnn_zoo.zoo.integrity import check_sha256s, inside
from rnn_zoo.zoo.schema import DEFAULT_CONFIG, ZooSchema
from rnn_zoo.zoo.shards import CONFIGS, CONFIGS_FORMAT_VERSION, FORMAT_VERSION, ZooInfo, find_shards

MANIFEST = "zoo.json"
INDEX = "weights/index.json"
CARD = "README.md"


@dataclass(frozen=True)
class Zoo:
    """An opened zoo directory, or one config of it: its manifest (zoo.json), schema and weight index."""

    root: Path
    manifest: Mapping[str, Any]
    index: Mapping[str, Any]

    @property
    def configs(self) -> tuple[str, ...]:
        """The zoo's configs, one per member architecture (``default`` for a zoo of one)."""
        return tuple(self.manifest[CONFIGS]) if self.multi_config else (self.config_name,)

    @property
    def multi_config(self) -> bool:
        """Whether this is a zoo of several configs (format v2), not yet narrowed to one of them."""
        return CONFIGS in self.manifest

    @property
    def config_name(self) -> str:
        """The config this zoo is (``default`` for a zoo of one config)."""
        return str(self.manifest.get("config", DEFAULT_CONFIG))

    def config(self, name: str | None = None) -> Zoo:
        """One config of the zoo as a zoo of its own; ``name`` may be left out when there is one."""
        if not self.multi_config:
            if name not in (None, self.config_name):
                raise ZooError(
                    f"zoo {self.root} has no config {name!r}; it has one config, {self.config_name}"
                )
            return self
        if name is None or name not in self.manifest[CONFIGS]:
            have = ", ".join(self.configs)
            raise ZooError(
                f"zoo {self.root} holds {len(self.configs)} configs, one per member architecture ({have}); "
                f"name one, e.g. config={self.configs[0]!r} (load_dataset(path, {self.configs[0]!r}))"
                if name is None
                else f"zoo {self.root} has no config {name!r}; it has: {have}"
            )
        block = self.manifest[CONFIGS][name]
        manifest = {key: value for key, value in self.manifest.items() if key != CONFIGS}
        manifest.update(config=name, schema=block["schema"], counts=block["counts"])
        return dataclasses.replace(self, manifest=manifest, index=self.index[CONFIGS][name])

    def each_config(self) -> list[Zoo]:
        """Every config of the zoo, each as a zoo of its own (:meth:`config`)."""
        return [self.config(name) for name in self.configs]

    @property
    def schema(self) -> ZooSchema:
        return ZooSchema.from_dict(self.config().manifest["schema"])

    @property
    def name(self) -> str:
        return str(self.manifest["name"])

    @property
    def splits(self) -> tuple[str, ...]:
        return tuple(self.config().index["splits"])

    def shards(self, split: str) -> list[Mapping[str, Any]]:
        """Index entries of one split's shards, in row order."""
        splits = self.config().index["splits"]
        if split not in splits:
            have = ", ".join(self.splits)
            config = f" (config {self.config_name})" if "config" in self.manifest else ""
            raise ZooError(f"zoo {self.root}{config} has no split {split!r}; it has: {have}")
        return list(splits[split]["shards"])

    def num_rows(self, split: str) -> int:
        splits = self.config().index["splits"]
        return int(splits[split]["rows"]) if split in splits else 0

    def indexed_shards(self) -> list[tuple[Zoo, Mapping[str, Any]]]:
        """(config, index entry) of every shard of every split of every config, in index order."""
        return [
            (part, entry)
            for part in self.each_config()
            for split in part.splits
            for entry in part.shards(split)
        ]

    @property
    def rows(self) -> int:
        """Rows of every split of every config."""
        return sum(zoo.num_rows(split) for zoo in self.each_config() for split in zoo.splits)

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
    if version > CONFIGS_FORMAT_VERSION:
        raise ZooError(
            f"zoo {root} has format version {version} ({MANIFEST}), newer than this rnn-zoo reads "
            f"({CONFIGS_FORMAT_VERSION}); upgrade rnn-zoo"
        )
    if version < 1:
        raise ZooError(f"zoo {root} has unknown format version {version} ({MANIFEST})")
    if (version == CONFIGS_FORMAT_VERSION) != (CONFIGS in manifest):
        raise ZooError(
            f"{root / MANIFEST} is format version {version} but {'lacks' if version > 1 else 'has'} "
            f"{CONFIGS!r}; the zoo is damaged"
        )


def _check_manifest(zoo: Zoo) -> None:
    where = zoo.root / MANIFEST
    if not isinstance(zoo.manifest.get("name"), str):
        raise ZooError(f"{where} has no name; the zoo is damaged")
    listed, indexed = zoo.manifest.get(CONFIGS), zoo.index.get(CONFIGS)
    if (listed is None) != (indexed is None) or (listed is not None and not _same_keys(listed, indexed)):
        raise ZooError(f"{where} lists other configs than {INDEX}; the zoo is damaged")
    for name in zoo.configs:
        try:
            ZooSchema.from_dict(zoo.config(name).manifest["schema"])
        except (KeyError, TypeError, ValueError, AttributeError, ZooError) as error:
            raise ZooError(
                f"{where} has no valid schema ({type(error).__name__}: {error}); the zoo is damaged"
            ) from None


def _same_keys(listed: Any, indexed: Any) -> bool:
    return isinstance(listed, dict) and isinstance(indexed, dict) and set(listed) == set(indexed)


def finalize_zoo(root: str | Path, info: ZooInfo) -> Zoo:
    """Index every written shard and write weights/index.json, zoo.json and the card README.md.

    ``info.schema`` is one schema (a zoo of one config, format v1) or a mapping from config
    name to schema (a zoo of several configs, format v2, each under ``data/{config}/``).
    """
    from rnn_zoo.zoo.card import render_card

    root = Path(root)
    about = {"name": info.name, "pretty_name": info.pretty_name, "description": info.description}
    later = {"recipe": dict(info.recipe), "build": dict(info.build), "versions": library_versions()}
    if isinstance(info.schema, ZooSchema):
        block, counts = _index_config(root, None)
        index: dict[str, Any] = {"format_version": FORMAT_VERSION, **block}
        manifest = {"format_version": FORMAT_VERSION, **about, "schema": info.schema.to_dict(), **later}
        manifest["counts"] = counts
    else:
        configs = {name: _index_config(root, name) for name in info.schema}
        index = {"format_version": CONFIGS_FORMAT_VERSION, CONFIGS: {n: b for n, (b, _) in configs.items()}}
        described = {n: {"schema": info.schema[n].to_dict(), "counts": c} for n, (_, c) in configs.items()}
        manifest = {"format_version": CONFIGS_FORMAT_VERSION, **about, CONFIGS: described, **later}
    manifest_text, card = json_text(manifest), render_card(manifest)
    index["files"] = {
        MANIFEST: hashlib.sha256(manifest_text.encode()).hexdigest(),
        CARD: card_sha256(card.encode(), info.name),
    }
    write_text(root / MANIFEST, manifest_text)
    write_text(root / CARD, card)
    write_text(root / INDEX, seal_json(index))  # last: it seals the other two
    return Zoo(root, manifest, index)


def _index_config(root: Path, config: str | None) -> tuple[dict[str, Any], dict[str, dict[str, int]]]:
    """The index entry of one config's finished shards ({splits, model_ids}) and its counts per split."""
    shards = find_shards(root, config)
    if not shards:
        where = f"{root}" if config is None else f"{root}/data/{config}"
        raise ZooError(f"{where} holds no finished shards to index")
    block: dict[str, Any] = {"splits": {}, "model_ids": {}}
    counts = {}
    for split, split_shards in shards.items():
        entries, runs = index_split(root, split_shards, block["model_ids"])
        rows = entries[-1]["rows"][1]
        block["splits"][split] = {"rows": rows, "shards": entries}
        counts[split] = {"rows": rows, "runs": runs}
    return block, counts
