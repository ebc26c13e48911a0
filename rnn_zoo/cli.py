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
@click.argument("zoo", type=click.Path(path_type=Path))
@click.option("--repo-id", required=True, help="The Hub dataset repo, as ORG/NAME (created if missing).")
@click.option(
    "--private", is_flag=True, help="Create the repo as private (an existing repo keeps its visibility)."
)
@click.option(
    "--revision", default=None, help="Branch to commit to (created from main if missing); default main."
)
@click.option("--tag", default=None, help="Tag to put on the uploaded commit, e.g. v1.0.")
@click.option(
    "--token", default=None, help="Hub token with write access; default HF_TOKEN or the saved login."
)
def push(
    zoo: Path, repo_id: str, private: bool, revision: str | None, tag: str | None, token: str | None
) -> None:
    """Publish ZOO as the Hugging Face dataset repo REPO_ID, after verifying it and its card.

    Uploads only the zoo's own files, in one resumable upload (rerun the same command to resume),
    with a commit message that names the build.
    """
    from rnn_zoo.publish import Release, push_zoo

    release = Release(repo_id=repo_id, private=private, revision=revision, tag=tag)
    commit = push_zoo(zoo, release, token=token)
    branch = f" (branch {revision})" if revision else ""
    click.echo(f"pushed {zoo} to {repo_id}{branch}: {commit.commit_url}")


@main.command(name="encoders")
@click.option(
    "--member",
    nargs=4,
    type=int,
    default=(6, 32, 2, 6),
    show_default=True,
    metavar="INPUT HIDDEN LAYERS OUTPUT",
    help="Member size to count parameters at (default: the paper's formal-language member).",
)
def encoders_command(member: tuple[int, int, int, int]) -> None:
    """List the weight encoders: name, parameter count at default size, permutation invariance."""
    from rnn_zoo.encoders import summaries
    from rnn_zoo.lstm import MemberSpec

    try:
        spec = MemberSpec(*member)
    except ValueError as error:
        raise ZooError(f"option --member: {error}") from None
    rows = summaries(spec)
    click.echo(f"members: {member[2]} x {member[1]} LSTM, {spec.num_parameters:,} parameters each")
    click.echo(f"{'encoder':<24}{'parameters':>12}  {'invariant':<11}description")
    for row in rows:
        invariant = "yes" if row.invariant else "no"
        click.echo(f"{row.name:<24}{row.parameters:>12,}  {invariant:<11}{row.description}")
