"""The benchmark's commands: `rnn-zoo encoders`, `rnn-zoo bench` and `rnn-zoo bench-merge`."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from rnn_zoo.cli.bench_request import BenchRequest, print_results, run_bench_command
from rnn_zoo.cli.main import DeviceName, main
from rnn_zoo.errors import ZooError

MAX_SEEDS, MAX_STEPS = 1_000, 10_000_000  # the paper: 15 seeds x 100,000 steps
# `rnn-zoo encoders` builds every encoder at --member's size: sizes past these are a typo.
MEMBER_SIZES = (
    click.IntRange(1, 1024),
    click.IntRange(1, 1024),
    click.IntRange(1, 16),
    click.IntRange(1, 1024),
)
MAX_MEMBER_PARAMETERS = 2_000_000  # the flat encoder alone holds 256 x this many floats


@main.command(name="encoders")
@click.option(
    "--member",
    type=MEMBER_SIZES,
    default=(6, 32, 2, 6),
    show_default=True,
    metavar="INPUT HIDDEN LAYERS OUTPUT",
    help="Member size to count parameters at (default: the paper's formal-language member); "
    f"sizes 1 to 1024, layers 1 to 16, at most {MAX_MEMBER_PARAMETERS:,} parameters.",
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
    if spec.num_parameters > MAX_MEMBER_PARAMETERS:
        raise ZooError(
            f"option --member: a member of {spec.num_parameters:,} parameters is past the "
            f"{MAX_MEMBER_PARAMETERS:,} at which encoders are counted; give a smaller member"
        )
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
    "--preset",
    type=click.Choice(["tiny", "medium", "small", "paper-cpu", "paper"]),
    default=None,
    help="Bench preset (below) [default: the one named like the zoo's build preset, e.g. "
    "paper-cpu for a zoo of `rnn-zoo build --preset paper-cpu`; else small].",
)
@click.option(
    "--seeds",
    type=click.IntRange(1, MAX_SEEDS),
    default=None,
    help=f"seeds per encoder, 1 to {MAX_SEEDS:,} (preset: tiny 2, medium, small and paper-cpu 3, paper 15)",
)
@click.option(
    "--steps",
    type=click.IntRange(1, MAX_STEPS),
    default=None,
    help=f"emulation training steps, 1 to {MAX_STEPS:,} (overrides the preset)",
)
@click.option(
    "--validation-sequences",
    type=click.IntRange(min=1),
    default=None,
    help="stored sequences per member that emulation validation scores, a fixed random subset "
    "(at most as many as the zoo stores; preset: 10, paper 1 as the authors' code)",
)
@click.option(
    "--device",
    type=DeviceName(),
    default=None,
    help="torch device: cpu, cuda or cuda:N (default: cuda when available)",
)
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
    preset: str | None,
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
    Presets, and the time of all six encoders with the two reference rows (README: how it
    was measured; the bench also prints its own estimate before it starts):
      tiny   2 seeds x 100 steps, narrow encoders: about 75 seconds on 2 CPU cores
             (measured on a 16-run tiny zoo)
      medium 3 seeds x 800 steps, a narrower parameter transformer, no supervised
             baselines; for a zoo of `rnn-zoo build --preset medium`: about an hour
             on 2 CPU cores in two --shard parts (estimate from measured step rates)
      small  3 seeds x 3,000 steps at lr 1e-3: about 12 hours of emulation on 2 CPU cores
             (the bench's own estimate on the README's small zoo)
      paper-cpu  3 seeds x 2,500 steps at lr 1e-3, no supervised baselines, for a zoo of
             `rnn-zoo build --preset paper-cpu`: both probing encoders, flat, layer-stats
             and the reference rows 64 minutes on 2 CPU cores in --shard parts (measured);
             DWS adds 1.8 CPU-hours, the narrowed parameter transformer 1.7 (measured)
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
    run_bench_command(request, bench_encoder_builder())


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
