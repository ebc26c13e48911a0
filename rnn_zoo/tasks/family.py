"""What a task family is to the trainer and the builder, and the loss helper the families share."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import torch
from torch import Tensor

from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.zoo.schema import ZooSchema


@dataclass(frozen=True)
class Run:
    """One training run: its id, member seed, split, task and weight decay."""

    run_id: int
    seed: int
    split: str
    task: tuple[float, ...]
    weight_decay: float


class TaskFamily(Protocol):
    """What a task family gives the trainer and the builder (see tasks/formal_languages.py)."""

    name: str
    title: str  # the task in the zoo's name, e.g. "Formal-language"
    description: str
    spec: MemberSpec
    summary_metric: str

    def schema(self) -> ZooSchema:
        """Every column of the family's zoo (metadata and probes; parameters come from spec)."""
        ...

    def draw_tasks(self, count: int, seed: int) -> list[tuple[tuple[float, ...], str]]:
        """(task, split) for runs 0..count-1; every split gets a run when count >= 3."""
        ...

    def task_tensor(self, runs: Sequence[Run], device: torch.device) -> Tensor:
        """The runs' tasks as one (n, ...) tensor for :meth:`batch`."""
        ...

    def batch(
        self, tasks: Tensor, seeds: Tensor, step: int | Tensor, batch_size: int
    ) -> tuple[Tensor, Tensor]:
        """Training inputs (n, b, t, i) and targets for every member at ``step``.

        ``step`` is an int or a 0-dim int64 tensor on the device (the trainer's counter);
        the batch must be made without reading anything back to the host.
        """
        ...

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        """(n,) mean loss of each member on its batch."""
        ...

    def member_bytes(self, batch_size: int) -> int:
        """Working memory one member needs while training plus while a snapshot evaluates it
        (a sum: on a GPU the captured step's memory stays reserved during snapshots)."""
        ...

    def snapshot_columns(
        self, params: Mapping[str, Tensor], runs: Sequence[Run], step: int, train_loss: Tensor
    ) -> dict[str, np.ndarray]:
        """Metadata and probe columns (one row per member) for a snapshot after ``step``."""
        ...


def target_log_probs(logits: Tensor, targets: Tensor) -> Tensor:
    """log softmax(logits)[target] at every position: logits (..., o), targets (...) -> (...).

    Picks before normalising: over o = 6 or 10 classes, torch's log_softmax of the whole
    output (and its backward) costs more than the members' output layer itself.
    """
    shift = logits.detach().amax(dim=-1, keepdim=True)  # for exp's range only: cancels out
    picked = logits.gather(-1, targets.unsqueeze(-1))
    return (picked - shift - (logits - shift).exp().sum(dim=-1, keepdim=True).log()).squeeze(-1)


def training_bytes(spec: MemberSpec, batch_size: int, positions: int) -> int:
    """Working memory of one member in a training step, from measurement (rnn_zoo.build.memory):
    per position of its batch, (2 gates + 3) x hidden x layers floats kept for backward, plus
    4 per input and output and 16 (the loss's)."""
    per_position = (2 * spec.gates + 3) * spec.hidden_size * spec.num_layers
    return 4 * batch_size * positions * (per_position + 4 * (spec.input_size + spec.output_size) + 16)
