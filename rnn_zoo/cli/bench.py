"""The command-line face of the benchmark: encoder names and options, progress, what is printed."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click

from rnn_zoo.cli.main import main
from rnn_zoo.errors import ZooError


def encoder_names(text: str) -> list[str]:
    """``all`` (built-in and installed encoders), or a comma list of names and import paths."""
    from rnn_zoo.encoders.plugins import available

    names = available() if text == "all" else [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ZooError("--encoder is empty; give a name, a comma list, an import path or all")
    return names


def config_names(text: str | None) -> list[str]:
    """``--transfer-to``: a comma list of config names, or all; nothing when not given."""
    if text is None:
        return []
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise ZooError("--transfer-to is empty; give a config name, a comma list or all")
    return names


def parse_options(pairs: Sequence[str]) -> dict[str, Any]:
    """``KEY=VALUE`` strings -> options; a value is JSON where it parses (lists become tuples)."""
    options: dict[str, Any] = {}
    for pair in pairs:
        key, sign, text = pair.partition("=")
        if not sign or not key.strip().isidentifier():
            raise ZooError(f"--encoder-option {pair!r} is not KEY=VALUE, e.g. width=32")
        try:
            value = json.loads(text)
        except ValueError:
            value = text
        options[key.strip()] = tuple(value) if isinstance(value, list) else value
    return options


def encoder_options(names: Sequence[str], preset: str, given: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """Per encoder: the preset's sizes for a built-in encoder, then the --encoder-option values."""
    from rnn_zoo.bench.run import ENCODER_PRESETS

    sizes = ENCODER_PRESETS.get(preset, {})
    return {name: {**sizes.get(name, {}), **given} for name in names}


class BenchProgress:
    """The bench's events as a progress bar per job and a line per job skipped as finished."""

    def __init__(self, steps: int, jobs: int) -> None:
        self.steps, self.jobs, self.started = steps, jobs, 0
        self.bars: dict[tuple[str, int], Any] = {}

    def __call__(self, kind: str, info: Mapping[str, Any]) -> None:
        from tqdm import tqdm

        if kind == "estimate":
            from rnn_zoo.cli.bench_log import estimate_line

            click.echo(estimate_line(info), err=True)
            return
        key = (info["encoder"], info["seed"])
        if kind == "skip":
            self.started += 1
            click.echo(
                f"[{self.started}/{self.jobs}] {key[0]} seed {key[1]}: finished before, kept", err=True
            )
        elif kind == "emulation" and "loss" in info:
            if key not in self.bars:
                self.started += 1
                label = f"[{self.started}/{self.jobs}] {key[0]} seed {key[1]}"
                self.bars[key] = tqdm(total=self.steps, desc=label, unit="step", leave=False, disable=None)
            self.bars[key].update(1)
            self.bars[key].set_postfix(loss=f"{info['loss']:.3f}", refresh=False)
        elif kind == "downstream" and key in self.bars:
            self.bars[key].set_description(f"{key[0]} seed {key[1]}: {info['property']}")

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def print_results(results: Mapping[str, Any], out: Path) -> None:
    """The emulation table, one downstream table per property, and where the report is."""
    from rnn_zoo.bench.report import downstream_table, emulation_table

    click.echo(emulation_table(results))
    for prop in results["properties"]:
        click.echo("\n" + downstream_table(results, prop))
    if "transfer" in results:
        from rnn_zoo.bench.transfer_report import transfer_table

        for prop in results["properties"]:
            click.echo("\n" + transfer_table(results, prop))
    click.echo(f"\nreport: {out / 'report.md'}")


def part_summary(out: Path, part: tuple[int, int] | None) -> str:
    """What a finished part says: where its jobs are and how to join the parts."""
    index, count = part or (0, 1)
    return (
        f"part {index}/{count} is finished in {out}; when every part is, join them "
        "with `rnn-zoo bench-merge PART_DIR... --out DIR`"
    )


@dataclass(frozen=True)
class BenchRequest:
    """What `rnn-zoo bench` was asked, as typed on the command line."""

    zoo: str
    encoder: str
    option_pairs: tuple[str, ...]
    preset: str
    seeds: int | None
    steps: int | None
    device: str | None
    out: Path
    part: str | None
    validation_sequences: int | None = None
    config: str | None = None  # the zoo config benched (in a zoo of several)
    transfer_to: str | None = None  # comma list of other configs, or all
    references: bool = True  # the constant and oracle rows


def run_bench_command(request: BenchRequest, builder: Any, acceptance: Callable[[Any], Any]) -> None:
    """Check the request, run (this share of) the bench with progress, print what it gave.

    ``builder`` makes encoders by name; ``acceptance(zoo)`` judges clones' generated sequences.
    """
    import torch

    from rnn_zoo.bench.output import plan_jobs, share
    from rnn_zoo.bench.references import reference_names, refuse_reserved
    from rnn_zoo.bench.run import bench_config, run_bench
    from rnn_zoo.cli.bench_log import LogProgress
    from rnn_zoo.cli.build import parse_part
    from rnn_zoo.encoders.plugins import factory
    from rnn_zoo.zoo.load import locate_zoo

    names, part = encoder_names(request.encoder), parse_part(request.part)
    refuse_reserved(names)
    given = parse_options(request.option_pairs)
    for name in names:  # an unknown name or a broken import path fails before the zoo loads
        factory(name)
    device = request.device or ("cuda" if torch.cuda.is_available() else "cpu")
    validation = {"validation_sequences": request.validation_sequences}
    config = bench_config(
        request.preset, seeds=request.seeds, steps=request.steps, device=device, emulation=validation
    )
    config = replace(config, references=request.references)
    jobs = share(plan_jobs([*names, *reference_names(config)], config.seeds), part)
    zoo = locate_zoo(request.zoo)
    terminal = sys.stderr.isatty()
    progress = (
        BenchProgress(config.emulation.steps, len(jobs)) if terminal else LogProgress(config.emulation.steps)
    )
    try:
        results = run_bench(
            zoo,
            names,
            config,
            request.out,
            part=part,
            encoder_builder=builder,
            encoder_options=encoder_options(names, request.preset, given),
            accept=acceptance(zoo),
            event=progress,
            zoo_config=request.config,
            transfer_to=config_names(request.transfer_to),
        )
    finally:
        progress.close()
    if results is None:
        click.echo(part_summary(request.out, part))
    else:
        print_results(results, request.out)


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
@click.option(
    "--cell",
    type=click.Choice(["lstm", "gru", "rnn"]),
    default="lstm",
    show_default=True,
    help="The member's recurrent cell; every built-in encoder takes all three.",
)
def encoders_command(member: tuple[int, int, int, int], cell: str) -> None:
    """List the weight encoders: name, parameter count at default size, permutation invariance.

    Built-in encoders first, then those of installed packages (entry-point group
    rnn_zoo.encoders); `rnn-zoo bench --help` says how to write one.
    """
    from rnn_zoo.encoders import summaries
    from rnn_zoo.encoders.plugins import installed_summaries
    from rnn_zoo.member.spec import MemberSpec

    try:
        spec = MemberSpec(*member, cell=cell)
    except ValueError as error:
        raise ZooError(f"option --member: {error}") from None
    rows = summaries(spec) + installed_summaries(spec)
    click.echo(f"members: {member[2]} x {member[1]} {cell.upper()}, {spec.num_parameters:,} parameters each")
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
@click.option(
    "--preset", type=click.Choice(["tiny", "medium", "small", "paper"]), default="small", show_default=True
)
@click.option(
    "--seeds", type=int, default=None, help="seeds per encoder (preset: tiny 2, medium and small 3, paper 15)"
)
@click.option("--steps", type=int, default=None, help="emulation training steps (overrides the preset)")
@click.option(
    "--validation-sequences",
    type=int,
    default=None,
    help="stored sequences per member that emulation validation scores, a fixed random subset "
    "(preset: tiny, medium and small 10, paper 1 as the authors' code)",
)
@click.option("--device", default=None, help="torch device, e.g. cuda (default: cuda when available)")
@click.option("--out", type=click.Path(path_type=Path), default=Path("rnn-zoo-bench"), show_default=True)
@click.option("--shard", "part", help="Run only share i of n (0-based) of the encoder x seed jobs, e.g. 0/4.")
@click.option(
    "--config",
    "zoo_config",
    default=None,
    help="The config (member architecture) to bench, in a zoo of several.",
)
@click.option(
    "--transfer-to",
    default=None,
    metavar="CONFIGS",
    help="Other configs (comma list, or all) each pre-trained encoder is applied to, frozen: a transfer table.",
)
@click.option(
    "--no-references",
    "no_references",
    is_flag=True,
    help="Leave out the floor and ceiling rows (constant and oracle embeddings, trained like the "
    "encoders): faster, but the report then cannot say whether the budget separates the encoders.",
)
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
    zoo_config: str | None,
    transfer_to: str | None,
    no_references: bool,
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
    A zoo of several member architectures is benched one config at a time (--config NAME);
    --transfer-to B,C (or all) also applies each pre-trained encoder, frozen, to configs
    B and C: emulation loss and downstream scores there, or n/a where shapes do not fit.

    \b
    Floor and ceiling: two reference rows train with the same seeds and batches as the
    encoders, constant (one learned embedding for every member) and oracle (a learned map
    of the member's task, snapshot and weight decay as the zoo's metadata records them);
    neither reads a weight. The report gives the headroom between them and each encoder's
    share of it, or says that the seeds' noise leaves no room to rank (--no-references: none).
    Progress goes to stderr: bars on a terminal, else plain lines with an ETA.

    \b
    Presets, and the time of all six encoders (README: how it was measured):
      tiny   2 seeds x 100 steps, narrow encoders: 4-5 minutes on 2 CPU cores
      medium 3 seeds x 800 steps, a narrower parameter transformer, no supervised
             baselines; for a zoo of `rnn-zoo build --preset medium`: about an hour
             on 2 CPU cores in two --shard parts
      small  3 seeds x 3,000 steps: about half a day on 2 CPU cores (estimate)
      paper  15 seeds x 100,000 steps: about 100 GPU-hours (estimate); use --shard
    """
    request = BenchRequest(
        zoo_path,
        encoder,
        option_pairs,
        preset,
        seeds,
        steps,
        device,
        out,
        part,
        validation_sequences,
        zoo_config,
        transfer_to,
        not no_references,
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

    print_results(merge_bench(list(parts), out, zoo_path), out)
