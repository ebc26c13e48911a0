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
    other token's output is read, and its attention forms no key or value
    (:func:`_last_token_attention`). Returns (n, 1, d).

    On a CPU, dropout and attention with dropout are rnn_zoo.encoders.dropout's, and the layers
    run a few members at a time when their widest activation (the feed-forward's of all layers
    but the last) would pass CPU_CHUNK_BYTES: large ones are mapped fresh from the
    system at every step (a page fault each 4 KiB, ~2 ns an entry: a quarter of a step at the
    authors' sizes), smaller ones reuse freed memory.
    """

    def __init__(self, layer: nn.TransformerEncoderLayer, layers: int) -> None:
        super().__init__(layer, layers, enable_nested_tensor=False)

    def forward(self, tokens: Tensor) -> Tensor:  # type: ignore[override]
        if tokens.device.type != "cpu":
            return self._forward(tokens)
        n, t, _ = tokens.shape
        # the widest activation per member: the feed-forward's of any layer but the last, which
        # forms no activation over all tokens
        widest = t * self.layers[0].linear1.out_features if len(self.layers) > 1 else 0
        chunks = -(-n * widest * tokens.element_size() // CPU_CHUNK_BYTES)
        if chunks <= 1:
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
    weight, bias, heads = attention.in_proj_weight, attention.in_proj_bias, attention.num_heads
    p = attention.dropout if layer.training else 0.0
    if last_only:
        return attention.out_proj(_last_token_attention(x, weight, bias, heads, p))
    query, key, value = functional.linear(x, weight, bias).chunk(3, dim=-1)
    query, key, value = (rearrange(part, "n t (h e) -> n h t e", h=heads) for part in (query, key, value))
    attended = cpu_dropout.attention(query, key, value, p)
    return attention.out_proj(rearrange(attended, "n h t e -> n t (h e)"))


def _last_token_attention(x: Tensor, weight: Tensor, bias: Tensor, heads: int, p: float) -> Tensor:
    """The last token's attention over every token of x (n, t, d), with dropout ``p`` on its
    attention weights -> (n, 1, d), without forming any key or value.

    Each head's query is read through that head's key map once (q W_k, a d-vector), which
    scores the tokens themselves; the weighted sum of the tokens goes through the value map once
    (P X W_v = P V). The key bias adds the same score to every token, which the softmax ignores;
    the value bias enters in proportion to the weight that dropout kept. For the last layer of
    the summary transformer that is a few matrix-vector products per member in place of the
    (n, t, 2d) key and value projection.
    """
    e = x.shape[-1] // heads
    to_query, to_key, to_value = (rearrange(w, "(h e) d -> h e d", h=heads) for w in weight.chunk(3))
    query_bias, _, value_bias = (rearrange(b, "(h e) -> h e", h=heads) for b in bias.chunk(3))
    query = torch.einsum("nd,hed->nhe", x[:, -1], to_query) + query_bias
    reading = torch.einsum("nhe,hed->nhd", query, to_key) * e**-0.5
    weights = cpu_dropout.dropout(torch.bmm(reading, x.transpose(1, 2)).softmax(-1), p, p > 0)  # (n, h, t)
    pooled = torch.bmm(weights, x)  # (n, h, d)
    attended = torch.einsum("nhd,hed->nhe", pooled, to_value) + weights.sum(-1, keepdim=True) * value_bias
    return rearrange(attended, "n h e -> n 1 (h e)")


def _feedforward(layer: nn.TransformerEncoderLayer, x: Tensor) -> Tensor:
    hidden = _dropout(layer.dropout, layer.activation(layer.linear1(x)))
    return _dropout(layer.dropout2, layer.linear2(hidden))


def _dropout(module: nn.Dropout, x: Tensor) -> Tensor:
    """``module(x)``, its mask drawn by rnn_zoo.encoders.dropout on a CPU."""
    return cpu_dropout.dropout(x, module.p, module.training)
