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
import torch

from rnn_zoo.tasks import streams

FULL_TURN = 360.0
OOD_FROM = 306.0  # angles in [306, 360) are ood: 15 % of the range
VALIDATION_SHARE = 0.15 / 0.85  # of the in-distribution runs
SPLIT_KEY = 0  # the fixed hash that chooses validation runs: depends on the run id only
STREAM_ANGLE, STREAM_SPLIT = 21, 22
FIRST_SPLITS = ("train", "validation", "ood")  # of runs 0, 1, 2


def to_angle(low: float, high: float, u: float) -> float:
    """low + u (high - low) as a float32 value, kept below ``high``."""
    angle = float(np.float32(low + u * (high - low)))
    return angle if angle < high else float(np.nextafter(np.float32(high), np.float32(0)))


def split_of(angle: float, share: float) -> str:
    """The split of a run: ood by angle, else validation when its run-id hash ``share`` is small."""
    if angle >= OOD_FROM:
        return "ood"
    return "validation" if share < VALIDATION_SHARE else "train"


def draw_angle(run_id: int, u: float, share: float) -> tuple[float, str]:
    """Run ``run_id``'s angle in degrees and split, from its uniform draw ``u`` and split hash."""
    if run_id >= len(FIRST_SPLITS):
        angle = to_angle(0.0, FULL_TURN, u)
        return angle, split_of(angle, share)
    split = FIRST_SPLITS[run_id]
    angle = to_angle(OOD_FROM, FULL_TURN, u) if split == "ood" else to_angle(0.0, OOD_FROM, u)
    return angle, split


def draw_tasks(count: int, seed: int) -> list[tuple[tuple[float, ...], str]]:
    """((angle,), split) for runs 0..count-1."""
    run_ids = torch.arange(count)
    draws = streams.uniform(seed, STREAM_ANGLE, run_ids).tolist()  # one per run, from (seed, run id)
    shares = streams.uniform(SPLIT_KEY, STREAM_SPLIT, run_ids).tolist()  # from the run id alone
    tasks = []
    for run_id, (u, share) in enumerate(zip(draws, shares, strict=True)):
        angle, split = draw_angle(run_id, u, share)
        tasks.append(((angle,), split))
    return tasks
