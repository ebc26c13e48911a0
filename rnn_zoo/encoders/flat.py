"""Flattened weights: every parameter in canonical order as one vector, then an MLP.

Not invariant, so in training mode every member's hidden units are shuffled at random first
(the augmentation of :mod:`rnn_zoo.member.symmetry`). The default is the authors' encoder: three
ReLU layers of 128 (about 1.8M parameters at the paper's formal-language member, 2.0M at its
MNIST member, nearly all in the first layer). rnn-zoo's earlier design, a narrow first layer
widening to 384 and 256 with GELU, is ``widths=(72, 384, 256), activation="gelu"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from rnn_zoo.encoders.encoder import AugmentedConfig, AugmentedEncoder, activation_option, mlp
from rnn_zoo.member.spec import MemberSpec, Params


@dataclass(frozen=True)
class FlatConfig(AugmentedConfig):
    """MLP widths between the flat weight vector and the embedding, and its activation."""

    widths: tuple[int, ...] = (128, 128, 128)
    activation: str = activation_option("relu")


class FlatEncoder(AugmentedEncoder):
    """All weights as one vector -> MLP, trained on randomly permuted hidden units."""

    name = "flat"
    config_class = FlatConfig
    invariant = False
    description = "flattened weights -> MLP, permutation augmentation"

    def __init__(self, spec: MemberSpec, config: FlatConfig) -> None:
        super().__init__(spec, config)
        self.to_embedding = mlp(
            (spec.num_parameters, *config.widths, config.embedding_size), config.activation
        )

    def encode(self, params: Params) -> Tensor:
        flat = torch.cat([params[name].flatten(1) for name in self.spec.parameter_names], dim=-1)
        return self.to_embedding(flat)
