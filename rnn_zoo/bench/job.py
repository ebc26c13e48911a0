"""One job of the benchmark: an encoder pre-trained by emulation with one seed, then evaluated.

A job depends only on the zoo, the config, the encoder and its seed -- every random draw
comes from generators seeded by the job's seed -- so it gives the same record whichever
process, part or order it runs in. What every job of a bench shares is one frozen
:class:`JobContext`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from functools import partial
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnn_zoo.bench import output as bench_out
from rnn_zoo.bench.cloning import Accept, ClonedMembers, Sampling, clone_record
from rnn_zoo.bench.config import BenchConfig, BenchData
from rnn_zoo.bench.downstream import embed, evaluate_property
from rnn_zoo.bench.output import Job
from rnn_zoo.bench.pretraining import Augment, EmulationResult, train_emulation
from rnn_zoo.bench.seeding import seeded_init
from rnn_zoo.bench.transfer import Target, transfer_job
from rnn_zoo.encoders.plugins import check_embeddings, first_line
from rnn_zoo.errors import ZooError
from rnn_zoo.events import Event, ignore
from rnn_zoo.member.spec import MemberSpec


@dataclass(frozen=True)
class JobContext:
    """What every job of one bench shares: the zoo's data, the config, a fresh encoder by name
    (``factories``), where jobs are kept (``out``, None: nowhere), the weight augmentation per
    encoder, the judge of clones' sequences, the event callback and the transfer targets."""

    data: BenchData
    config: BenchConfig
    factories: Mapping[str, Callable[[], nn.Module]]
    out: Path | None = None
    augment_for: Callable[[str, MemberSpec], Augment | None] | None = None
    accept: Accept | None = None
    event: Event = ignore
    targets: Mapping[str, Target] | None = None

    def encoder_factory(self, job: Job) -> Callable[[], nn.Module]:
        """The job's encoder, initialised repeatably from its seed."""
        return seeded(self.factories[job.encoder], job.seed)


def run_job(job: Job, context: JobContext) -> tuple[dict[str, Any], Tensor]:
    """Run one job, then its transfer to the context's targets; with an ``out``, keep its
    checkpoint, embeddings (the transferred ones too) and record there.

    A failure (most likely in an encoder's own code) is one line; finished jobs are kept.
    """
    out = context.out
    checkpoint = bench_out.checkpoint_dir(out, job) if out is not None else None
    try:
        record, embedded, result = run_seed(job, context, checkpoint)
        transferred: dict[str, Tensor] = {}
        if context.targets:
            build = partial(_target_encoder, job.encoder, job.seed)
            record["transfer"], transferred = transfer_job(
                result,
                build,
                context.targets,
                context.config,
                source=context.data.zoo.config_name,
                seed=job.seed,
            )
    except (ZooError, KeyboardInterrupt):
        raise
    except Exception as error:
        kept = "; the jobs finished before it are kept" if out is not None else ""
        raise ZooError(f"{job} failed ({first_line(error)}){kept}") from None
    if out is not None:
        bench_out.save_job(out, job, record, embedded, transferred)
    return record, embedded


def run_seed(
    job: Job, context: JobContext, checkpoint: Path | None = None
) -> tuple[dict[str, Any], Tensor, EmulationResult]:
    """One encoder, one seed: emulation pre-training, then every property, pre-trained and supervised.

    Without an augmentation from the context, the encoder's own ``augment(params, generator)``
    method (if it has one) transforms the weights of every pre-training batch. Returns the
    seed's record, the embeddings of every member and the emulation result.
    """
    started = time.perf_counter()
    data, config = context.data, context.config
    encoder = context.encoder_factory(job)().to(config.device)
    augment = context.augment_for(job.encoder, data.splits["train"].spec) if context.augment_for else None
    if augment is None and callable(getattr(encoder, "augment", None)):
        augment = encoder.augment
    result = train_emulation(
        encoder,
        data.splits["train"],
        data.splits["validation"],
        replace(config.emulation, seed=job.seed),
        augment=augment,
        checkpoint=checkpoint,
        encoder_config={"name": job.encoder, "seed": job.seed},
        event=lambda kind, payload: context.event(
            kind, {"encoder": job.encoder, "seed": job.seed, **payload}
        ),
    )
    seconds = time.perf_counter() - started  # wall time, validation included
    embeddings = embed(result.encoder, data.all_params).cpu()
    record = {
        "emulation": {
            "best_validation_loss": result.best_validation_loss,
            "best_step": result.best_step,
            "curve": result.curve,
            "seconds": seconds,
            "threads": torch.get_num_threads(),  # float sums, so the numbers, depend on it on a CPU
        },
        "downstream": _downstream(job, context, embeddings),
    }
    if config.clone_members:
        record["cloned"] = _clone(job, context, result.emulator, embeddings)
    return record, embeddings, result


def _downstream(job: Job, context: JobContext, embeddings: Tensor) -> dict[str, Any]:
    """Scores per property: an MLP on the frozen embeddings and, if asked, the supervised baseline."""
    data, config = context.data, context.config
    scores: dict[str, Any] = {}
    for prop in data.properties:
        context.event("downstream", {"encoder": job.encoder, "seed": job.seed, "property": prop})
        scores[prop] = {
            "pre-trained": evaluate_property(embeddings, data.rows, prop, config.downstream, seed=job.seed)
        }
        if config.supervised:
            scores[prop]["supervised"] = evaluate_property(
                data.all_params,
                data.rows,
                prop,
                config.downstream,
                encoder_factory=context.encoder_factory(job),
                seed=job.seed,
            )
    return scores


def _clone(job: Job, context: JobContext, emulator: Any, embeddings: Tensor) -> dict[str, Any] | None:
    """Cloned performance of the first ``clone_members`` validation members."""
    data, config = context.data, context.config
    validation = data.splits["validation"]
    count = min(config.clone_members, len(validation))
    rows = data.rows.rows["validation"][:count]  # the validation split's first rows, in order
    probes = replace(
        validation.probes,
        sequences=validation.probes.sequences[:count],
        log_probs=validation.probes.log_probs[:count],
    )
    bos = data.family.bos if data.family is not None else None  # no family: no BOS to generate from
    members = ClonedMembers(probes, validation.spec, data.rows.table.take(rows.numpy()))
    accept = context.accept if bos is not None else None
    return clone_record(
        emulator, embeddings[rows], members, accept, Sampling(bos or 0, config.clone_samples, job.seed)
    )


def _target_encoder(name: str, seed: int, target: Target) -> nn.Module:
    """Encoder ``name`` for ``target``'s members, initialised as the job's own encoder was."""
    return seeded(partial(target.build, name), seed)()


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
