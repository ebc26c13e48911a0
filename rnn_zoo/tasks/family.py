"""What a task family is: the one place a task plugs in; the data sources and helpers families share."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import torch
from torch import Tensor

from rnn_zoo.files import from_mapping
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.tasks.properties import Property
from rnn_zoo.zoo.schema import ZooSchema


@dataclass(frozen=True)
class Run:
    """One training run: its id, member seed, split, task and weight decay."""

    run_id: int
    seed: int
    split: str
    task: tuple[float, ...]
    weight_decay: float


@dataclass(frozen=True)
class DataSources:
    """Where families find data the recipe does not hold (the build's --mnist, --mnist-dir)."""

    mnist: str = "auto"
    mnist_dir: Path | None = None


def options_from(cls: type, options: Mapping[str, Any], task: str) -> Any:
    """Build a task family's frozen options dataclass from the recipe's task_options."""
    return from_mapping(cls, options, f"task {task!r} (task_options)")


class TaskFamily(Protocol):
    """A task family: everything a zoo's task decides, said in one class (see tasks/formal_languages.py).

    Class attributes and class methods say what holds for every zoo of the task (the bench and
    the report read them from the class the zoo's zoo.json names, see :mod:`rnn_zoo.tasks.registry`);
    an instance is the family for members of one ``spec``, as the trainer and the builder use it.
    Adding a task is one such class, registered, and its recipe (:meth:`recipe_text`).
    """

    name: ClassVar[str]  # the task's name: the recipe's ``task``, zoo.json's ``recipe.task``
    title: ClassVar[str]  # the task in the zoo's name, e.g. "Formal-language"
    summary_metric: ClassVar[str]  # the metadata column a build's summary leads with
    input_size: ClassVar[int]  # the member's inputs per step
    output_size: ClassVar[int]  # the member's outputs per step
    input_kind: ClassVar[str]  # "tokens": probes are token ids, BOS first; "real": input vectors
    bos: ClassVar[int | None]  # the token a generated sequence starts from (token families)
    properties: ClassVar[tuple[Property, ...]]  # what the bench predicts from a member's embedding
    reference_emulation_loss: ClassVar[Mapping[str, float]]  # encoder -> the paper's number, if any
    # (recipe version from which the stored probes are what the bench expects, what they are)
    probe_scheme: ClassVar[tuple[int, str] | None]
    # accepts(sequences (..., l) BOS first, tasks (...)) -> (...) bool: whether each sequence a
    # member generated is right for its task; None where members do not generate sequences
    accepts: ClassVar[Callable[[Tensor, Tensor], Tensor] | None]
    description: str
    spec: MemberSpec
    build_record: Mapping[str, Any]  # what zoo.json's ``build`` records about the data, e.g. its source

    @classmethod
    def recipe_text(cls) -> str:
        """The family's recipe file (TOML: defaults, ``[presets.NAME]``, ``[recipes.NAME]``)."""
        ...

    @classmethod
    def configure(cls, options: Mapping[str, Any], data: DataSources) -> Callable[[MemberSpec], TaskFamily]:
        """The family for members of a spec, from the recipe's ``task_options`` and the data sources.

        Called once per build: data the family needs (MNIST's images) is loaded here, so a build
        fails before it writes anything when it cannot be had.
        """
        ...

    @staticmethod
    def draw_tasks(count: int, seed: int) -> list[tuple[tuple[float, ...], str]]:
        """(task, split) for runs 0..count-1 from the build seed alone; every split gets a run when
        count >= 3, and run r's task does not depend on ``count``."""
        ...

    @staticmethod
    def oracle_features(columns: Mapping[str, Any]) -> Tensor | None:
        """Per-member features (n, f) of what the recipe decided about a member (its task, its
        snapshot's step, its run's settings), from the zoo's metadata columns (numpy arrays or
        tensors); None when a column it needs is missing."""
        ...

    def schema(self) -> ZooSchema:
        """Every column of the family's zoo (metadata and probes; parameters come from spec)."""
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


def packaged_recipe(family: type) -> str:
    """The recipe file of a built-in family, shipped with the package (the repository's builders/):
    ``recipe_text = classmethod(packaged_recipe)``."""
    return resources.files("rnn_zoo.recipes").joinpath(f"{family.name}.toml").read_text(encoding="utf-8")


def training_bytes(spec: MemberSpec, batch_size: int, positions: int) -> int:
    """Working memory of one member in a training step, from measurement (rnn_zoo.build.memory):
    per position of its batch, (2 gates + 3) x hidden x layers floats kept for backward, plus
    4 per input and output and 16 (the loss's)."""
    per_position = (2 * spec.gates + 3) * spec.hidden_size * spec.num_layers
    return 4 * batch_size * positions * (per_position + 4 * (spec.input_size + spec.output_size) + 16)
