"""The bench's progress as plain log lines, for output that is not a terminal (a SLURM log).

Every line starts with the elapsed wall time, ``[h:mm:ss]``: the estimate before the first
job, a line per emulation validation and per finished job, each with an ETA. The ETA scales
the estimate of the remaining jobs' emulation by how long the finished jobs really took
(downstream fits, baselines and cloning included) against their estimate.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

import click

LINE_START = r"^\[\d+:\d\d:\d\d\] "  # how every progress line starts (a regular expression)


def clock(seconds: float) -> str:
    """Seconds as ``h:mm:ss``."""
    whole = max(0, round(seconds))
    return f"{whole // 3600}:{whole // 60 % 60:02d}:{whole % 60:02d}"


def estimate_line(info: Mapping[str, Any]) -> str:
    """The estimate event in words: how long the bench's emulation will take, and what comes on top."""
    jobs = info["jobs"]
    return (
        f"estimate: {len(jobs)} job(s), emulation about {clock(info['seconds'])} "
        f"(timed {info['timed_steps']} steps of each encoder); downstream fits, supervised baselines "
        "and cloning come on top, so the ETA is refined after each job"
    )


class LogProgress:
    """The bench's events (rnn_zoo.bench.run) as plain lines on stderr."""

    def __init__(self, steps: int, now: Any = time.monotonic) -> None:
        self.steps, self.now = steps, now
        self.started = now()
        self.planned: dict[tuple[str, int], float] = {}  # estimated emulation seconds per job
        self.done: dict[tuple[str, int], float] = {}  # measured seconds per finished job
        self.order: list[tuple[str, int]] = []

    def echo(self, text: str) -> None:
        click.echo(f"[{clock(self.now() - self.started)}] {text}", err=True)

    def __call__(self, kind: str, info: Mapping[str, Any]) -> None:
        if kind == "estimate":
            self.planned = {(job["encoder"], job["seed"]): job["seconds"] for job in info["jobs"]}
            self.order = list(self.planned)
            self.echo(estimate_line(info))
            return
        key = (info.get("encoder"), info.get("seed"))
        label = f"{key[0]} seed {key[1]}"
        if kind == "skip":
            self.echo(f"{label}: finished before, kept")
        elif kind == "emulation" and "validation_loss" in info:
            fraction = info["step"] / self.steps
            self.echo(
                f"{self.place(key)} {label}: step {info['step']}/{self.steps}, validation loss "
                f"{info['validation_loss']:.4f}; ETA {clock(self.remaining(key, fraction))}"
            )
        elif kind == "job":
            self.done[key] = info["seconds"]
            self.echo(
                f"{self.place(key)} {label}: done in {clock(info['seconds'])}; "
                f"ETA {clock(self.remaining(None, 1.0))}"
            )

    def place(self, key: tuple[Any, Any]) -> str:
        """``(i/n)``: the job's place among the jobs to run."""
        index = self.order.index(key) + 1 if key in self.order else "?"
        return f"({index}/{len(self.order) or '?'})"

    def remaining(self, current: tuple[Any, Any] | None, fraction: float) -> float:
        """Seconds left: the estimates of the jobs not finished, scaled by the finished jobs'
        measured / estimated time; the current job counts only its unfinished ``fraction``."""
        measured = sum(self.done.values())
        estimated = sum(self.planned.get(key, 0.0) for key in self.done)
        scale = measured / estimated if estimated > 0 else 1.0
        left = sum(
            seconds for key, seconds in self.planned.items() if key not in self.done and key != current
        )
        if current is not None:
            left += self.planned.get(current, 0.0) * (1 - fraction)
        return scale * left

    def close(self) -> None:
        """Nothing to close: lines are written as they come."""
