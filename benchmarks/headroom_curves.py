"""Floor and ceiling curves of a zoo: how far below the constant a bench budget lets any embedding go.

Trains only the bench's two reference rows -- ``constant`` (one learned embedding for every
member) and ``oracle`` (a learned map of each member's task, snapshot and weight decay from the
zoo's metadata) -- with the bench's own emulation code, seeds and batches, at the given
learning rate, emulator width and steps, and prints their validation loss at every
validation with the ratio oracle / constant. A bench budget has headroom where that ratio
is well below 1; docs/results.md's presets were chosen from these curves. No encoder runs,
so one curve costs about what the bench's cheapest encoder does.

Run the two rows side by side, one per core, then join them:

    python benchmarks/headroom_curves.py --zoo ZOO --lr 1e-3 --steps 4000 --rows constant --json c.json &
    python benchmarks/headroom_curves.py --zoo ZOO --lr 1e-3 --steps 4000 --rows oracle --json o.json
    python benchmarks/headroom_curves.py --join c.json o.json
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch

from rnn_zoo.bench.config import BenchConfig, EmulationConfig
from rnn_zoo.bench.data import bench_data
from rnn_zoo.bench.job import seeded
from rnn_zoo.bench.pretraining import train_emulation
from rnn_zoo.bench.references import REFERENCES, bench_references


def curves(args: argparse.Namespace) -> dict[str, Any]:
    """Each asked reference row's validation curve per seed, with the settings that made it."""
    emulation = EmulationConfig(
        steps=args.steps,
        lr=args.lr,
        emulator_hidden=args.emulator_hidden,
        validate_every=args.validate_every,
        validation_members=args.validation_members,
        validation_sequences=args.validation_sequences,
        batch_members=args.batch_members,
    )
    data = bench_data(args.zoo, BenchConfig(seeds=args.seeds, emulation=emulation))
    references = bench_references(data)
    found: dict[str, Any] = {"settings": {**vars(args), "join": None}, "rows": {}}
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
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--steps", type=int, default=4_000)
    parser.add_argument("--validate-every", type=int, default=250)
    parser.add_argument("--validation-members", type=int, default=1_024)
    parser.add_argument("--validation-sequences", type=int, default=10)
    parser.add_argument("--emulator-hidden", type=int, default=128)
    parser.add_argument("--batch-members", type=int, default=64)
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
