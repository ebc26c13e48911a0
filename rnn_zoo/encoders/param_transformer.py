"""Parameter transformer: one token per neuron row of every matrix, a transformer, a summary token.

Row r of a weight matrix together with its bias entry is one token; each matrix has its own
learned linear embedding, and each token position a learned position embedding. A learned
summary token is appended after the rows; a linear map of the transformer's output there is
the embedding. Not invariant, so it trains on randomly permuted hidden units.

The default is the authors' encoder: torch's default encoder layer (post-LN, ReLU, dropout
0.1), d = 128, 6 layers, 2 heads, feed-forward 4d, a zero-initialised summary token, position
embeddings drawn from N(0, 1). ``prenorm=True`` is rnn-zoo's earlier design: pre-LN layers and
a LayerNorm before the output map, which keeps deep transformers stable without warm-up (it
was used with ``dropout=0``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnn_zoo.encoders.encoder import AugmentedConfig, AugmentedEncoder
from rnn_zoo.member.spec import MemberSpec, Params


@dataclass(frozen=True)
class ParamTransformerConfig(AugmentedConfig):
    """Transformer width d, depth, heads, feed-forward width (a multiple of d), dropout, LN placement."""

    width: int = 128
    layers: int = 6
    heads: int = 2
    feedforward: int = 4
    dropout: float = 0.1
    prenorm: bool = False


def row_matrices(spec: MemberSpec) -> dict[str, str]:
    """Each weight matrix and the bias whose entries join its rows' tokens."""
    return {name: name.replace("weight", "bias") for name in spec.parameter_names if "weight" in name}


class ParamTransformerEncoder(AugmentedEncoder):
    """Tokens = matrix rows with their bias; per-matrix embedding; transformer; summary token last."""

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
        tokens = sum(shapes[name][0] for name in self.matrices) + 1  # the rows, then the summary
        self.positions = nn.Parameter(torch.randn(tokens, d))
        self.summary = nn.Parameter(torch.zeros(d))
        layer = nn.TransformerEncoderLayer(
            d,
            config.heads,
            config.feedforward * d,
            config.dropout,
            batch_first=True,
            norm_first=config.prenorm,
        )
        self.transformer = nn.TransformerEncoder(layer, config.layers, enable_nested_tensor=False)
        final_norm = nn.LayerNorm(d) if config.prenorm else nn.Identity()
        self.to_embedding = nn.Sequential(final_norm, nn.Linear(d, config.embedding_size))

    def encode(self, params: Params) -> Tensor:
        rows = [
            embed(torch.cat([params[weight], params[bias].unsqueeze(-1)], dim=-1))  # (n, rows, d)
            for embed, (weight, bias) in zip(self.embed_rows, self.matrices.items(), strict=True)
        ]
        summary = self.summary.expand(rows[0].shape[0], 1, -1)
        tokens = torch.cat([*rows, summary], dim=1) + self.positions  # (n, tokens, d)
        return self.to_embedding(self.transformer(tokens)[:, -1])
