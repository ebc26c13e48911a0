"""Weight encoders: a member's parameters (n, ...) -> embeddings (n, e), built by name.

    encoder = rnn_zoo.encoders.build("dws", weights.spec)
    embeddings = encoder(weights.params)  # (n, 16)

Names are the ones the command line uses; :data:`ENCODERS` maps each to its class, whose
``invariant`` and ``description`` say what it is.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from rnn_zoo.encoders.dws import DwsEncoder
from rnn_zoo.encoders.encoder import Encoder, EncoderConfig
from rnn_zoo.encoders.flat import FlatEncoder
from rnn_zoo.encoders.layer_stats import LayerStatsEncoder
from rnn_zoo.encoders.param_transformer import ParamTransformerEncoder
from rnn_zoo.encoders.probing import InteractiveProbingEncoder, NonInteractiveProbingEncoder
from rnn_zoo.errors import ZooError
from rnn_zoo.files import from_mapping
from rnn_zoo.member.spec import MemberSpec

ENCODERS: dict[str, type[Encoder]] = {
    cls.name: cls
    for cls in (
        LayerStatsEncoder,
        FlatEncoder,
        ParamTransformerEncoder,
        DwsEncoder,
        NonInteractiveProbingEncoder,
        InteractiveProbingEncoder,
    )
}

# The paper's formal-language member: the default sizes are the authors' at it (flat 1.8M,
# layer-wise statistics 11k, the others about 1.2-1.3M parameters).
PAPER_MEMBER = MemberSpec(6, 32, 2, 6)


def encoder_class(name: str) -> type[Encoder]:
    """The encoder class registered under ``name``."""
    if name not in ENCODERS:
        raise ZooError(f"unknown encoder {name!r}; choose one of {', '.join(ENCODERS)}")
    return ENCODERS[name]


def make_config(name: str, **config: Any) -> EncoderConfig:
    """``name``'s config with the given options over its defaults; unknown options are an error."""
    try:
        return from_mapping(encoder_class(name).config_class, config, f"encoder {name!r}")
    except ValueError as error:
        raise ZooError(f"encoder {name!r}: {error}") from None


def build(name: str, spec: MemberSpec, *, input_kind: str | None = None, **config: Any) -> Encoder:
    """A fresh encoder ``name`` for members of ``spec`` (as ``load_weights`` returns it).

    The signature of every encoder factory, by name: ``input_kind`` (``"tokens"`` or
    ``"real"``, the zoo's inputs) reaches the encoders whose config takes it (the probing
    ones) and is ignored by the others; ``config`` are the encoder's options.
    """
    if not isinstance(spec, MemberSpec):
        raise ZooError(f"encoder {name!r} needs a MemberSpec, got {type(spec).__name__}")
    takes_kind = any(option.name == "input_kind" for option in fields(encoder_class(name).config_class))
    if input_kind is not None and takes_kind:
        config = {"input_kind": input_kind, **config}
    resolved = make_config(name, **config)
    try:
        return encoder_class(name)(spec, resolved)
    except ValueError as error:
        raise ZooError(f"encoder {name!r} cannot take members {spec}: {error}") from None


@dataclass(frozen=True)
class EncoderSummary:
    """One line of the encoder table."""

    name: str
    parameters: int
    invariant: bool
    description: str


def summaries(spec: MemberSpec = PAPER_MEMBER) -> list[EncoderSummary]:
    """Every registered encoder with its default parameter count at ``spec``."""
    return [
        EncoderSummary(
            name,
            sum(p.numel() for p in build(name, spec).parameters()),
            cls.invariant,
            cls.description,
        )
        for name, cls in ENCODERS.items()
    ]


__all__ = ["ENCODERS", "PAPER_MEMBER", "Encoder", "EncoderConfig", "EncoderSummary", "build", "summaries"]
