"""The formal-language task space, and what the bench reads from a member's task.

A task is a vector [0, m_b, m_c, m_d] with each m in ``OFFSETS`` = {-3, ..., 2} (216 tasks),
split by entropy into train, validation and ood (:func:`task_splits`) and drawn for a build's
runs from its seed (:func:`draw_tasks`). The bench predicts the three differences as classes
(the ``task`` property) and the member's ``performance``; the paper's emulation losses on
this zoo are the report's reference numbers.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rnn_zoo.tasks import metadata_features as features
from rnn_zoo.tasks import streams
from rnn_zoo.tasks.properties import TRAINING_STEP, Property, accuracy_metrics, scalar_property
from rnn_zoo.zoo.schema import SPLITS

OFFSETS = tuple(range(-3, 3))
OOD_FRACTION, VALIDATION_FRACTION = 0.15, 0.15
SPLIT_SEED = 0  # the fixed shuffle of in-distribution tasks into train and validation
STREAM_TASKS = 3


def all_tasks() -> Tensor:
    """The 216 task vectors [0, m_b, m_c, m_d], (216, 4) int64, in lexicographic order."""
    return torch.tensor([(0, *m) for m in itertools.product(OFFSETS, repeat=3)], dtype=torch.int64)


def task_entropy(tasks: Tensor) -> Tensor:
    """Entropy of p = t' / sum(t') with t' = 1 + t - min(t), per task; (k, 4) -> (k,) float64."""
    shifted = 1 + tasks - tasks.min(dim=-1, keepdim=True).values
    p = shifted.sort(dim=-1).values.double()  # sorted: equal multisets give equal bits
    p = p / p.sum(dim=-1, keepdim=True)
    return -(p * p.log()).sum(dim=-1)


def task_splits() -> dict[tuple[int, ...], str]:
    """The split of each of the 216 tasks, by the paper's rule (151 train, 32 validation, 33 ood).

    Tasks are sorted by entropy (ties by the task vector); the highest-entropy 15 % are ood,
    the rest are shuffled with a fixed seed into train (70 % of all) and validation.
    """
    tasks = all_tasks()
    entropy = task_entropy(tasks).tolist()
    ranked = sorted(range(len(tasks)), key=lambda k: (round(entropy[k], 12), tasks[k].tolist()))
    in_distribution = int((1 - OOD_FRACTION) * len(tasks))
    train_count = int((1 - OOD_FRACTION - VALIDATION_FRACTION) * len(tasks))
    shuffle = torch.randperm(in_distribution, generator=torch.Generator().manual_seed(SPLIT_SEED))
    shuffled = [ranked[k] for k in shuffle.tolist()]
    splits = {k: "train" for k in shuffled[:train_count]}
    splits.update({k: "validation" for k in shuffled[train_count:]})
    splits.update({k: "ood" for k in ranked[in_distribution:]})
    return {tuple(tasks[k].tolist()): split for k, split in splits.items()}


def draw_tasks(count: int, seed: int) -> list[tuple[tuple[int, ...], str]]:
    """Tasks and splits for ``count`` runs: the 216 tasks without replacement, block after block.

    The first block starts with one task of each split, so a build of three or more runs
    has members in every split. Run r's task does not depend on ``count``.
    """
    splits = task_splits()
    tasks = list(splits)
    generator = torch.Generator().manual_seed(streams.seed_of(seed, STREAM_TASKS))
    order: list[int] = []
    while len(order) < count:
        block = torch.randperm(len(tasks), generator=generator).tolist()
        if not order:
            firsts = [next(k for k in block if splits[tasks[k]] == split) for split in SPLITS]
            block = firsts + [k for k in block if k not in firsts]
        order += block
    return [(tasks[k], splits[tasks[k]]) for k in order[:count]]


def task_metrics(predicted: Tensor, target: Tensor) -> dict[str, float]:
    """Exact-task accuracy (all three occurrence differences right) and per-difference accuracy."""
    scores = accuracy_metrics(predicted, target)
    return {"exact_match": scores["accuracy"], "difference_accuracy": scores["head_accuracy"]}


def task_difference_targets(values: np.ndarray) -> Tensor:
    """[0, m_b, m_c, m_d] with m in ``OFFSETS`` -> class ids (n, 3), the offset's index in 0..5."""
    return torch.from_numpy(np.asarray(values[:, 1:], dtype=np.int64) - OFFSETS[0])


TASK = Property(
    "task",
    "task",
    (4,),
    "formal-language task: the three occurrence differences",
    task_difference_targets,
    task_metrics,
    "exact_match",
    True,
    classification=True,
)
PROPERTIES = (
    TASK,
    scalar_property("performance", "performance", "fraction of sampled strings in the language"),
    TRAINING_STEP,
)

# Paper, Table 2: validation emulation loss (total variation) per encoder, formal languages.
PAPER_EMULATION_LOSS = {
    "layer-stats": 0.051,
    "flat": 0.045,
    "param-transformer": 0.043,
    "dws": 0.046,
    "probing-noninteractive": 0.023,
    "probing": 0.015,
}


def oracle_features(columns: Mapping[str, Any]) -> Tensor | None:
    """What the metadata says about each member (the bench's oracle): its task's occurrence
    differences, its snapshot and its weight decay, (n, f); None without task and step columns."""
    if not features.has_columns(columns, ("task", "step")) or np.ndim(columns["task"]) != 2:
        return None
    differences = task_difference_targets(columns["task"]).clamp(0, len(OFFSETS) - 1)  # (n, 3)
    task = torch.nn.functional.one_hot(differences, len(OFFSETS)).flatten(1).float()  # (n, 18)
    snapshot = features.snapshot_features(columns["step"])
    return torch.cat([task, snapshot, *features.hyperparameter_features(columns)], dim=1)
