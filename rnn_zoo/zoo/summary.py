"""A short text summary of a zoo, as ``rnn-zoo info`` prints it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from rnn_zoo.zoo.load import locate_zoo, read_columns
from rnn_zoo.zoo.manifest import Zoo
from rnn_zoo.zoo.schema import member_label


def zoo_summary(zoo: str | Path) -> str:
    """Rows, runs and tasks per split, metrics at the last snapshot, sizes on disk, format version.

    A zoo of several configs gets a row per config (member, parameters, runs, rows), then
    the splits and metrics of each config.
    """
    opened = locate_zoo(zoo)
    lines = [
        f"zoo      {opened.root}  ({opened.manifest.get('pretty_name', opened.name)})",
        f"format   v{opened.manifest['format_version']}",
    ]
    if opened.multi_config:
        lines += _configs_table(opened)
        for part in opened.each_config():
            lines += ["", f"config {part.config_name}", *_splits_and_metrics(part)]
    else:
        spec = opened.schema.spec
        lines.append(f"member   {member_label(spec)} ({spec.num_parameters:,} parameters)")
        lines += _splits_and_metrics(opened)
    data_size, weight_size = (_indexed_bytes(opened, kind) for kind in ("data", "weights"))
    lines += ["", f"on disk  data/ {_megabytes(data_size)}, weights/ {_megabytes(weight_size)}"]
    return "\n".join(lines)


def _configs_table(zoo: Zoo) -> list[str]:
    lines = ["", f"{'config':<16}{'member':<28}{'parameters':>12}{'runs':>8}{'rows':>10}"]
    for part in zoo.each_config():
        spec, counts = part.schema.spec, part.manifest["counts"]
        runs, rows = (sum(count[key] for count in counts.values()) for key in ("runs", "rows"))
        lines.append(
            f"{part.config_name:<16}{member_label(spec):<28}{spec.num_parameters:>12,}{runs:>8,}{rows:>10,}"
        )
    return lines


def _splits_and_metrics(zoo: Zoo) -> list[str]:
    """The split table (runs, rows, tasks) and the metrics at the last snapshot of a zoo of one config."""
    import pyarrow.compute as pc  # a submodule: `import pyarrow` alone does not load it

    schema = zoo.schema
    lines = ["", f"{'split':<12}{'runs':>8}{'rows':>10}{'tasks':>8}"]
    names = [column.name for column in schema.table_columns]
    metrics = [c.name for c in schema.metadata if not c.shape and c.dtype.startswith("float")]
    tables = {}
    for split in zoo.splits:
        table = tables[split] = read_columns(zoo, split, names)
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
    return lines


def _count_distinct(values: list) -> int:
    return len({tuple(value) if isinstance(value, list) else value for value in values})


def _indexed_bytes(zoo: Zoo, kind: str) -> int:
    """Bytes of the zoo's shard files of one kind (``data`` or ``weights``), as indexed, over every config."""
    return sum(part.path(entry[f"{kind}_file"]).stat().st_size for part, entry in zoo.indexed_shards())


def _megabytes(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"
