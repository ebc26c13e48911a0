"""How long a bench's emulation will take, from a quick timing of a few steps per encoder.

Each encoder (and reference) trains for a few steps with a fresh emulator on the bench's own
data, then validates a few members; the step rate and the validation rate give the time of a
job's emulation. Downstream fits, supervised baselines and cloning come on top: the caller
refines the estimate with the measured time of each finished job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from torch import nn

from rnn_zoo.bench.job import JobContext, seeded
from rnn_zoo.bench.pretraining import EmulationConfig, EmulationData, train_emulation

TIMED_STEPS = 3  # the first is a warm-up and is not counted


@dataclass(frozen=True)
class StepTime:
    """Seconds per emulation step and per validated member of one encoder."""

    step: float
    validated_member: float

    def job_seconds(self, config: EmulationConfig, validation_members: int) -> float:
        """Seconds of one job's emulation: every step and every validation."""
        validations = len(range(config.validate_every, config.steps + 1, config.validate_every))
        validations += config.steps % config.validate_every != 0  # the last step always validates
        members = min(validation_members, config.validation_members or validation_members)
        return config.steps * self.step + validations * members * self.validated_member


def time_steps(
    make_encoder: Callable[[], nn.Module],
    train: EmulationData,
    validation: EmulationData,
    config: EmulationConfig,
) -> StepTime:
    """Time ``TIMED_STEPS`` emulation steps, each followed by a validation of a batch of members.

    Validating after every step makes each step's loss read back at once, so the events
    alternate: a step's ``loss`` once that step has run, then its ``validation_loss``. A step
    takes from one validation event to the next step's loss event (the first step, a warm-up,
    is not counted); a validation from a step's loss event to its validation event.
    """
    members = min(len(validation), config.batch_members)
    quick = replace(config, steps=TIMED_STEPS, validate_every=1, validation_members=members)
    stamps: list[tuple[str, float]] = []

    def stamp(kind: str, payload: Mapping[str, Any]) -> None:
        stamps.append(("validation" if "validation_loss" in payload else "step", time.perf_counter()))

    train_emulation(make_encoder(), train, validation, quick, event=stamp)
    steps = [now for kind, now in stamps if kind == "step"]
    validations = [now for kind, now in stamps if kind == "validation"]
    step = sum(steps[k] - validations[k - 1] for k in range(1, TIMED_STEPS)) / (TIMED_STEPS - 1)
    validated = sum(v - s for s, v in zip(steps, validations, strict=True)) / TIMED_STEPS / members
    return StepTime(step, validated)


def estimate_jobs(jobs: list[Any], contexts: Mapping[str, JobContext]) -> dict[str, Any]:
    """The ``estimate`` event's payload: each job's emulation seconds and their sum.

    ``jobs`` are the jobs to run (Job: encoder, seed); ``contexts[encoder]`` is the context its
    jobs run in (its data, config and encoder factory). Each encoder is timed once.
    """
    per_encoder: dict[str, float] = {}
    untimed = []
    for name in dict.fromkeys(job.encoder for job in jobs):
        context, emulation = contexts[name], contexts[name].config.emulation
        train, validation = context.data.splits["train"], context.data.splits["validation"]
        try:
            timing = time_steps(seeded(context.factories[name], 0), train, validation, emulation)
        except Exception:  # the encoder's own job reports its failure, in one line
            untimed.append(name)
            timing = StepTime(0.0, 0.0)
        per_encoder[name] = timing.job_seconds(emulation, len(validation))
    planned = [
        {"encoder": job.encoder, "seed": job.seed, "seconds": per_encoder[job.encoder]} for job in jobs
    ]
    total = sum(entry["seconds"] for entry in planned)
    return {"jobs": planned, "seconds": total, "timed_steps": TIMED_STEPS, "untimed": untimed}
