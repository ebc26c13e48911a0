"""Read a zoo back: as ``datasets`` objects (every column) or as stacked torch weights (fast)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor

from rnn_zoo.errors import ZooError
from rnn_zoo.lstm import MemberSpec
from rnn_zoo.zoo import Zoo, open_zoo


def locate_zoo(zoo: str | Path | Zoo) -> Zoo:
    """Open a zoo given as an opened zoo or a local directory (a Hub id that is also a folder)."""
    if isinstance(zoo, Zoo):
        return zoo
    path = Path(zoo)
    if path.exists():
        return open_zoo(path)
    raise ZooError(
        f"no zoo at {str(zoo)!r}: there is no such local directory; build one with "
        f"`rnn-zoo build --task ...` (it writes ./rnn-zoo/<name>) or give the path of a zoo"
    )


def load_zoo(zoo: str | Path | Zoo, split: str | None = None) -> Any:
    """The zoo as ``datasets`` objects in torch format: a DatasetDict, or one Dataset for ``split``.

    Each row's weights, probe sequences and outputs come back as correctly shaped tensors.
    """
    import datasets

    opened = locate_zoo(zoo)
    if split is not None:
        opened.shards(split)  # a clear error for a split the zoo does not have
    loaded = datasets.load_dataset(str(opened.root), split=split)
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


def load_weights(zoo: str | Path | Zoo, split: str) -> ZooWeights:
    """Read one split's safetensors shards into stacked tensors (memory-mapped, no per-row loop)."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    from safetensors import safe_open

    opened = locate_zoo(zoo)
    schema = opened.schema
    shards = opened.shards(split)
    pieces: dict[str, list[Tensor]] = {name: [] for name in schema.spec.parameter_names}
    for shard in shards:
        with safe_open(str(opened.root / shard["weights_file"]), framework="pt") as handle:
            for name, tensors in pieces.items():
                tensors.append(handle.get_tensor(name))
    params = {name: t[0] if len(t) == 1 else torch.cat(t) for name, t in pieces.items()}
    names = [column.name for column in schema.table_columns]
    tables = [pq.read_table(opened.root / shard["data_file"], columns=names) for shard in shards]
    return ZooWeights(params, schema.spec, pa.concat_tables(tables))
