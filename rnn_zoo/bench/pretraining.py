"""Emulation-based self-supervised learning: an encoder and an emulator trained jointly.

The encoder maps a batch of members' weights to embeddings (n, e); the emulator, conditioned
on a member's embedding, must reproduce that member's stored log-probabilities on its stored
probe sequences. The encoder is what is kept: its embeddings are used downstream.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnn_zoo.bench.checkpoint import load_checkpoint, save_checkpoint  # noqa: F401 (re-exported)
from rnn_zoo.bench.config import EmulationConfig
from rnn_zoo.bench.emulation_step import BatchLoss, CompiledLoss, StepParts, batch_loss
from rnn_zoo.bench.emulator import Emulator, EmulatorConfig
from rnn_zoo.bench.optimization import BestState, clip_gradients, make_optimizer
from rnn_zoo.bench.probes import Probes, load_probes
from rnn_zoo.bench.seeding import seeded_init
from rnn_zoo.errors import ZooError
from rnn_zoo.events import Event, ignore
from rnn_zoo.member.spec import MemberSpec, map_params
from rnn_zoo.zoo.load import load_weights

Params = dict[str, Tensor]
Augment = Callable[[Params, torch.Generator], Params]
# The seed of the validation subset: one fixed subset for every encoder and seed, so that
# their validation losses (and best checkpoints) are measured on the same sequences.
VALIDATION_SEED = 1234
# Validation scores chunks of about this many sequences (at most VALIDATION_MEMBERS members).
VALIDATION_SEQUENCES = 4_096
VALIDATION_MEMBERS = 256
# Step losses are read back from the device at every validation and at least this often.
LOSS_READBACK = 50


@dataclass(frozen=True)
class EmulationData:
    """One split ready for emulation: stacked weights (n, ...), their spec and the probes."""

    params: Params
    spec: MemberSpec
    probes: Probes

    def __len__(self) -> int:
        return self.probes.log_probs.shape[0]

    def to(self, device: str | torch.device) -> EmulationData:
        params = map_params(lambda tensor: tensor.to(device), self.params)
        probes = replace(
            self.probes,
            sequences=self.probes.sequences.to(device),
            log_probs=self.probes.log_probs.to(device),
        )
        return EmulationData(params, self.spec, probes)

    def batch(self, members: Tensor, sequences: Tensor) -> tuple[Params, Tensor, Tensor]:
        """Weights (n, ...), inputs (n * b, t, i) and targets (n * b, t, o) of b sequences per member."""
        params = map_params(lambda tensor: tensor[members], self.params)
        chosen = (members.unsqueeze(1), sequences)  # (n, 1) with (n, b)
        inputs = self.probes.inputs(self.spec, chosen).flatten(0, 1)
        return params, inputs, self.probes.log_probs[chosen].flatten(0, 1)


def emulation_data(zoo: Any, split: str) -> EmulationData:
    """Weights and probe data of one split of a zoo (a path or an opened zoo)."""
    weights = load_weights(zoo, split)
    return EmulationData(dict(weights.params), weights.spec, load_probes(zoo, split))


@dataclass
class EmulationResult:
    """The training curve, the best validation loss and its step; modules hold the best state."""

    curve: list[dict[str, float]]
    best_validation_loss: float
    best_step: int
    encoder: nn.Module
    emulator: Emulator
    config: EmulationConfig


def build_emulator(encoder: nn.Module, data: EmulationData, config: EmulationConfig) -> Emulator:
    """An emulator sized for the member spec and the encoder's embedding width."""
    with torch.no_grad():
        probe = map_params(lambda tensor: tensor[:1], data.params)
        width = encoder.eval()(probe).shape[-1]
    spec = data.spec
    sizes = EmulatorConfig(
        spec.input_size, spec.output_size, width, config.emulator_hidden, config.emulator_layers
    )
    with seeded_init(config.seed):
        return Emulator(sizes)


def emulation_loss(
    encoder: nn.Module, emulator: Emulator, data: EmulationData, members: Tensor, sequences: Tensor, loss: str
) -> Tensor:
    """Loss of emulating ``members`` (n,) on their probe ``sequences`` (n, b)."""
    return batch_loss(encoder, emulator, loss, *data.batch(members, sequences))


def validation_subset(data: EmulationData, config: EmulationConfig) -> Tensor:
    """Which stored sequences validate each of the first ``validation_members`` members: (n, k) int64.

    k = ``validation_sequences`` (at most all stored ones) drawn at random without replacement
    per member, from a fixed seed: the same subset at every validation, for every encoder and
    seed, and a member's draw does not depend on how many members are validated.
    """
    count = min(len(data), config.validation_members or len(data))
    stored = data.probes.log_probs.shape[1]
    generator = torch.Generator().manual_seed(VALIDATION_SEED)
    keys = torch.rand(count, stored, generator=generator)
    return keys.argsort(dim=1)[:, : min(config.validation_sequences, stored)]


@torch.no_grad()
def validation_loss(
    encoder: nn.Module, emulator: Emulator, data: EmulationData, config: EmulationConfig
) -> float:
    """Mean loss over the validation members, each on its sequences of :func:`validation_subset`.

    Members are scored in chunks of about VALIDATION_SEQUENCES sequences (at least
    ``batch_members`` members); the chunks' losses are summed on the device and read back once.
    """
    encoder.eval()
    emulator.eval()
    device = data.probes.log_probs.device
    subset = validation_subset(data, config).to(device)
    chunk = min(VALIDATION_MEMBERS, max(config.batch_members, VALIDATION_SEQUENCES // subset.shape[1]))
    total = torch.zeros((), device=device)
    for start in range(0, len(subset), chunk):
        chosen = subset[start : start + chunk]  # (n, k)
        members = torch.arange(start, start + len(chosen), device=device)
        total += emulation_loss(encoder, emulator, data, members, chosen, config.loss) * len(members)
    encoder.train()
    emulator.train()
    return total.item() / len(subset)


def train_emulation(
    encoder: nn.Module,
    train: EmulationData,
    validation: EmulationData,
    config: EmulationConfig | None = None,
    *,
    augment: Augment | None = None,
    checkpoint: str | Path | None = None,
    encoder_config: Mapping[str, Any] | None = None,
    event: Event = ignore,
    compile_step: bool = False,
) -> EmulationResult:
    """Train ``encoder`` with a fresh emulator; keep (and optionally save) the best validation state.

    ``augment`` transforms each batch of weights (e.g. random hidden-unit permutations);
    Events (see rnn_zoo.events): ``emulation`` {step, loss} for every step (read back from the
    device in blocks of up to LOSS_READBACK steps, so steps do not wait on each other) and
    {step, validation_loss} after every validation. Both modules hold the best state when
    this returns. ``compile_step``: run each step's forward and backward through torch.compile
    (:class:`CompiledLoss`; the same losses to float tolerance, minutes of compilation first).
    """
    config = config or EmulationConfig()
    if len(train) == 0 or len(validation) == 0:
        raise ZooError("emulation needs members in both the train and the validation split")
    generator = torch.Generator().manual_seed(config.seed)
    emulator = build_emulator(encoder, train, config).to(train.probes.log_probs.device)
    modules = nn.ModuleDict({"encoder": encoder, "emulator": emulator}).train()
    loss = BatchLoss(encoder, emulator, config.loss)
    step_parts = StepParts(modules, make_optimizer(modules, config.lr, config.weight_decay), loss)
    if compile_step:
        step_parts = replace(step_parts, loss=CompiledLoss(loss))
    curve: list[dict[str, float]] = []
    best = BestState(modules)
    losses: list[Tensor] = []  # detached, not yet read back
    window: list[float] = []
    for step in range(1, config.steps + 1):
        losses.append(_train_step(step_parts, train, config, generator, augment))
        validating = step % config.validate_every == 0 or step == config.steps
        if validating or len(losses) == LOSS_READBACK:
            window += _read_back(losses, step, event)
            losses = []
        if not validating:
            continue
        value = validation_loss(encoder, emulator, validation, config)
        curve.append({"step": step, "train_loss": sum(window) / len(window), "validation_loss": value})
        window = []
        event("emulation", {"step": step, "validation_loss": value})
        if best.update(value, step) and checkpoint is not None:
            best_now = {"encoder": encoder_config, "step": step, "validation_loss": value}
            save_checkpoint(checkpoint, encoder, emulator, config, best_now)
    best.restore()
    return EmulationResult(curve, best.loss, best.step, encoder.eval(), emulator.eval(), config)


def _read_back(losses: list[Tensor], step: int, event: Event) -> list[float]:
    """The step losses ending at ``step`` as floats (one host sync), each sent as an event."""
    values = torch.stack(losses).tolist()
    for offset, loss in enumerate(values):
        event("emulation", {"step": step - len(values) + 1 + offset, "loss": loss})
    return values


def _train_step(
    parts: StepParts,
    data: EmulationData,
    config: EmulationConfig,
    generator: torch.Generator,
    augment: Augment | None,
) -> Tensor:
    device = data.probes.log_probs.device
    members = torch.randint(len(data), (config.batch_members,), generator=generator)
    sequences = torch.randint(
        data.probes.log_probs.shape[1], (config.batch_members, config.batch_sequences), generator=generator
    )
    if augment is not None:
        data = _augmented(data, members, augment, generator)
        members = torch.arange(config.batch_members)
    loss = parts.loss(*data.batch(members.to(device), sequences.to(device)))
    parts.optimizer.zero_grad(set_to_none=True)
    loss.backward()
    clip_gradients(parts.modules, config.clip)
    parts.optimizer.step()
    return loss.detach()


def _augmented(
    data: EmulationData, members: Tensor, augment: Augment, generator: torch.Generator
) -> EmulationData:
    """The batch's members as their own data set, with augmented weights (the probes do not change)."""
    device = data.probes.log_probs.device
    rows = members.to(device)
    params = augment(map_params(lambda tensor: tensor[rows], data.params), generator)
    probes = replace(
        data.probes,
        sequences=data.probes.sequences[members.to(device)],
        log_probs=data.probes.log_probs[members.to(device)],
    )
    return EmulationData(params, data.spec, probes)
