"""Probe data: the stored input sequences of every member and its outputs on them.

Two kinds of zoo store probes, as the zoo's task family declares (``TaskFamily.input_kind``;
a zoo of no known family is told apart by the ``sequences`` column):

- token zoos (formal languages): ``sequences`` (s, l) integer token ids, BOS first, and
  ``log_probs`` (s, l - 1, o). ``log_probs[:, k]`` is the member's distribution over the
  symbol at position k + 1 given the prefix up to position k, so the member's inputs are
  ``sequences[:, :-1]`` as one-hot vectors and the outputs line up with them step by step.
- real-valued zoos (sequential MNIST): ``sequences`` (s, t, i) float inputs and ``log_probs``
  (s, t, o), the member's output after every input step: the inputs are all t steps.

Either way :func:`load_probes` returns ``inputs`` (n, s, t, i) float and ``log_probs``
(n, s, t, o) float, aligned so that ``log_probs[:, :, k]`` is the output after ``inputs[:, :, k]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rnn_zoo.errors import ZooError
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.tasks.registry import family_of
from rnn_zoo.zoo.load import column_to_numpy, locate_zoo, read_columns
from rnn_zoo.zoo.manifest import Zoo
from rnn_zoo.zoo.schema import Column

PROBE_COLUMNS = ("sequences", "log_probs")
REBUILD_HINT = "rebuild it with `rnn-zoo build --task ...`, which stores sequences and log_probs"


@dataclass(frozen=True)
class Probes:
    """One split's probe data: ``sequences`` as stored, model inputs and member log-probabilities.

    ``sequences`` is (n, s, l) int64 for token zoos and (n, s, t, i) float32 for real-valued ones;
    ``inputs`` is (n, s, t, i) float32; ``log_probs`` is (n, s, t, o) float32.
    """

    sequences: Tensor
    log_probs: Tensor
    kind: str

    @property
    def tokens(self) -> bool:
        return self.kind == "tokens"

    def inputs(self, spec: MemberSpec, members: Tensor | slice = slice(None)) -> Tensor:
        """Member inputs (n, s, t, i) for the selected members, aligned with ``log_probs``."""
        return member_inputs(self.sequences[members], spec, tokens=self.tokens)


def member_inputs(sequences: Tensor, spec: MemberSpec, *, tokens: bool) -> Tensor:
    """Stored sequences -> member inputs: one-hot of all but the last token, or the real vectors."""
    if tokens:
        return torch.nn.functional.one_hot(sequences[..., :-1], spec.input_size).float()
    return sequences.float()


def load_probes(zoo: str | Path | Zoo, split: str) -> Probes:
    """Read one split's ``sequences`` and ``log_probs`` as tensors, without a loop over rows."""
    opened = locate_zoo(zoo)
    schema = opened.schema
    columns = require_probes(opened)
    table = read_columns(opened, split, PROBE_COLUMNS)
    sequences, log_probs = (
        torch.from_numpy(np.require(column_to_numpy(table.column(name), columns[name]), requirements="W"))
        for name in PROBE_COLUMNS
    )
    kind = _probe_kind(sequences, log_probs, schema.spec, opened.root)
    family = family_of(opened.manifest)
    if family is not None and family.input_kind != kind:
        raise ZooError(
            f"zoo {opened.root} stores {kind} probes, but its task {family.name} reads {family.input_kind}; "
            f"{REBUILD_HINT}"
        )
    sequences = sequences.long() if kind == "tokens" else sequences.float()
    return Probes(sequences, log_probs.float(), kind)


def require_probes(zoo: Zoo) -> dict[str, Column]:
    """The zoo's probe columns by name; ZooError when it has none."""
    columns = {column.name: column for column in zoo.schema.probes}
    if any(name not in columns for name in PROBE_COLUMNS):
        raise ZooError(f"zoo {zoo.root} has no probe data (sequences/log_probs); {REBUILD_HINT}")
    return columns


def _probe_kind(sequences: Tensor, log_probs: Tensor, spec: MemberSpec, root: Path) -> str:
    """'tokens' or 'real', from the dtype and shapes of the stored columns, checked against the spec."""
    integer = not torch.is_floating_point(sequences)
    steps = log_probs.shape[2]
    if integer and sequences.dim() == 3 and sequences.shape[2] == steps + 1:
        kind = "tokens"
    elif not integer and sequences.dim() == 4 and sequences.shape[2] == steps:
        kind = "real"
        if sequences.shape[3] != spec.input_size:
            kind = "mismatch"
    else:
        kind = "mismatch"
    if kind == "mismatch" or log_probs.shape[3] != spec.output_size:
        raise ZooError(
            f"zoo {root} has probe columns of shapes sequences {tuple(sequences.shape[1:])} and "
            f"log_probs {tuple(log_probs.shape[1:])} that do not fit its member spec {spec}; {REBUILD_HINT}"
        )
    return kind
