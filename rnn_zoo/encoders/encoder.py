"""What every weight encoder shares: its config base, the input check, and the MLP it ends in.

An encoder maps a batched parameter dict (canonical names, leading member dimension n) to
embeddings (n, e).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any, ClassVar

import torch
from torch import Tensor, nn

from rnn_zoo.errors import ZooError
from rnn_zoo.member import symmetry
from rnn_zoo.member.spec import MemberSpec, Params, check_params

# The activations an encoder's MLP may use, by the name its ``activation`` option takes.
ACTIVATIONS: dict[str, type[nn.Module]] = {"relu": nn.ReLU, "gelu": nn.GELU}


@dataclass(frozen=True)
class EncoderConfig:
    """Options every encoder has; each encoder family extends this with its own defaults."""

    embedding_size: int = 16

    def __post_init__(self) -> None:
        for option in fields(self):
            value, least = getattr(self, option.name), option.metadata.get("min", 1)
            if option.type in ("int", int) and (not isinstance(value, int) or value < least):
                raise ValueError(f"option {option.name} must be an integer >= {least}, got {value!r}")
            if option.type == "tuple[int, ...]" and not all(isinstance(v, int) and v >= 1 for v in value):
                raise ValueError(f"option {option.name} must be positive integers, got {value!r}")
            if option.type == "float" and not (isinstance(value, int | float) and 0 <= value < 1):
                raise ValueError(f"option {option.name} must be a number in [0, 1), got {value!r}")
            if option.type == "bool" and not isinstance(value, bool):
                raise ValueError(f"option {option.name} must be true or false, got {value!r}")
            choices = option.metadata.get("choices")
            if choices is not None and value not in choices:
                raise ValueError(f"option {option.name} must be one of {', '.join(choices)}, got {value!r}")


@dataclass(frozen=True)
class AugmentedConfig(EncoderConfig):
    """Options of an encoder trained with hidden-unit permutation augmentation."""

    seed: int = field(default=0, metadata={"min": 0})  # seeds the augmentation's generator


def activation_option(default: str = "relu") -> Any:
    """A config field naming the activation of an encoder's MLP (one of :data:`ACTIVATIONS`)."""
    return field(default=default, metadata={"choices": tuple(ACTIVATIONS)})


class Encoder(nn.Module):
    """Base class: checks the parameter dict, then calls :meth:`encode`."""

    name: ClassVar[str] = ""
    config_class: ClassVar[type[EncoderConfig]] = EncoderConfig
    invariant: ClassVar[bool] = False  # the same embedding for every hidden-unit permutation
    description: ClassVar[str] = ""

    def __init__(self, spec: MemberSpec, config: EncoderConfig) -> None:
        super().__init__()
        self.spec = spec
        self.config = config

    def forward(self, params: Params) -> Tensor:
        """Parameter dict, each (n, ...) -> embeddings (n, e)."""
        try:
            check_params(params, self.spec)
        except ValueError as error:
            raise ZooError(f"{self.name} encoder for {self.spec}: {error}") from None
        return self.encode(self.prepare(params))

    def prepare(self, params: Params) -> Params:
        """Hook run on checked parameters before :meth:`encode`; unchanged by default."""
        return params

    def encode(self, params: Params) -> Tensor:
        """Checked parameter dict -> embeddings (n, e)."""
        raise NotImplementedError


class AugmentedEncoder(Encoder):
    """An encoder that is not invariant by construction, so it trains on shuffled hidden units."""

    def __init__(self, spec: MemberSpec, config: AugmentedConfig) -> None:
        super().__init__(spec, config)
        self.generator = torch.Generator().manual_seed(config.seed)

    def prepare(self, params: Params) -> Params:
        """In training mode, shuffle each member's hidden units (a symmetry, so the target stays)."""
        return symmetry.augment(params, self.spec, self.generator) if self.training else params


def mlp(widths: Sequence[int], activation: str = "gelu") -> nn.Sequential:
    """Linear layers of the given widths (input first), ``activation`` between, none after the last."""
    layers: list[nn.Module] = []
    for index, (fan_in, fan_out) in enumerate(zip(widths[:-1], widths[1:], strict=True)):
        if index:
            layers.append(ACTIVATIONS[activation]())
        layers.append(nn.Linear(fan_in, fan_out))
    return nn.Sequential(*layers)
