"""What `rnn-zoo bench` was asked and how it answers: encoder names and options, progress, what is printed."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

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
    """What the run can say (zoo size, headroom), the ranking by share of the headroom, the
    emulation table, one downstream table per property, and where the report is."""
    from rnn_zoo.bench.readings import first_lines, ranking_section
    from rnn_zoo.bench.tables import downstream_table, emulation_table

    for sentence in first_lines(results):
        click.echo(sentence + "\n")
    for line in ranking_section(results)[1:]:  # its leading blank line is printed above
        click.echo(line)
    click.echo("\n" + emulation_table(results))
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
    preset: str | None  # None: the zoo's own build preset where the bench has one, else small
    seeds: int | None
    steps: int | None
    device: str | None
    out: Path
    part: str | None
    validation_sequences: int | None = None
    config: str | None = None  # the zoo config benched (in a zoo of several)
    transfer_to: str | None = None  # comma list of other configs, or all
    references: bool = True  # the constant and oracle rows


DEFAULT_PRESET = "small"


def zoo_preset(zoo: Any) -> str:
    """The bench preset of the name the zoo was built with (`rnn-zoo build --preset`), where
    the bench has one, else small: a tiny zoo gets the tiny bench, a paper-cpu zoo paper-cpu."""
    from rnn_zoo.bench.config import PRESETS

    built = (zoo.manifest.get("recipe") or {}).get("preset")
    return built if isinstance(built, str) and built in PRESETS else DEFAULT_PRESET


def chosen_preset(zoo: Any, preset: str) -> str:
    """The line that says which preset :func:`zoo_preset` chose for ``zoo``, and why."""
    if preset == DEFAULT_PRESET and (zoo.manifest.get("recipe") or {}).get("preset") != preset:
        why = "the default (the zoo was not built with a preset the bench has)"
    else:
        why = "the preset this zoo was built with"
    return f"bench preset {preset}: {why} (--preset to choose another)"


def said_first(event: Any, line: str) -> Any:
    """``event``, printing ``line`` to stderr before the bench's estimate (once its checks passed)."""
    said = False

    def call(kind: str, info: Mapping[str, Any]) -> None:
        nonlocal said
        if kind == "estimate" and not said:
            said = True
            click.echo(line, err=True)
        event(kind, info)

    return call


def check_validation_sequences(zoo: Any, config: str | None, asked: int | None) -> None:
    """``--validation-sequences`` may ask for at most the sequences each member of the zoo stores."""
    parts = [zoo.config(config)] if config is not None or not zoo.multi_config else list(zoo.each_config())
    stored = [
        column.shape[0] for part in parts for column in part.schema.probes if column.name == "sequences"
    ]
    if asked is not None and stored and asked > min(stored):
        raise ZooError(
            f"--validation-sequences {asked} is more than the {min(stored)} sequences each member of "
            f"zoo {zoo.root} stores; give 1 to {min(stored)}"
        )


def run_bench_command(request: BenchRequest, builder: Any) -> None:
    """Check the request, run (this share of) the bench with progress, print what it gave.

    ``builder`` makes encoders by name; clones' generated sequences are judged by the zoo's task family.
    """
    import torch

    from rnn_zoo.bench.config import bench_config, encoder_options
    from rnn_zoo.bench.memory import keep_freed_memory
    from rnn_zoo.bench.output import plan_jobs, share
    from rnn_zoo.bench.references import reference_names
    from rnn_zoo.bench.run import run_bench
    from rnn_zoo.cli.bench_log import LogProgress, clock
    from rnn_zoo.encoders.plugins import factory
    from rnn_zoo.folder import parse_part
    from rnn_zoo.zoo.load import locate_zoo

    names, part = encoder_names(request.encoder), parse_part(request.part)
    given = parse_options(request.option_pairs)
    for name in names:  # an unknown name or a broken import path fails before the zoo loads
        factory(name)
    device = request.device or ("cuda" if torch.cuda.is_available() else "cpu")
    zoo = locate_zoo(request.zoo)
    preset = request.preset or zoo_preset(zoo)
    validation = {"validation_sequences": request.validation_sequences}
    config = bench_config(
        preset,
        seeds=request.seeds,
        steps=request.steps,
        device=device,
        emulation=validation,
        references=request.references,
    )
    jobs = share(plan_jobs([*names, *reference_names(config)], config.seeds), part)
    check_validation_sequences(zoo, request.config, request.validation_sequences)
    terminal = sys.stderr.isatty()  # else plain lines with an ETA (a SLURM log, a pipe)
    progress = (
        BenchProgress(config.emulation.steps, len(jobs)) if terminal else LogProgress(config.emulation.steps)
    )
    keep_freed_memory()  # each step's activations reused, not mapped afresh (rnn_zoo.bench.memory)
    started = time.monotonic()
    try:
        results = run_bench(
            zoo,
            names,
            config,
            request.out,
            part=part,
            encoder_builder=builder,
            encoder_options=encoder_options(preset, names, given),
            event=progress if request.preset else said_first(progress, chosen_preset(zoo, preset)),
            zoo_config=request.config,
            transfer_to=config_names(request.transfer_to),
        )
    finally:
        progress.close()
    if results is None:
        click.echo(part_summary(request.out, part))
    else:
        print_results(results, request.out)
    click.echo(f"wall time {clock(time.monotonic() - started)} ({torch.get_num_threads()} CPU threads)")
