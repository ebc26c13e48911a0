"""``rnn-zoo info`` and ``rnn-zoo verify``: a zoo summarised, a zoo checked."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rnn_zoo.cli.main import main


@main.command()
@click.argument("zoo", type=click.Path(path_type=Path))
def info(zoo: Path) -> None:
    """Summarise ZOO: rows and runs per split, tasks, metrics, sizes on disk, format version."""
    from rnn_zoo.zoo.summary import zoo_summary

    click.echo(zoo_summary(zoo))


@main.command()
@click.argument("zoo", type=click.Path(path_type=Path))
def verify(zoo: Path) -> None:
    """Check ZOO: sha256 of every shard, schema, and parquet == safetensors weights bit for bit."""
    from tqdm import tqdm

    from rnn_zoo.zoo.schema import SPLITS
    from rnn_zoo.zoo.verify import verify_zoo

    def progress(entries: list) -> Any:
        return tqdm(entries, desc="verifying shards", unit="shard", leave=False, disable=None)

    opened = verify_zoo(zoo, progress=progress)
    splits = sorted({split for part in opened.each_config() for split in part.splits}, key=SPLITS.index)
    configs = f" of {len(opened.configs)} configs" if opened.multi_config else ""
    click.echo(f"ok: {opened.root} ({opened.rows:,} rows in {', '.join(splits)}{configs}) verified")
