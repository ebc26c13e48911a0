"""Parameter transformer: one token per neuron row of every matrix, a transformer, a summary token.

Row r of a weight matrix together with its bias entry is one token; each matrix has its own
learned linear embedding, and each token position a learned position embedding. The
transformer's output at a prepended summary token gives the embedding. Not invariant, so it
trains on randomly permuted hidden units.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnn_zoo.encoders.encoder import AugmentedConfig, AugmentedEncoder
from rnn_zoo.member.lstm import MemberSpec, Params


@dataclass(frozen=True)
class ParamTransformerConfig(AugmentedConfig):
    """Transformer width d, depth, heads and feed-forward width (a multiple of d)."""

    width: int = 128
    layers: int = 6
    heads: int = 2
    feedforward: int = 4


def row_matrices(spec: MemberSpec) -> dict[str, str]:
    """Each weight matrix and the bias whose entries join its rows' tokens."""
    return {name: name.replace("weight", "bias") for name in spec.parameter_names if "weight" in name}


class ParamTransformerEncoder(AugmentedEncoder):
    """Tokens = matrix rows with their bias; per-matrix embedding; transformer; summary token."""

    name = "param-transformer"
    config_class = ParamTransformerConfig
    invariant = False
    description = "one token per neuron row, transformer, summary token, permutation augmentation"

    def __init__(self, spec: MemberSpec, config: ParamTransformerConfig) -> None:
        super().__init__(spec, config)
        d = config.width
        if d % config.heads:
            raise ValueError(f"option width ({d}) must be divisible by option heads ({config.heads})")
        shapes = spec.parameter_shapes()
        self.matrices = row_matrices(spec)
        self.embed_rows = nn.ModuleList(nn.Linear(shapes[name][1] + 1, d) for name in self.matrices)
        tokens = sum(shapes[name][0] for name in self.matrices)
        self.positions = nn.Parameter(0.02 * torch.randn(tokens, d))
        self.summary = nn.Parameter(0.02 * torch.randn(d))
        layer = nn.TransformerEncoderLayer(
            d, config.heads, config.feedforward * d, dropout=0.0, batch_first=True, norm_first=True
        )
        self.transformer = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        self.to_embedding = nn.Sequential(nn.LayerNorm(d), nn.Linear(d, config.embedding_size))

    def encode(self, params: Params) -> Tensor:
        rows = [
            embed(torch.cat([params[weight], params[bias].unsqueeze(-1)], dim=-1))  # (n, rows, d)
            for embed, (weight, bias) in zip(self.embed_rows, self.matrices.items(), strict=True)
        ]
        tokens = torch.cat(rows, dim=1) + self.positions  # (n, tokens, d)
        summary = self.summary.expand(tokens.shape[0], 1, -1)
        return self.to_embedding(self.transformer(torch.cat([summary, tokens], dim=1))[:, 0])
