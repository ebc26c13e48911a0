"""Emulation-based self-supervised learning: an encoder and an emulator trained jointly.

The encoder maps a batch of members' weights to embeddings (n, e); the emulator, conditioned
on a member's embedding, must reproduce that member's stored log-probabilities on its stored
probe sequences. The encoder is what is kept: its embeddings are used downstream.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from rnn_zoo.bench.config import EmulationConfig
from rnn_zoo.bench.emulator import Emulator, EmulatorConfig
from rnn_zoo.bench.losses import get_loss
from rnn_zoo.bench.probes import Probes, load_probes
from rnn_zoo.bench.seeding import seeded_init
from rnn_zoo.errors import ZooError
from rnn_zoo.events import Event, ignore
from rnn_zoo.files import atomic_path, write_json
from rnn_zoo.member.spec import MemberSpec, map_params
from rnn_zoo.zoo.load import load_weights

Params = dict[str, Tensor]
Augment = Callable[[Params, torch.Generator], Params]
# The seed of the validation subset: one fixed subset for every encoder and seed, so that
# their validation losses (and best checkpoints) are measured on the same sequences.
VALIDATION_SEED = 1234


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
    params, inputs, targets = data.batch(members, sequences)
    embedding = encoder(params)  # (n, e)
    embedding = embedding.repeat_interleave(sequences.shape[1], dim=0)  # (n * b, e)
    return get_loss(loss)(emulator(embedding, inputs), targets)


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
    """Mean loss over the validation members, each on its sequences of :func:`validation_subset`."""
    encoder.eval()
    emulator.eval()
    device = data.probes.log_probs.device
    subset = validation_subset(data, config).to(device)
    total = 0.0
    for start in range(0, len(subset), config.batch_members):
        chosen = subset[start : start + config.batch_members]  # (n, k)
        members = torch.arange(start, start + len(chosen), device=device)
        total += emulation_loss(encoder, emulator, data, members, chosen, config.loss).item() * len(members)
    encoder.train()
    emulator.train()
    return total / len(subset)


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
) -> EmulationResult:
    """Train ``encoder`` with a fresh emulator; keep (and optionally save) the best validation state.

    ``augment`` transforms each batch of weights (e.g. random hidden-unit permutations);
    Events (see rnn_zoo.events): ``emulation`` {step, loss} every step and {step,
    validation_loss} after every validation. Both modules hold the best state when this returns.
    """
    config = config or EmulationConfig()
    if len(train) == 0 or len(validation) == 0:
        raise ZooError("emulation needs members in both the train and the validation split")
    generator = torch.Generator().manual_seed(config.seed)
    emulator = build_emulator(encoder, train, config).to(train.probes.log_probs.device)
    modules = nn.ModuleDict({"encoder": encoder, "emulator": emulator}).train()
    optimizer = torch.optim.AdamW(modules.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    curve: list[dict[str, float]] = []
    best = (float("inf"), 0, copy.deepcopy(modules.state_dict()))
    window: list[float] = []
    for step in range(1, config.steps + 1):
        loss = _train_step(modules, optimizer, train, config, generator, augment)
        window.append(loss)
        event("emulation", {"step": step, "loss": loss})
        if step % config.validate_every and step != config.steps:
            continue
        value = validation_loss(encoder, emulator, validation, config)
        curve.append({"step": step, "train_loss": sum(window) / len(window), "validation_loss": value})
        window = []
        event("emulation", {"step": step, "validation_loss": value})
        if value < best[0]:
            best = (value, step, copy.deepcopy(modules.state_dict()))
            if checkpoint is not None:
                save_checkpoint(checkpoint, encoder, emulator, config, encoder_config, step=step, loss=value)
    modules.load_state_dict(best[2])
    return EmulationResult(curve, best[0], best[1], encoder.eval(), emulator.eval(), config)


def _train_step(
    modules: nn.ModuleDict,
    optimizer: torch.optim.Optimizer,
    data: EmulationData,
    config: EmulationConfig,
    generator: torch.Generator,
    augment: Augment | None,
) -> float:
    device = data.probes.log_probs.device
    members = torch.randint(len(data), (config.batch_members,), generator=generator)
    sequences = torch.randint(
        data.probes.log_probs.shape[1], (config.batch_members, config.batch_sequences), generator=generator
    )
    if augment is not None:
        data = _augmented(data, members, augment, generator)
        members = torch.arange(config.batch_members)
    loss = emulation_loss(
        modules["encoder"], modules["emulator"], data, members.to(device), sequences.to(device), config.loss
    )
    optimizer.zero_grad(set_to_none=True)
    loss.backward()
    clip_gradients(modules, config.clip)
    optimizer.step()
    return loss.item()


def clip_gradients(modules: nn.ModuleDict, clip: float) -> None:
    """Clip each module's gradient (encoder, emulator) to norm ``clip`` on its own, as the
    authors' code does: a large emulator gradient does not shrink the encoder's."""
    for module in modules.values():
        nn.utils.clip_grad_norm_(module.parameters(), clip)


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


def save_checkpoint(
    directory: str | Path,
    encoder: nn.Module,
    emulator: Emulator,
    config: EmulationConfig,
    encoder_config: Mapping[str, Any] | None = None,
    *,
    step: int,
    loss: float,
) -> None:
    """Write encoder.safetensors, emulator.safetensors and config.json (each atomically)."""
    from safetensors.torch import save_model

    directory = Path(directory)
    for name, module in (("encoder", encoder), ("emulator", emulator)):
        with atomic_path(directory / f"{name}.safetensors") as temporary:
            save_model(module, str(temporary))
    meta = {
        "emulation": asdict(config),
        "emulator": emulator.config.to_dict(),
        "encoder": dict(encoder_config or {}),
        "step": step,
        "validation_loss": loss,
    }
    write_json(directory / "config.json", meta)


def load_checkpoint(directory: str | Path, encoder: nn.Module) -> tuple[Emulator, dict[str, Any]]:
    """Load a checkpoint's weights into ``encoder`` (built by the caller from config['encoder']).

    Returns the rebuilt emulator and the checkpoint's config.json contents.
    """
    from safetensors.torch import load_model

    directory = Path(directory)
    if not (directory / "config.json").is_file():
        raise ZooError(f"{directory} is not an emulation checkpoint: config.json is missing")
    meta = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    emulator = Emulator(EmulatorConfig(**meta["emulator"]))
    load_model(emulator, str(directory / "emulator.safetensors"))
    load_model(encoder, str(directory / "encoder.safetensors"))
    return emulator.eval(), meta
