"""Write and read a zoo directory (format v1): a Hugging Face dataset repo and a weight store.

    README.md                                   dataset card
    zoo.json                                    format version, schema, recipe, build, counts
    data/{split}-NNNNN-of-MMMMM.parquet         one row per member snapshot, every column
    weights/{split}-NNNNN-of-MMMMM.safetensors  one stacked tensor per parameter (row order)
    weights/index.json                          shards, row ranges, sha256, model_id -> location

A zoo of several member architectures (format v2) holds one config per architecture, each
a v1 zoo's shards under the config's name: ``data/{config}/{split}-...parquet`` and
``weights/{config}/{split}-...safetensors``; zoo.json and the index list the configs.

Every file is written to a temporary name and renamed into place, so a reader (or a
resumed build) only ever sees whole files; it gets the mode the umask gives (0644 by
default). Beside each shard, ``.build/{split}-NNNNN-of-MMMMM.json`` records the sha256 of
its two files as they were written: a resumed build or a re-finalised zoo trusts a finished
shard only while its files still match that record.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rnn_zoo.errors import ZooError
from rnn_zoo.files import atomic_path, sha256, write_json
from rnn_zoo.zoo.integrity import file_sha256
from rnn_zoo.zoo.schema import SPLITS, ZooSchema

FORMAT_VERSION = 1  # a zoo of one config; its shards are v1 shards in any zoo
CONFIGS_FORMAT_VERSION = 2  # a zoo of several configs: readers of v1 refuse it as newer
CONFIGS = "configs"  # the key under which zoo.json and the index of a zoo of several configs list them
# The Hub's dataset viewer reads whole row groups and asks for 100-300 MB in memory; big
# files are uploaded and downloaded in pieces anyway, so shards stay near 500 MB.
ROW_GROUP_BYTES = 100 * 2**20
SHARD_BYTES = 500 * 2**20
_SHARD_NAME = re.compile(r"^(?P<split>\w+)-(?P<index>\d{5})-of-(?P<count>\d{5})$")
BUILD_STATE = ".build"  # shard records and the build lock; never published


@dataclass(frozen=True)
class ShardId:
    """Shard ``index`` of ``count`` of one split (of one config, in a zoo of several)."""

    split: str
    index: int
    count: int
    config: str | None = None  # None: a zoo of one config, whose files lie directly under data/

    @property
    def stem(self) -> str:
        return f"{self.split}-{self.index:05d}-of-{self.count:05d}"

    @property
    def _folder(self) -> str:
        return "" if self.config is None else f"{self.config}/"

    @property
    def data_file(self) -> str:
        return f"data/{self._folder}{self.stem}.parquet"

    @property
    def weights_file(self) -> str:
        return f"weights/{self._folder}{self.stem}.safetensors"

    @property
    def record_file(self) -> str:
        """The record of both files' sha256, written after them."""
        return f"{BUILD_STATE}/{self._folder}{self.stem}.json"

    @property
    def files(self) -> tuple[tuple[str, str], ...]:
        """(kind, name) of the shard's two files: ``data`` (parquet) and ``weights`` (safetensors)."""
        return (("data", self.data_file), ("weights", self.weights_file))


@dataclass(frozen=True)
class ZooInfo:
    """What a builder knows about its zoo beyond the rows: names, recipe and build record."""

    name: str
    pretty_name: str
    description: str
    schema: ZooSchema | Mapping[str, ZooSchema]  # one schema, or config name -> schema (several configs)
    recipe: Mapping[str, Any] = field(default_factory=dict)
    build: Mapping[str, Any] = field(default_factory=dict)


def row_nbytes(schema: ZooSchema) -> int:
    """Uncompressed bytes of one row (strings counted as 32 bytes)."""
    total = 0
    for column in schema.columns:
        itemsize = 32 if column.dtype == "string" else np.dtype(column.dtype).itemsize
        total += itemsize * int(np.prod(column.shape, dtype=np.int64))
    return total


def rows_per_shard(schema: ZooSchema) -> int:
    """How many rows one shard holds, by the shard-size target."""
    return max(1, SHARD_BYTES // row_nbytes(schema))


def write_shard(root: Path, schema: ZooSchema, shard: ShardId, rows: Mapping[str, np.ndarray]) -> None:
    """Write one shard's parquet and safetensors files, then the record of their sha256."""
    import pyarrow.parquet as pq
    import safetensors.numpy

    count = schema.check_rows(rows)
    table = _arrow_table(schema, rows)
    row_group = max(1, ROW_GROUP_BYTES // row_nbytes(schema))
    digests = {}
    with atomic_path(Path(root, shard.data_file)) as temporary:
        pq.write_table(table, temporary, row_group_size=row_group, compression="zstd")
        digests["data"] = sha256(temporary)
    tensors = {c.name: np.ascontiguousarray(rows[c.name], dtype=np.float32) for c in schema.parameters}
    metadata = {
        "format_version": str(FORMAT_VERSION),
        "model_ids": json.dumps([str(model_id) for model_id in rows["model_id"]]),
        "layout": json.dumps({c.name: list(c.shape) for c in schema.parameters}),
        "rows": str(count),
    }
    with atomic_path(Path(root, shard.weights_file)) as temporary:
        temporary.write_bytes(canonical_safetensors(safetensors.numpy.save(tensors, metadata=metadata)))
        digests["weights"] = sha256(temporary)
    write_json(Path(root, shard.record_file), digests)


def read_table(path: Path, columns: Sequence[str] | None = None) -> Any:  # noqa: ANN401 - a pyarrow.Table
    """A shard's parquet file (or some of its columns) as an arrow table, read in this thread.

    Through ``pq.ParquetFile``, not ``pq.read_table``: the latter scans with arrow's dataset
    API, whose futures can drop the file's schema on an arrow thread after returning, even
    without threads; with `datasets`' extension types in that schema, dropping it needs the
    GIL, and a process that exits meanwhile aborts ("terminate called without an active
    exception"). ParquetFile reads synchronously: nothing is left behind.
    """
    import pyarrow.parquet as pq

    with pq.ParquetFile(path, pre_buffer=False) as parquet:
        return parquet.read(columns=None if columns is None else list(columns), use_threads=False)


def canonical_safetensors(data: bytes) -> bytes:
    """The same safetensors file with its JSON header in sorted key order.

    safetensors writes the ``__metadata__`` map in hash order, which changes from process to
    process; sorting makes equal shards equal byte for byte (offsets are relative to the
    data section, so they stay valid).
    """
    size = int.from_bytes(data[:8], "little")
    header = json.dumps(json.loads(data[8 : 8 + size]), sort_keys=True, separators=(",", ":")).encode()
    header += b" " * (-len(header) % 8)
    return len(header).to_bytes(8, "little") + header + data[8 + size :]


def shard_record(root: Path, shard: ShardId) -> dict[str, str] | None:
    """The sha256 of the shard's files as recorded when they were written; None if unrecorded."""
    path = Path(root, shard.record_file)
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None
    if not isinstance(record, dict) or not all(isinstance(record.get(kind), str) for kind, _ in shard.files):
        return None
    return {kind: record[kind] for kind, _ in shard.files}


def shard_done(root: Path, shard: ShardId) -> bool:
    """Whether both files of a shard are in place and still match the record written with them."""
    record = shard_record(root, shard)
    return record is not None and all(
        Path(root, name).is_file() and file_sha256(Path(root, name)) == record[kind]
        for kind, name in shard.files
    )


def _arrow_table(schema: ZooSchema, rows: Mapping[str, np.ndarray]) -> Any:
    import datasets

    columns = {name: rows[name] for name in schema.names}
    columns["model_id"] = [str(model_id) for model_id in rows["model_id"]]
    return datasets.Dataset.from_dict(columns, features=schema.features()).data.table


def find_shards(root: Path, config: str | None = None) -> dict[str, list[ShardId]]:
    """Shards present under ``data/`` (``data/{config}/``), per split, in index order; incomplete sets are an error."""
    found: dict[str, list[ShardId]] = {}
    folder = Path(root, "data") if config is None else Path(root, "data", config)
    for path in sorted(folder.glob("*.parquet")):
        match = _SHARD_NAME.match(path.stem)
        if match:
            shard = ShardId(match["split"], int(match["index"]), int(match["count"]), config)
            found.setdefault(shard.split, []).append(shard)
    unknown = [shard.data_file for split, shards in found.items() if split not in SPLITS for shard in shards]
    if unknown:
        raise ZooError(
            f"zoo {root} has extra shards of unknown splits: {', '.join(unknown)} (the splits are {', '.join(SPLITS)})"
        )
    for split, shards in found.items():
        expected = [ShardId(split, index, shards[0].count, config) for index in range(shards[0].count)]
        missing = [s.stem for s in expected if s not in shards or not Path(root, s.weights_file).is_file()]
        extra = [s.stem for s in shards if s not in expected]
        absent = [n for s in expected for n in (s.data_file, s.weights_file) if not Path(root, n).is_file()]
        if missing or extra:
            named = (("missing", missing), ("extra", extra))
            problems = "; ".join(f"{what} shards {', '.join(names)}" for what, names in named if names)
            problems += f" (no file {', '.join(absent)})" if absent else ""
            raise ZooError(f"zoo {root} has an incomplete split {split!r}: {problems}")
    return {split: found[split] for split in SPLITS if split in found}
