"""The command-line face of a build: argument parsing, progress (a bar on a terminal, else lines) and the summary."""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import numpy as np

from rnn_zoo.cli.bench_log import clock
from rnn_zoo.cli.main import SEED, THREADS, data_sources, main, mnist_options

MAX_RUNS = 1_000_000  # 1,000 times the paper's zoo; build.recipe.Recipe refuses more too

if TYPE_CHECKING:  # the library (and torch) is imported when a command runs, not for --help
    from rnn_zoo.build.builder import BuildReport
    from rnn_zoo.build.families import DataSources


class BarProgress:
    """A build's events as a tqdm bar over population steps, showing members done, steps/s and ETA."""

    def __call__(self, name: str, payload: Mapping[str, Any]) -> None:
        from tqdm import tqdm

        if name == "start":
            self.members, self.done = payload["members"], 0
            self.bar = tqdm(
                total=payload["steps"], unit="step", desc="training", disable=None, dynamic_ncols=True
            )
            self.bar.set_postfix_str(f"members 0/{self.members}")
        elif name == "step":
            self.bar.update()
        elif name == "members_done":
            self.done += payload["count"]
            self.bar.set_postfix_str(f"members {self.done}/{self.members}")
            if self.done >= self.members:
                self.bar.close()


class LineProgress:
    """A build's events as plain lines on stderr, for output that is not a terminal (a SLURM
    log): one once the first step has run (so a build refused before it prints only its error),
    then one per population and at most one a ``every`` seconds between, each with the elapsed
    time, the steps and members done and an ETA from the steps' pace."""

    def __init__(self, every: float = 60.0, now: Callable[[], float] = time.monotonic) -> None:
        self.every, self.now = every, now
        self.started = self.shown = now()
        self.steps = self.total = self.done = self.members = 0

    def __call__(self, name: str, payload: Mapping[str, Any]) -> None:
        if name == "start":
            self.total, self.members = payload["steps"], payload["members"]
        elif name == "step":
            self.steps += 1
            if self.steps == 1:
                self.echo(f"training {self.members} members: {self.total} population steps")
            elif self.now() - self.shown >= self.every:
                self.echo(self.progress())
        elif name == "members_done":
            self.done += payload["count"]
            self.echo(self.progress())

    def progress(self) -> str:
        elapsed = self.now() - self.started
        left = elapsed * (self.total - self.steps) / self.steps if self.steps else 0.0
        share = f"{100 * self.steps / self.total:.0f}%" if self.total else "-"
        return (
            f"step {self.steps}/{self.total} ({share}), members {self.done}/{self.members}, ETA {clock(left)}"
        )

    def echo(self, text: str) -> None:
        self.shown = self.now()
        click.echo(f"[{clock(self.shown - self.started)}] {text}", err=True)


def run_build(
    task: str,
    preset: str | None,
    overrides: Mapping[str, Any],
    device: str,
    out: Path | None,
    population: int | None,
    part: str | None,
    threads: int,
    data: DataSources | None = None,
    variant: str | None = None,
) -> None:
    """Resolve the recipe, build, and print a summary."""
    import torch

    from rnn_zoo.build.builder import build_zoo, resolve_device
    from rnn_zoo.build.plan import zoo_name
    from rnn_zoo.build.recipe import DEFAULT_VARIANT, load_recipe
    from rnn_zoo.folder import parse_part

    torch.set_num_threads(threads)
    chosen = preset or ("paper" if resolve_device(device).type == "cuda" else "small")
    recipe = load_recipe(task, chosen, overrides, variant or DEFAULT_VARIANT)
    if preset is None:
        click.echo(f"preset {chosen} (choose with --preset tiny|small|medium|paper)", err=True)
    out = out or Path("rnn-zoo") / zoo_name(recipe)
    started = time.perf_counter()
    report = build_zoo(
        recipe,
        out,
        device=resolve_device(device),
        population=population,
        part=parse_part(part),
        event=BarProgress() if sys.stderr.isatty() else LineProgress(),
        data=data,
    )
    click.echo(build_summary(report, time.perf_counter() - started))


def run_merge(parts: Sequence[Path], out: Path | None, data: DataSources | None = None) -> None:
    """Merge part directories and print where the zoo is."""
    from rnn_zoo.build.merge import merge_parts
    from rnn_zoo.build.output import read_claim

    claim = read_claim(parts[0]) if parts[0].is_dir() else None
    recipe = claim["recipe"] if claim and isinstance(claim.get("recipe"), dict) else {}
    name = "-".join(str(recipe[key]) for key in ("task", "variant") if key in recipe) or "zoo"
    zoo = merge_parts(parts, out or Path("rnn-zoo") / name, data)
    rows = zoo.rows
    click.echo(
        f"merged {len(parts)} parts into {zoo.root} ({rows:,} rows); check it with `rnn-zoo verify {zoo.root}`"
    )


def build_summary(report: BuildReport, seconds: float) -> str:
    """Members, the metric's distribution at the last snapshot, wall time and members per second."""
    metric, values, rows = last_snapshot_metric(report)
    lines = [
        f"{'zoo' if report.finished else 'part'}     {report.root}  ({rows:,} member snapshots, {len(values):,} runs)",
        f"trained  {report.runs_trained:,} runs now in populations of {report.population:,}, "
        f"{seconds:,.1f} s wall, {report.runs_trained / max(seconds, 1e-9):.2f} runs/s",
    ]
    if len(values):
        quartiles = np.quantile(values, [0, 0.25, 0.5, 0.75, 1])
        shown = "  ".join(f"{q:.3f}" for q in quartiles)
        lines.append(f"{metric} at the last snapshot: mean {values.mean():.3f}; min/25/50/75/max  {shown}")
    if not report.finished:
        lines.append("this is one part; combine all parts with `rnn-zoo merge DIR...`")
    return "\n".join(lines)


def last_snapshot_metric(report: BuildReport) -> tuple[str, np.ndarray, int]:
    """The summary metric of every run at its last snapshot, read back from the written shards."""
    import pyarrow as pa
    import pyarrow.compute as pc  # a submodule: `import pyarrow` alone does not load it

    metric = report.metric
    files = [
        report.root / shard.data_file for shard in report.shards if (report.root / shard.data_file).is_file()
    ]
    if not files:
        return metric, np.array([]), 0
    from rnn_zoo.zoo.shards import read_table

    table = pa.concat_tables([read_table(path, columns=["step", metric]) for path in files])
    last = table.filter(pc.equal(table["step"], pc.max(table["step"])))
    return metric, np.asarray(last.column(metric).to_numpy(), dtype=np.float64), table.num_rows


@main.command()
@click.option("--task", required=True, help="Task family, e.g. formal-languages (a recipe in builders/).")
@click.option(
    "--recipe",
    "variant",
    help="A named recipe of the task, [recipes.NAME] in builders/TASK.toml, e.g. mixed (members of "
    "several architectures, one zoo config each) [default: the file's own].",
)
@click.option(
    "--preset",
    help="Recipe preset: tiny (seconds), small (minutes on a CPU), medium (a few hundred runs, "
    "half an hour on 2 CPU cores in two --shard parts) or paper (1,000 runs, for a GPU) "
    "[default: paper with a CUDA device, else small].",
)
@click.option(
    "--runs",
    type=click.IntRange(1, MAX_RUNS),
    help=f"Number of training runs, 1 to {MAX_RUNS:,} (overrides the preset).",
)
@click.option("--seed", type=SEED, help="Build seed, 0 to 2**63-1 (overrides the preset).")
@click.option("--device", type=click.Choice(["auto", "cpu", "cuda"]), default="auto", show_default=True)
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Zoo directory [default: ./rnn-zoo/<task>, ./rnn-zoo/<task>-<recipe> with --recipe].",
)
@click.option(
    "--population",
    type=click.IntRange(1, MAX_RUNS),
    help="Members trained at once [default: as many as fit in memory].",
)
@click.option(
    "--shard", "part", help="Build only part i of n (0-based), e.g. 0/4; combine with `rnn-zoo merge`."
)
@click.option(
    "--threads",
    type=THREADS,
    default=1,
    show_default=True,
    help="torch's CPU threads. A population's ops are small: a second thread gains little and, "
    "on a busy machine, waits; to use many cores, build --shard parts side by side.",
)
@mnist_options
def build(
    task: str,
    variant: str | None,
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
    """Train a zoo from builders/TASK.toml into a zoo directory (format v1; v2: several architectures).

    A stopped build resumes when the same command is run again. Nothing is compiled, so a
    first build pays no compile time; on a GPU the training step is captured once as a CUDA
    graph after three warm-up steps (about a second) and replayed.
    """
    overrides = {key: value for key, value in (("runs", runs), ("seed", seed)) if value is not None}
    data = data_sources(mnist, mnist_dir)
    run_build(task, preset, overrides, device, out, population, part, threads, data, variant)


@main.command()
@click.argument("parts", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "--out",
    type=click.Path(path_type=Path),
    help="Zoo directory [default: ./rnn-zoo/<task>, ./rnn-zoo/<task>-<recipe> with --recipe].",
)
@mnist_options
def merge(parts: tuple[Path, ...], out: Path | None, mnist: str | None, mnist_dir: Path | None) -> None:
    """Combine the directories PARTS of `rnn-zoo build --shard i/n` runs into one zoo.

    For task mnist, the digits the parts were trained on must be found again (the same
    sources as for build): the zoo records them.
    """
    run_merge(list(parts), out, data_sources(mnist, mnist_dir))
