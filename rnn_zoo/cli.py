"""The ``rnn-zoo`` command line: a thin layer over the library."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rnn_zoo import __version__
from rnn_zoo.errors import ZooError


class _Cli(click.Group):
    """A group that turns ZooError (and a missing file) into one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZooError as error:
            raise click.ClickException(str(error)) from None
        except KeyboardInterrupt:
            raise click.ClickException("interrupted; finished shards are kept and a rerun resumes") from None


@click.group(cls=_Cli, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rnn-zoo")
def main() -> None:
    """Build, inspect, verify and publish zoos of trained LSTMs for weight-space learning.

    A zoo is a folder that is at once a Hugging Face dataset repo (parquet + card) and a
    torch-native weight store (safetensors). Load one with
    datasets.load_dataset("rnn-zoo/<name>") or rnn_zoo.load_weights(...).
    """


@main.command()
@click.argument("zoo", type=click.Path(path_type=Path))
def info(zoo: Path) -> None:
    """Summarise ZOO: rows and runs per split, tasks, metrics, sizes on disk, format version."""
    from rnn_zoo.summary import zoo_summary

    click.echo(zoo_summary(zoo))


@main.command()
@click.argument("zoo", type=click.Path(path_type=Path))
def verify(zoo: Path) -> None:
    """Check ZOO: sha256 of every shard, schema, and parquet == safetensors weights bit for bit."""
    from tqdm import tqdm

    from rnn_zoo.verify import verify_zoo

    def progress(entries: list) -> Any:
        return tqdm(entries, desc="verifying shards", unit="shard", leave=False, disable=None)

    opened = verify_zoo(zoo, progress=progress)
    rows = sum(opened.num_rows(split) for split in opened.splits)
    click.echo(f"ok: {opened.root} ({rows:,} rows in {', '.join(opened.splits)}) verified")


@main.command()
@click.option("--task", required=True, help="Task family, e.g. formal-languages (a recipe in builders/).")
@click.option("--preset", default="paper", show_default=True, help="Recipe preset: tiny, small or paper.")
@click.option("--runs", type=int, help="Number of training runs (overrides the preset).")
@click.option("--seed", type=int, help="Build seed (overrides the preset).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option("--out", type=click.Path(path_type=Path), help="Zoo directory [default: ./rnn-zoo/<task>].")
@click.option("--population", type=int, help="Members trained at once [default: as many as fit in memory].")
@click.option(
    "--shard", "part", help="Build only part i of n (0-based), e.g. 0/4; combine with `rnn-zoo merge`."
)
@click.option(
    "--threads",
    type=int,
    default=1,
    show_default=True,
    help="CPU threads for torch; a population's small per-member ops gain little from more, "
    "so to use more cores run --shard parts side by side.",
)
def build(
    task: str,
    preset: str,
    runs: int | None,
    seed: int | None,
    device: str,
    out: Path | None,
    population: int | None,
    part: str | None,
    threads: int,
) -> None:
    """Train a zoo from the recipe builders/TASK.toml and write it as a format-v1 zoo directory.

    A stopped build resumes when the same command is run again.
    """
    from rnn_zoo.build_cli import run_build

    overrides = {key: value for key, value in (("runs", runs), ("seed", seed)) if value is not None}
    run_build(task, preset, overrides, device, out, population, part, threads)


@main.command()
@click.argument("parts", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Zoo directory [default: ./rnn-zoo/<task>].")
def merge(parts: tuple[Path, ...], out: Path | None) -> None:
    """Combine the directories PARTS of `rnn-zoo build --shard i/n` runs into one zoo."""
    from rnn_zoo.build_cli import run_merge

    run_merge(list(parts), out)
