"""Cloned performance: the emulator, conditioned on a member's embedding, standing in for the member.

Token zoos: the emulator generates sequences from BOS, as the member did for its own
performance, and a task-specific ``accept`` function judges them; the cloned performance is
the accepted fraction. Real-valued (classifier) zoos: the emulator classifies the member's
stored sequences, and its last-step prediction is compared with the member's.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rnn_zoo.bench.emulator import Emulator
from rnn_zoo.errors import ZooError

# samples (n, k, l) token ids, BOS first, and the n members' tasks (n, 1, ...), broadcast over
# the k samples -> (n, k) accepted
Accept = Callable[[Tensor, Any], Tensor]


@torch.no_grad()
def sample_sequences(
    emulator: Emulator, embedding: Tensor, *, bos: int, length: int, samples: int, generator: torch.Generator
) -> Tensor:
    """(n, k, l) token ids drawn from the emulator conditioned on each embedding (n, e), BOS first.

    Each drawn token is fed back as the next input, so the outputs must be the input symbols.
    """
    sizes = emulator.config
    if sizes.input_size != sizes.output_size:
        raise ZooError("sampling needs members whose outputs are their input symbols (a token zoo)")
    n = embedding.shape[0]
    token = torch.full((n * samples, 1), bos, dtype=torch.long, device=embedding.device)
    condition, state, drawn = embedding.repeat_interleave(samples, dim=0), None, [token]
    for _ in range(length - 1):
        inputs = torch.nn.functional.one_hot(token, sizes.input_size).float()  # (n k, 1, i)
        log_probs, state = emulator.run(inputs, state, embedding=condition)
        condition = None  # the embedding joins the first step only
        token = torch.multinomial(log_probs[:, -1].exp(), 1, generator=generator)
        drawn.append(token)
    return torch.cat(drawn, dim=1).reshape(n, samples, length)


@dataclass(frozen=True)
class Generation:
    """How clones generate: sequences of ``length`` tokens from ``bos``, ``samples`` per member,
    ``batch`` members at a time, drawn with ``generator``."""

    bos: int
    length: int
    generator: torch.Generator
    samples: int = 1_000
    batch: int = 16


def cloned_performance(
    emulator: Emulator, embeddings: Tensor, tasks: Any, accept: Accept, generation: Generation
) -> Tensor:
    """Per member (n,): the fraction of ``generation.samples`` generated sequences that ``accept`` accepts."""
    fractions, batch = [], generation.batch
    for start in range(0, embeddings.shape[0], batch):
        chosen = slice(start, start + batch)
        drawn = sample_sequences(
            emulator,
            embeddings[chosen],
            bos=generation.bos,
            length=generation.length,
            samples=generation.samples,
            generator=generation.generator,
        )
        member_tasks = torch.tensor(np.array(tasks[chosen]), device=drawn.device).unsqueeze(1)
        fractions.append(accept(drawn, member_tasks).float().mean(1).cpu())
    return torch.cat(fractions)


@torch.no_grad()
def cloned_agreement(emulator: Emulator, embeddings: Tensor, inputs: Tensor, log_probs: Tensor) -> Tensor:
    """Per member (n,): how often the emulator's last-step class equals the member's.

    ``inputs`` (n, s, t, i) and ``log_probs`` (n, s, t, o) are the members' stored probes.
    """
    n, s = inputs.shape[:2]
    emulated = emulator(embeddings.repeat_interleave(s, dim=0), inputs.flatten(0, 1))  # (n s, t, o)
    same = emulated[:, -1].argmax(-1) == log_probs.flatten(0, 1)[:, -1].argmax(-1)
    return same.reshape(n, s).float().mean(1).cpu()


@dataclass(frozen=True)
class ClonedMembers:
    """The k members whose clones are scored: their probes, spec and metadata rows."""

    probes: Any
    spec: Any
    metadata: Any


@dataclass(frozen=True)
class Sampling:
    """What token clones generate from (``bos``), how many sequences each, and the seed."""

    bos: int
    samples: int
    seed: int


def clone_record(
    emulator: Emulator,
    embeddings: Tensor,
    members: ClonedMembers,
    accept: Accept | None,
    sampling: Sampling,
) -> dict[str, Any] | None:
    """Cloned performance of k members (their embeddings (k, e), probes and metadata rows);
    token clones generate as ``sampling`` says.

    Token zoos with an ``accept`` function and a ``performance`` column: the accepted fraction
    per member, the member's own performance and their Pearson correlation. Real-valued zoos:
    the mean agreement of the emulator's last-step class with the member's on its probes.
    """
    from rnn_zoo.bench.properties import column_values
    from rnn_zoo.bench.statistics import pearson

    probes, spec, metadata = members.probes, members.spec, members.metadata
    device = probes.log_probs.device
    embeddings = embeddings.to(device)
    if not probes.tokens:
        agreement = cloned_agreement(emulator, embeddings, probes.inputs(spec), probes.log_probs)
        return {"metric": "last-step agreement with the member", "agreement": float(agreement.mean())}
    if accept is None or "performance" not in metadata.column_names:
        return None
    generator = torch.Generator(device=device).manual_seed(sampling.seed)
    drawing = Generation(sampling.bos, probes.sequences.shape[-1], generator, sampling.samples)
    cloned = cloned_performance(emulator, embeddings, column_values(metadata, "task"), accept, drawing)
    original = column_values(metadata, "performance").astype(float).tolist()
    return {
        "metric": "fraction of generated sequences accepted",
        "original": original,
        "cloned": cloned.tolist(),
        "pearson_r": _finite(pearson(original, cloned.tolist())),
    }


def _finite(value: float) -> float | None:
    """JSON has no NaN: an undefined correlation (a constant sample) is stored as null."""
    return None if math.isnan(value) else value
