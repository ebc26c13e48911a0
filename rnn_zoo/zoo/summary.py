"""A short text summary of a zoo, as ``rnn-zoo info`` prints it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnn_zoo.zoo.load import locate_zoo, read_columns
from rnn_zoo.zoo.manifest import Zoo


def zoo_summary(zoo: str | Path) -> str:
    """Rows, runs and tasks per split, metrics at the last snapshot, sizes on disk, format version."""
    import pyarrow.compute as pc  # a submodule: `import pyarrow` alone does not load it

    opened = locate_zoo(zoo)
    schema = opened.schema
    spec = schema.spec
    lines = [
        f"zoo      {opened.root}  ({opened.manifest.get('pretty_name', opened.name)})",
        f"format   v{opened.manifest['format_version']}",
        f"member   LSTM {spec.input_size} -> {spec.num_layers} x {spec.hidden_size} -> "
        f"{spec.output_size} ({spec.num_parameters:,} parameters)",
        "",
        f"{'split':<12}{'runs':>8}{'rows':>10}{'tasks':>8}",
    ]
    names = [column.name for column in schema.table_columns]
    metrics = [c.name for c in schema.metadata if not c.shape and c.dtype.startswith("float")]
    tables = {}
    for split in opened.splits:
        table = tables[split] = read_columns(opened, split, names)
        runs = len(set(table.column("run_id").to_pylist()))
        tasks = _count_distinct(table.column("task").to_pylist()) if "task" in names else 0
        lines.append(f"{split:<12}{runs:>8,}{table.num_rows:>10,}{tasks:>8,}")
    if metrics:
        lines += ["", "metrics at the last snapshot (mean, min - max):"]
        for split, table in tables.items():
            last = table.filter(pc.equal(table["step"], pc.max(table["step"])))
            for metric in metrics:
                values = np.asarray(last.column(metric).to_numpy(), dtype=np.float64)
                lines.append(
                    f"  {split:<12}{metric:<22}{values.mean():8.4f}   {values.min():.4f} - {values.max():.4f}"
                )
    data_size, weight_size = (_indexed_bytes(opened, kind) for kind in ("data", "weights"))
    lines += ["", f"on disk  data/ {_megabytes(data_size)}, weights/ {_megabytes(weight_size)}"]
    return "\n".join(lines)


def _count_distinct(values: list) -> int:
    return len({tuple(value) if isinstance(value, list) else value for value in values})


def _indexed_bytes(zoo: Zoo, kind: str) -> int:
    """Bytes of the zoo's shard files of one kind (``data`` or ``weights``), as indexed."""
    return sum(zoo.path(entry[f"{kind}_file"]).stat().st_size for s in zoo.splits for entry in zoo.shards(s))


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"
