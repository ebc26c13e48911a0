"""One learning-curve plot from several benches of one zoo: every encoder's and reference row's curves.

A ranking built from several ``rnn-zoo bench`` runs (e.g. the costly encoders run later with
``--no-references``, paired with the first bench's floor and ceiling) has one training-curve
plot per bench. This draws them in one, as the bench draws its own (floor and ceiling dashed),
after checking that the benches are comparable: the same zoo (fingerprint), seeds and
emulation settings, and no encoder in two of them.

    python benchmarks/plot_curves.py BENCH_A BENCH_B ... --out curves.png

Each BENCH is a bench's output folder or its results.json.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from rnn_zoo.bench.plots import plot_training_curves, validation_curves

# What two benches must share for their curves to be read side by side.
SHARED = {
    "zoo": lambda results: results["zoo"]["fingerprint"],
    "seeds": lambda results: results["seeds"],
    "emulation settings": lambda results: results["config"]["emulation"],
}


def load(path: Path) -> dict[str, Any]:
    file = path / "results.json" if path.is_dir() else path
    try:
        return json.loads(file.read_text())
    except (OSError, ValueError) as error:
        raise SystemExit(f"{file}: not a bench's results.json ({error})") from None


def joined_curves(benches: list[tuple[Path, dict[str, Any]]]) -> tuple[dict[str, list[Any]], list[str]]:
    """Every run's validation curves (name -> one curve per seed) and the reference rows that ran."""
    (first, reference), *others = benches
    for path, results in others:
        for what, read in SHARED.items():
            if read(results) != read(reference):
                raise SystemExit(
                    f"{path} and {first} are benches of different {what}: their curves do not compare"
                )
    curves: dict[str, list[Any]] = {}
    owner: dict[str, Path] = {}
    for path, results in benches:
        for name, seeds in validation_curves(results).items():
            if name in curves:
                raise SystemExit(f"{name} is in both {owner[name]} and {path}: give each encoder once")
            curves[name], owner[name] = seeds, path
    # the reference rows that ran, as the bench dashes its own
    dashed = [name for _, results in benches for name in results.get("references") or () if name in curves]
    return curves, dashed


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("benches", nargs="+", type=Path, help="bench output folders or results.json files")
    parser.add_argument("--out", type=Path, required=True, help="the PNG to write")
    args = parser.parse_args(argv)
    benches = [(path, load(path)) for path in args.benches]
    curves, dashed = joined_curves(benches)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    plot_training_curves(args.out, curves, dashed=dashed)
    print(f"{args.out}: {len(curves)} rows ({', '.join(curves)}), dashed: {', '.join(dashed) or 'none'}")


if __name__ == "__main__":
    sys.exit(main())
