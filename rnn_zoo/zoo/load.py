"""Read a zoo back: as ``datasets`` objects (every column) or as stacked torch weights (fast)."""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rnn_zoo.errors import ZooError
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.zoo.integrity import reading
from rnn_zoo.zoo.manifest import Zoo, open_zoo
from rnn_zoo.zoo.schema import DEFAULT_CONFIG, Column
from rnn_zoo.zoo.shards import read_table

# What each argument of the readers may be, as an error names it; None may stand for those
# the reader's signature lets default.
ARGUMENTS: dict[str, tuple[tuple[type, ...], str]] = {
    "zoo": ((str, os.PathLike, Zoo), "a zoo directory, a Hub id ORG/NAME or an opened Zoo"),
    "split": ((str,), "a split name such as 'train'"),
    "revision": ((str,), "a branch, tag or commit of the Hub repo"),
    "config": ((str,), "a config name"),
    "verify": ((bool,), "True or False"),
}


def check_arguments(call: str, given: Mapping[str, Any], optional: Sequence[str] = ()) -> None:
    """Raise one ZooError for the first argument of ``call`` (named first when given) that is not of
    its kind (ARGUMENTS)."""
    for name, value in given.items():
        kinds, what = ARGUMENTS[name]
        if name in optional:
            kinds, what = (*kinds, type(None)), f"{what}, or None"
        if not isinstance(value, kinds):
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            where = f"{call}: " if call else ""
            raise ZooError(f"{where}{name} must be {what}, not {type(value).__name__} {shown}")


def locate_zoo(zoo: str | Path | Zoo, revision: str | None = None) -> Zoo:
    """Open a zoo given as an opened zoo, a local directory, or a Hub id ORG/NAME.

    A local directory wins over a Hub id of the same name. A Hub id opens ``revision``
    (a branch, tag or commit; default main) from the Hugging Face cache, downloading only the
    manifest and the index; readers fetch the shards they need with ``Zoo.fetch``.
    """
    check_arguments("", {"zoo": zoo, "revision": revision}, optional=("revision",))
    if isinstance(zoo, Zoo):
        return zoo
    path = Path(zoo)
    if path.exists():
        return open_zoo(path)
    from rnn_zoo.zoo import hub

    if hub.is_repo_id(str(zoo)):
        return hub.fetch_zoo(str(zoo), revision=revision)
    raise ZooError(
        f"no zoo at {str(zoo)!r}: there is no such local directory and it is not a Hub id ORG/NAME; "
        f"build one with `rnn-zoo build --task ...` (it writes ./rnn-zoo/<name>) or give the path "
        f"of a zoo or its Hub id"
    )


def load_zoo(
    zoo: str | Path | Zoo,
    split: str | None = None,
    revision: str | None = None,
    *,
    config: str | None = None,
    verify: bool = True,
) -> Any:
    """The zoo as ``datasets`` objects in torch format: a DatasetDict, or one Dataset for ``split``.

    Each row's weights, probe sequences and outputs come back as correctly shaped tensors.
    ``zoo`` may be a local directory or a Hub id ORG/NAME (at ``revision``, default main).
    ``config`` names the member architecture in a zoo of several (it may be left out when
    there is one). The parquet shards read are exactly those the index names, each checked
    against its sha256 there unless ``verify=False``; a missing or damaged shard is a
    ZooError naming it.
    """
    import datasets
    from datasets.exceptions import DatasetGenerationError

    given = {"zoo": zoo, "split": split, "revision": revision, "config": config, "verify": verify}
    check_arguments("load_zoo", given, optional=("split", "revision", "config"))
    opened = locate_zoo(zoo, revision=revision).config(config)
    splits = opened.splits if split is None else (split,)
    files = {name: [str(path) for path in opened.shard_paths(name, ("data",), verify)] for name in splits}
    try:
        with reading(f"the parquet shards of zoo {opened.root}"):
            loaded = datasets.load_dataset("parquet", data_files=files, split=split)
    except DatasetGenerationError as error:
        raise ZooError(
            f"the parquet shards of zoo {opened.root} cannot be read ({error.__cause__ or error})"
        ) from None
    return loaded.with_format("torch")


@dataclass(frozen=True)
class ZooWeights:
    """A whole split: one (n, ...) tensor per parameter, the member spec, and the metadata rows.

    ``metadata`` is a pyarrow Table of the identity and metadata columns (``model_id``,
    ``run_id``, ``step``, ``task``, metrics ...), in the same row order as the tensors.
    """

    params: dict[str, Tensor]
    spec: MemberSpec
    metadata: Any
    config: str = DEFAULT_CONFIG  # the zoo config (member architecture) the split is of

    def __len__(self) -> int:
        return self.metadata.num_rows


def load_weights(
    zoo: str | Path | Zoo,
    split: str,
    revision: str | None = None,
    *,
    config: str | None = None,
    verify: bool = True,
) -> ZooWeights:
    """Read one split's safetensors shards into stacked tensors (memory-mapped, no per-row loop).

    ``config`` names the member architecture in a zoo of several (required there; it may be
    left out when there is one). From a Hub id, only this split's shards are downloaded (the
    parquet files carry the metadata columns). Every shard read is checked against its sha256
    in the index unless ``verify=False`` (hashes are cached per file, so a second load skips
    the work).
    """
    from safetensors import safe_open

    given = {"zoo": zoo, "split": split, "revision": revision, "config": config, "verify": verify}
    check_arguments("load_weights", given, optional=("revision", "config"))
    opened = locate_zoo(zoo, revision=revision).config(config)
    schema = opened.schema
    paths = opened.shard_paths(split, ("weights", "data"), verify)  # both kinds hashed at once
    pieces: dict[str, list[Tensor]] = {name: [] for name in schema.spec.parameter_names}
    for path in paths[::2]:
        with reading(str(path.relative_to(opened.root))), safe_open(str(path), framework="pt") as handle:
            for name, tensors in pieces.items():
                tensors.append(handle.get_tensor(name))
    params = {name: t[0] if len(t) == 1 else torch.cat(t) for name, t in pieces.items()}
    names = [column.name for column in schema.table_columns]
    metadata = read_columns(opened, split, names, verify=False)  # its shards were checked just above
    _check_shapes(opened, split, params, metadata.num_rows)
    return ZooWeights(params, schema.spec, metadata, opened.config_name)


def _check_shapes(zoo: Zoo, split: str, params: dict[str, Tensor], rows: int) -> None:
    if rows != zoo.num_rows(split):
        raise ZooError(
            f"zoo {zoo.root}: split {split} has {rows} rows in data/, the index says {zoo.num_rows(split)}"
        )
    for column in zoo.schema.parameters:
        found = params[column.name]
        if tuple(found.shape) != (rows, *column.shape) or found.dtype != torch.float32:
            raise ZooError(
                f"zoo {zoo.root}: the {split} weights shards hold {column.name} as {found.dtype} "
                f"{tuple(found.shape)}, not float32 {(rows, *column.shape)}; the zoo is damaged"
            )


def read_columns(
    zoo: Zoo, split: str, names: Sequence[str], *, config: str | None = None, verify: bool = True
) -> Any:
    """Some columns of one split's parquet shards (of ``config``, in a zoo of several) as one pyarrow Table.

    Rows come in row order. The shards are fetched (a zoo on the Hub) and, with ``verify``,
    checked against the index.
    """
    import pyarrow as pa

    zoo = zoo.config(config)
    tables = []
    for path in zoo.shard_paths(split, ("data",), verify):
        with reading(str(path.relative_to(zoo.root))):
            tables.append(read_table(path, columns=list(names)))
    return pa.concat_tables(tables)


def column_to_numpy(chunked: Any, column: Column) -> np.ndarray:
    """A parquet column of fixed-shape arrays as one (rows, *shape) array, without a row loop."""
    array = chunked.combine_chunks()
    if hasattr(array, "storage"):  # datasets' ArrayND extension type
        array = array.storage
    while hasattr(array, "flatten") and array.type.num_fields:
        array = array.flatten()
    return array.to_numpy(zero_copy_only=False).astype(column.dtype, copy=False).reshape(-1, *column.shape)
