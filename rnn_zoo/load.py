"""Read a zoo back: as ``datasets`` objects (every column) or as stacked torch weights (fast)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnn_zoo.errors import ZooError
from rnn_zoo.lstm import MemberSpec
from rnn_zoo.store import read_table
from rnn_zoo.zoo import Zoo, open_zoo


def locate_zoo(zoo: str | Path | Zoo, revision: str | None = None) -> Zoo:
    """Open a zoo given as an opened zoo, a local directory, or a Hub id ORG/NAME.

    A local directory wins over a Hub id of the same name. A Hub id opens ``revision``
    (a branch, tag or commit; default main) from the Hugging Face cache, downloading only the
    manifest and the index; readers fetch the shards they need with ``Zoo.fetch``.
    """
    if isinstance(zoo, Zoo):
        return zoo
    path = Path(zoo)
    if path.exists():
        return open_zoo(path)
    from rnn_zoo import hub

    if hub.is_repo_id(str(zoo)):
        return hub.fetch_zoo(str(zoo), revision=revision)
    raise ZooError(
        f"no zoo at {str(zoo)!r}: there is no such local directory and it is not a Hub id ORG/NAME; "
        f"build one with `rnn-zoo build --task ...` (it writes ./rnn-zoo/<name>) or give the path "
        f"of a zoo or its Hub id"
    )


def load_zoo(zoo: str | Path | Zoo, split: str | None = None, revision: str | None = None) -> Any:
    """The zoo as ``datasets`` objects in torch format: a DatasetDict, or one Dataset for ``split``.

    Each row's weights, probe sequences and outputs come back as correctly shaped tensors.
    ``zoo`` may be a local directory or a Hub id ORG/NAME (at ``revision``, default main).
    """
    import datasets

    opened = locate_zoo(zoo, revision=revision)
    splits = opened.splits if split is None else (split,)
    files = {name: [shard["data_file"] for shard in opened.shards(name)] for name in splits}
    opened.fetch(path for paths in files.values() for path in paths)
    if split is None:
        loaded = datasets.load_dataset(str(opened.root))
    else:  # only this split's files: the others need not be present, nor be prepared
        loaded = datasets.load_dataset(str(opened.root), data_files=files, split=split)
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

    def __len__(self) -> int:
        return self.metadata.num_rows


def load_weights(zoo: str | Path | Zoo, split: str, revision: str | None = None) -> ZooWeights:
    """Read one split's safetensors shards into stacked tensors (memory-mapped, no per-row loop).

    From a Hub id, only this split's shards are downloaded (the parquet files carry the
    metadata columns).
    """
    from safetensors import safe_open

    opened = locate_zoo(zoo, revision=revision)
    schema = opened.schema
    shards = opened.shards(split)
    opened.fetch(shard[kind] for shard in shards for kind in ("weights_file", "data_file"))
    pieces: dict[str, list[Tensor]] = {name: [] for name in schema.spec.parameter_names}
    for shard in shards:
        with safe_open(str(opened.root / shard["weights_file"]), framework="pt") as handle:
            for name, tensors in pieces.items():
                tensors.append(handle.get_tensor(name))
    params = {name: t[0] if len(t) == 1 else torch.cat(t) for name, t in pieces.items()}
    metadata = read_columns(opened, split, [column.name for column in schema.table_columns])
    return ZooWeights(params, schema.spec, metadata)


def read_columns(zoo: Zoo, split: str, names: Sequence[str]) -> Any:
    """Some columns of one split's parquet shards as one pyarrow Table, in row order.

    The shards must be on disk: a zoo from the Hub fetches them first (``Zoo.fetch``).
    """
    import pyarrow as pa

    shards = zoo.shards(split)
    return pa.concat_tables(
        [read_table(zoo.root / shard["data_file"], columns=list(names)) for shard in shards]
    )
