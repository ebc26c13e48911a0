"""Transfer: an encoder pre-trained on one config of a zoo, applied frozen to another config.

After a job pre-trains an encoder on config A's members, the encoder is built again for
config B's member spec and A's trained state dict is loaded into it, strictly. Where every
tensor fits, B's members are embedded with it; A's emulator, conditioned on those
embeddings, is scored on B's validation members, and an MLP fitted on the embeddings of B's
fit rows predicts B's properties on B's validation and OOD rows, with the bench's own split
rules (:func:`rnn_zoo.bench.downstream.downstream_rows`). Where it does not fit, or B lacks a
split the evaluation needs, the pair is recorded as not applicable, with the reason.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from torch import Tensor, nn

from rnn_zoo.bench.data import bench_data
from rnn_zoo.bench.downstream import embed, evaluate_property
from rnn_zoo.bench.pretraining import EmulationResult, validation_loss
from rnn_zoo.errors import ZooError, first_line
from rnn_zoo.zoo.load import locate_zoo

if TYPE_CHECKING:
    from rnn_zoo.bench.config import BenchConfig, BenchData

# What the shapes of each built-in encoder's parameters depend on, so which pairs of configs it spans.
TRANSFERS_WHEN = (
    "Probing encoders depend only on the members' input and output sizes, so they transfer between "
    "any configs of one task; layer-wise statistics depend on the number of parameter tensors (cell "
    "kinds and layer count alike); DWS's equivariant layers depend on the gate count and the layer "
    "count but not the hidden size; the flat encoder and the parameter transformer need exactly the "
    "same shapes."
)


@dataclass(frozen=True)
class Target:
    """A config the bench's encoders are transferred to: its data (None: not applicable, see
    ``reason``) and ``build(encoder_name)``, a fresh encoder for its members."""

    name: str
    data: BenchData | None
    reason: str | None
    build: Callable[[str], nn.Module]


def target_names(zoo: Any, source: str, asked: Sequence[str]) -> tuple[str, ...]:
    """The configs ``asked`` names (``all``: every config of ``zoo`` but ``source``), checked."""
    opened = locate_zoo(zoo)
    others = [name for name in opened.configs if name != source]
    names = others if list(asked) == ["all"] else list(dict.fromkeys(asked))
    if not names:
        raise ZooError(f"zoo {opened.root} has no config besides {source} to transfer to")
    for name in names:
        if name == source:
            raise ZooError(f"--transfer-to names {source}, the config benched itself; name other configs")
        if name not in opened.configs:
            raise ZooError(
                f"zoo {opened.root} has no config {name!r} to transfer to; it has: {', '.join(opened.configs)}"
            )
    return tuple(names)


def load_targets(
    zoo: Any,
    names: Sequence[str],
    config: BenchConfig,
    properties: Sequence[str],
    make_builder: Callable[[Any], Callable[[str], nn.Module]],
) -> dict[str, Target]:
    """Each target config's data for ``properties``, or why it cannot be evaluated (a missing split).

    ``make_builder(spec)`` gives the function that builds an encoder by name for members of ``spec``.
    """
    opened, settings = locate_zoo(zoo), replace(config, properties=tuple(properties))
    targets = {}
    for name in names:
        spec = opened.config(name).schema.spec
        try:
            data, reason = bench_data(opened, settings, name), None
        except ZooError as error:
            data, reason = None, str(error).split("; ")[0]
        targets[name] = Target(name, data, reason, make_builder(spec))
    return targets


def transfer_job(
    result: EmulationResult,
    make_encoder: Callable[[Target], nn.Module],
    targets: Mapping[str, Target],
    config: BenchConfig,
    *,
    source: str,
    seed: int,
) -> tuple[dict[str, Any], dict[str, Tensor]]:
    """One job's transfer record per target config, and the embeddings (n, e) where it applied.

    ``make_encoder(target)`` builds the job's encoder, freshly initialised, for the target's members.
    """
    records: dict[str, Any] = {}
    embedded: dict[str, Tensor] = {}
    for name, target in targets.items():
        reason = target.reason or _unfit(result, target, source)
        encoder = None
        if reason is None:
            try:
                encoder = make_encoder(target)
            except Exception as error:  # an encoder that cannot take B's members at all
                reason = f"the encoder cannot be built for {name}'s members ({first_line(error)})"
        reason = reason or state_mismatch(result.encoder, encoder, source, name)
        if reason is not None:
            records[name] = {"applicable": False, "reason": reason}
            continue
        encoder.load_state_dict(result.encoder.state_dict(), strict=True)
        records[name], embeddings = _evaluate(encoder, result, target, config, seed)
        if embeddings is not None:
            embedded[name] = embeddings
    result.emulator.eval()
    return records, embedded


def _evaluate(
    encoder: nn.Module, result: EmulationResult, target: Target, config: BenchConfig, seed: int
) -> tuple[dict[str, Any], Tensor | None]:
    """Emulation loss and downstream scores on the target's members, with the transferred encoder,
    and its embeddings (n, e) of them; not applicable where the encoder fails on them."""
    data = target.data
    encoder = encoder.to(config.device)
    try:
        embeddings = embed(encoder, data.all_params).cpu()
    except Exception as error:  # its tensors fit, but its code does not take these members
        reason = f"the encoder fails on {target.name}'s members ({first_line(error)})"
        return {"applicable": False, "reason": reason}, None
    loss = validation_loss(encoder, result.emulator, data.splits["validation"], config.emulation)
    downstream = {
        prop: {"pre-trained": evaluate_property(embeddings, data.rows, prop, config.downstream, seed=seed)}
        for prop in data.properties
    }
    return {"applicable": True, "emulation_loss": loss, "downstream": downstream}, embeddings


def _unfit(result: EmulationResult, target: Target, source: str) -> str | None:
    """Why the emulator cannot read or write the target's members' sequences, if it cannot."""
    emulator, spec = result.emulator.config, target.data.splits["validation"].spec
    ours, theirs = (emulator.input_size, emulator.output_size), (spec.input_size, spec.output_size)
    if ours == theirs:
        return None
    return (
        f"the emulator of {source} reads {ours[0]} inputs and writes {ours[1]} outputs per step, "
        f"the members of {target.name} {theirs[0]} and {theirs[1]}"
    )


def state_mismatch(trained: nn.Module, fresh: nn.Module, source: str, target: str) -> str | None:
    """The first tensor where the two encoders' state dicts differ in name or shape, in words."""
    ours, theirs = trained.state_dict(), fresh.state_dict()
    unmatched = sorted(set(ours) ^ set(theirs))
    if unmatched:
        shown = ", ".join(unmatched[:3]) + (" ..." if len(unmatched) > 3 else "")
        return f"its tensors differ between {source} and {target} ({shown})"
    for key, tensor in ours.items():
        if tensor.shape != theirs[key].shape:
            return (
                f"its {key} is {tuple(tensor.shape)} for {source}'s members, "
                f"{tuple(theirs[key].shape)} for {target}'s"
            )
    return None
