"""The tasks of a sequential-MNIST zoo: one rotation angle per run, and its split.

Run r's angle is a counter-based draw from (build seed, r), uniform in [0, 360) and rounded
to float32 (the angle torchvision's RandomRotation would use): it never depends on how many
runs a build has. Angles >= 306 degrees (the top 15 % of the range) are ood; of the other
runs, those whose run-id hash falls below 15/85 are validation (15 % of all runs), the rest
train. So that a build of three or more runs has members in every split, runs 0, 1 and 2
draw their angle uniformly within the train, validation and ood regions respectively.
"""

from __future__ import annotations

import numpy as np

from rnn_zoo import streams

FULL_TURN = 360.0
OOD_FROM = 306.0  # angles in [306, 360) are ood: 15 % of the range
VALIDATION_SHARE = 0.15 / 0.85  # of the in-distribution runs
SPLIT_KEY = 0  # the fixed hash that chooses validation runs: depends on the run id only
STREAM_ANGLE, STREAM_SPLIT = 21, 22
FIRST_SPLITS = ("train", "validation", "ood")  # of runs 0, 1, 2


def uniform(seed: int, *counters: int) -> float:
    """One counter-based number in [0, 1)."""
    return float(streams.uniform(seed, *counters))


def is_validation(run_id: int) -> bool:
    """Whether an in-distribution run is a validation run (a fixed hash of its id)."""
    return uniform(SPLIT_KEY, STREAM_SPLIT, run_id) < VALIDATION_SHARE


def split_of(angle: float, run_id: int) -> str:
    """The split of a run with this angle: ood by angle, else validation or train by run id."""
    if angle >= OOD_FROM:
        return "ood"
    return "validation" if is_validation(run_id) else "train"


def to_angle(low: float, high: float, u: float) -> float:
    """low + u (high - low) as a float32 value, kept below ``high``."""
    angle = float(np.float32(low + u * (high - low)))
    return angle if angle < high else float(np.nextafter(np.float32(high), np.float32(0)))


def draw_angle(seed: int, run_id: int) -> tuple[float, str]:
    """Run ``run_id``'s angle in degrees and its split."""
    u = uniform(seed, STREAM_ANGLE, run_id)
    if run_id >= len(FIRST_SPLITS):
        angle = to_angle(0.0, FULL_TURN, u)
        return angle, split_of(angle, run_id)
    split = FIRST_SPLITS[run_id]
    angle = to_angle(OOD_FROM, FULL_TURN, u) if split == "ood" else to_angle(0.0, OOD_FROM, u)
    return angle, split


def draw_tasks(count: int, seed: int) -> list[tuple[tuple[float, ...], str]]:
    """((angle,), split) for runs 0..count-1."""
    tasks = []
    for run_id in range(count):
        angle, split = draw_angle(seed, run_id)
        tasks.append(((angle,), split))
    return tasks
