"""One job of the benchmark: an encoder pre-trained by emulation with one seed, then evaluated.

A job depends only on the zoo, the config, the encoder and its seed -- every random draw
comes from generators seeded by the job's seed -- so it gives the same record whichever
process, part or order it runs in.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import Tensor, nn

from rnn_zoo.bench.cloning import Accept, clone_record
from rnn_zoo.bench.downstream import embed, evaluate_property
from rnn_zoo.bench.pretraining import Augment, train_emulation
from rnn_zoo.bench.seeding import seeded_init
from rnn_zoo.encoders.plugins import check_embeddings
from rnn_zoo.events import Event

if TYPE_CHECKING:
    from rnn_zoo.bench.config import BenchConfig, BenchData


def run_seed(
    name: str,
    seed: int,
    data: BenchData,
    config: BenchConfig,
    make_encoder: Callable[[], nn.Module],
    *,
    augment: Augment | None = None,
    accept: Accept | None = None,
    checkpoint: Path | None = None,
    event: Event | None = None,
) -> tuple[dict[str, Any], Tensor, Any]:
    """One encoder, one seed: emulation pre-training, then every property, pre-trained and supervised.

    Without ``augment``, the encoder's own ``augment(params, generator)`` method (if it has one)
    transforms the weights of every pre-training batch. Returns the seed's record, the
    embeddings of every member and the emulation result.
    """
    started = time.perf_counter()
    encoder = make_encoder().to(config.device)
    if augment is None and callable(getattr(encoder, "augment", None)):
        augment = encoder.augment

    def on_event(kind: str, payload: Mapping[str, Any]) -> None:
        if event:
            event(kind, {"encoder": name, "seed": seed, **payload})

    emulation = replace(config.emulation, seed=seed)
    result = train_emulation(
        encoder,
        data.splits["train"],
        data.splits["validation"],
        emulation,
        augment=augment,
        checkpoint=checkpoint,
        encoder_config={"name": name, "seed": seed},
        event=on_event,
    )
    seconds = time.perf_counter() - started  # wall time, validation included
    embeddings = embed(result.encoder, data.all_params).cpu()
    record = {
        "emulation": {
            "best_validation_loss": result.best_validation_loss,
            "best_step": result.best_step,
            "curve": result.curve,
            "seconds": seconds,
        },
        "downstream": _downstream(name, seed, data, config, embeddings, make_encoder, event),
    }
    if config.clone_members:
        record["cloned"] = _clone(result.emulator, embeddings, data, config, accept, seed)
    return record, embeddings, result


def _downstream(
    name: str,
    seed: int,
    data: BenchData,
    config: BenchConfig,
    embeddings: Tensor,
    make_encoder: Callable[[], nn.Module],
    event: Event | None,
) -> dict[str, Any]:
    """Scores per property: an MLP on the frozen embeddings and, if asked, the supervised baseline."""
    params = data.all_params
    scores: dict[str, Any] = {}
    for prop in data.properties:
        if event:
            event("downstream", {"encoder": name, "seed": seed, "property": prop})
        scores[prop] = {
            "pre-trained": evaluate_property(embeddings, data.rows, prop, config.downstream, seed=seed)
        }
        if config.supervised:
            scores[prop]["supervised"] = evaluate_property(
                params, data.rows, prop, config.downstream, encoder_factory=make_encoder, seed=seed
            )
    return scores


def _clone(
    emulator: Any, embeddings: Tensor, data: BenchData, config: BenchConfig, accept: Accept | None, seed: int
) -> dict[str, Any] | None:
    """Cloned performance of the first ``clone_members`` validation members."""
    validation = data.splits["validation"]
    count = min(config.clone_members, len(validation))
    rows = data.rows.rows["validation"][:count]  # the validation split's first rows, in order
    probes = replace(
        validation.probes,
        sequences=validation.probes.sequences[:count],
        log_probs=validation.probes.log_probs[:count],
    )
    metadata = data.rows.table.take(rows.numpy())
    return clone_record(
        emulator,
        embeddings[rows],
        probes,
        validation.spec,
        metadata,
        accept=accept,
        bos=config.bos,
        samples=config.clone_samples,
        seed=seed,
    )


def seeded(factory: Callable[[], nn.Module], seed: int) -> Callable[[], nn.Module]:
    """``factory`` whose module initialisation is repeatable: it runs under its own seeded RNG."""

    def make() -> nn.Module:
        with seeded_init(seed):
            return factory()

    return make


def check_encoder(
    name: str, make_encoder: Callable[[], nn.Module], data: BenchData, members: int = 2
) -> None:
    """Build the encoder and embed a few train members: a bad encoder fails here, before any job."""
    encoder = make_encoder().to(data.splits["train"].probes.log_probs.device).eval()
    params = {key: tensor[:members] for key, tensor in data.splits["train"].params.items()}
    with torch.no_grad():
        check_embeddings(name, encoder, params)
