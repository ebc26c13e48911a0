"""Floor and ceiling curves of a zoo: how far below the constant a bench budget lets any embedding go.

Trains only the bench's two reference rows -- ``constant`` (one learned embedding for every
member) and ``oracle`` (a learned map of each member's task, snapshot and weight decay from the
zoo's metadata) -- with the bench's own emulation code and seeds, starting from a bench preset's
emulation settings (``--preset``; none: the defaults) with the options given over it, and
prints their mean validation loss at every validation with the ratio oracle / constant. A
budget has headroom where that ratio is well below 1; the paper-cpu bench preset was chosen
from these curves (docs/results.md). No encoder runs, so a curve costs about what the bench's
cheapest encoder does.

Run the two rows side by side, one per core, then join them:

    python benchmarks/headroom_curves.py --zoo ZOO --preset paper-cpu --lr 3e-3 --rows constant --json c.json &
    python benchmarks/headroom_curves.py --zoo ZOO --preset paper-cpu --lr 3e-3 --rows oracle --json o.json
    python benchmarks/headroom_curves.py --join c.json o.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

import torch

from rnn_zoo.bench.config import PRESETS, BenchConfig, emulation_config
from rnn_zoo.bench.data import bench_data
from rnn_zoo.bench.job import seeded
from rnn_zoo.bench.pretraining import train_emulation
from rnn_zoo.bench.references import REFERENCES, bench_references

# EmulationConfig fields the command line may set; each not given keeps the preset's value.
EMULATION_OPTIONS = (
    "steps",
    "lr",
    "validate_every",
    "validation_members",
    "validation_sequences",
    "emulator_hidden",
    "batch_members",
)


def curves(args: argparse.Namespace) -> dict[str, Any]:
    """Each asked reference row's validation curve per seed, with the settings that made it."""
    given = {name: getattr(args, name) for name in EMULATION_OPTIONS}
    emulation = emulation_config(args.preset, **given)
    data = bench_data(args.zoo, BenchConfig(seeds=args.seeds, emulation=emulation))
    print(f"emulation: {asdict(emulation)}", flush=True)
    references = bench_references(data)
    found: dict[str, Any] = {"emulation": asdict(emulation), "rows": {}}
    for name in args.rows:
        reference = references[name]
        if reference.factory is None:
            raise SystemExit(f"{name} cannot run on this zoo: {reference.reason}")
        for seed in range(args.seeds):
            started = time.perf_counter()
            result = train_emulation(
                seeded(reference.factory, seed)(),
                reference.data.splits["train"],
                reference.data.splits["validation"],
                replace(emulation, seed=seed),
            )
            seconds = time.perf_counter() - started
            points = {int(p["step"]): p["validation_loss"] for p in result.curve}
            found["rows"].setdefault(name, {})[str(seed)] = {"curve": points, "seconds": seconds}
            print(
                f"{name} seed {seed}: best {result.best_validation_loss:.4f} at step {result.best_step}, {seconds:.0f} s",
                flush=True,
            )
    return found


def table(found: dict[str, Any]) -> str:
    """Mean validation loss per row at every validation step, and oracle / constant."""
    rows = found["rows"]
    means = {
        name: {
            step: sum(seeds[s]["curve"][step] for s in seeds) / len(seeds)
            for step in next(iter(seeds.values()))["curve"]
        }
        for name, seeds in rows.items()
    }
    names = [name for name in REFERENCES if name in means]
    lines = ["| step | " + " | ".join(names) + (" | oracle / constant |" if len(names) == 2 else " |")]
    lines.append("|---" * (len(names) + 1 + (len(names) == 2)) + "|")
    for step in sorted(next(iter(means.values()))):
        cells = [f"{means[name][step]:.4f}" for name in names]
        if len(names) == 2:
            cells.append(f"{means['oracle'][step] / means['constant'][step]:.2f}")
        lines.append(f"| {step:,} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _load(path: str) -> dict[str, Any]:
    found = json.loads(Path(path).read_text())
    for seeds in found["rows"].values():
        for record in seeds.values():
            record["curve"] = {int(step): loss for step, loss in record["curve"].items()}
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--zoo", default="rnn-zoo/formal-languages")
    parser.add_argument("--rows", type=lambda s: s.split(","), default=list(REFERENCES))
    parser.add_argument(
        "--preset", choices=list(PRESETS), help="the bench preset to start from [default: none]"
    )
    parser.add_argument("--lr", type=float)
    for name in EMULATION_OPTIONS[2:]:
        parser.add_argument("--" + name.replace("_", "-"), type=int)
    parser.add_argument("--steps", type=int)
    parser.add_argument("--seeds", type=int, default=1)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--json", help="write the curves here")
    parser.add_argument("--join", nargs="+", metavar="JSON", help="print the table of curves written before")
    args = parser.parse_args()
    if args.join:
        found = {"rows": {}}
        for path in args.join:
            found["rows"].update(_load(path)["rows"])
        print(table(found))
        return
    unknown = sorted(set(args.rows) - set(REFERENCES))
    if unknown:
        parser.error(f"unknown row(s) {', '.join(unknown)}; choose from {', '.join(REFERENCES)}")
    torch.set_num_threads(args.threads)
    found = curves(args)
    if args.json:
        Path(args.json).write_text(json.dumps(found, indent=1))
    print(table(found))


if __name__ == "__main__":
    main()
