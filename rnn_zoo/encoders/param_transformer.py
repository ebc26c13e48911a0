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
from einops import rearrange
from torch import Tensor, nn
from torch.nn import functional

from rnn_zoo.encoders import dropout as cpu_dropout
from rnn_zoo.encoders.encoder import AugmentedConfig, AugmentedEncoder
from rnn_zoo.member.spec import MemberSpec, Params

CPU_CHUNK_BYTES = 16 * 2**20  # the largest activation of the members run together on a CPU


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
        self.transformer = SummaryTransformer(layer, config.layers)
        final_norm = nn.LayerNorm(d) if config.prenorm else nn.Identity()
        self.to_embedding = nn.Sequential(final_norm, nn.Linear(d, config.embedding_size))

    def encode(self, params: Params) -> Tensor:
        rows = [
            embed(torch.cat([params[weight], params[bias].unsqueeze(-1)], dim=-1))  # (n, rows, d)
            for embed, (weight, bias) in zip(self.embed_rows, self.matrices.items(), strict=True)
        ]
        summary = self.summary.expand(rows[0].shape[0], 1, -1)
        tokens = torch.cat([*rows, summary], dim=1) + self.positions  # (n, tokens, d)
        return self.to_embedding(self.transformer(tokens)[:, -1])  # (n, 1, d) or every token


class SummaryTransformer(nn.TransformerEncoder):
    """torch's encoder layers (same modules and state keys), run for the last token's output.

    Each layer is ``layer``'s computation with scaled-dot-product attention (fused kernels,
    attention dropout inside them), without the mask checks of ``nn.TransformerEncoder``. The
    last layer computes only the last (summary) token's query, attention and feed-forward: no
    other token's output is read. Returns (n, 1, d).

    On a CPU, dropout and attention with dropout are rnn_zoo.encoders.dropout's, and the layers
    run a few members at a time when their widest activation (the feed-forward's, or the last
    layer's keys and values) would pass CPU_CHUNK_BYTES: large ones are mapped fresh from the
    system at every step (a page fault each 4 KiB, ~2 ns an entry: a quarter of a step at the
    authors' sizes), smaller ones reuse freed memory.
    """

    def __init__(self, layer: nn.TransformerEncoderLayer, layers: int) -> None:
        super().__init__(layer, layers, enable_nested_tensor=False)

    def forward(self, tokens: Tensor) -> Tensor:  # type: ignore[override]
        if tokens.device.type != "cpu":
            return self._forward(tokens)
        n, t, d = tokens.shape
        widest = t * (self.layers[0].linear1.out_features if len(self.layers) > 1 else 2 * d)  # per member
        chunks = -(-n * widest * tokens.element_size() // CPU_CHUNK_BYTES)
        if chunks == 1:
            return self._forward(tokens)
        return torch.cat([self._forward(part) for part in tokens.tensor_split(chunks)])

    def _forward(self, tokens: Tensor) -> Tensor:
        for index, layer in enumerate(self.layers):
            tokens = encoder_layer(layer, tokens, last_only=index == len(self.layers) - 1)
        return tokens


def encoder_layer(layer: nn.TransformerEncoderLayer, x: Tensor, *, last_only: bool = False) -> Tensor:
    """``layer(x)`` for x (n, t, d) in training or eval mode; with ``last_only`` its last token only."""
    norm_first = layer.norm_first
    attended = _attention(layer, layer.norm1(x) if norm_first else x, last_only)
    x = x[:, -1:] if last_only else x
    attended = _dropout(layer.dropout1, attended)
    if norm_first:
        x = x + attended
        return x + _feedforward(layer, layer.norm2(x))
    x = layer.norm1(x + attended)
    return layer.norm2(x + _feedforward(layer, x))


def _attention(layer: nn.TransformerEncoderLayer, x: Tensor, last_only: bool) -> Tensor:
    """Multi-head self-attention of ``layer`` with its in/out projections: (n, t, d) -> (n, t|1, d)."""
    attention = layer.self_attn
    d = x.shape[-1]
    weight, bias = attention.in_proj_weight, attention.in_proj_bias
    if last_only:
        query = functional.linear(x[:, -1:], weight[:d], bias[:d])
        key, value = functional.linear(x, weight[d:], bias[d:]).chunk(2, dim=-1)
    else:
        query, key, value = functional.linear(x, weight, bias).chunk(3, dim=-1)
    heads = attention.num_heads
    query, key, value = (rearrange(part, "n t (h e) -> n h t e", h=heads) for part in (query, key, value))
    attended = cpu_dropout.attention(query, key, value, attention.dropout if layer.training else 0.0)
    return attention.out_proj(rearrange(attended, "n h t e -> n t (h e)"))


def _feedforward(layer: nn.TransformerEncoderLayer, x: Tensor) -> Tensor:
    hidden = _dropout(layer.dropout, layer.activation(layer.linear1(x)))
    return _dropout(layer.dropout2, layer.linear2(hidden))


def _dropout(module: nn.Dropout, x: Tensor) -> Tensor:
    """``module(x)``, its mask drawn by rnn_zoo.encoders.dropout on a CPU."""
    return cpu_dropout.dropout(x, module.p, module.training)
