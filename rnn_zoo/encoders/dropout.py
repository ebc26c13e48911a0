"""Dropout on the CPU at the pace of the layers around it.

On a CPU torch draws a dropout mask one Bernoulli sample at a time (~7 ns an entry on a server
core, against ~0.25 ns for the multiply that applies it), and its scaled-dot-product attention
leaves the fused kernel for the unfused one whenever attention dropout is on, writing every
(n, h, t, t) score, probability and mask to memory. Training the parameter transformer at the
authors' sizes (519 tokens) spent over half of each step there. Here a mask takes four 16-bit
draws from each 64-bit word of torch's generator, and attention with dropout runs a few
(member, head) pairs at a time, so that their scores stay in cache.

Each entry is kept with probability 1 - p, p rounded to a multiple of 1/65536 (0.1 becomes
0.1000061), and kept entries are scaled by the inverse of that probability: the expectation is
the input's, as with ``torch.nn.functional.dropout``. On other devices torch's fused kernels
already do both, and these functions call them.
"""

from __future__ import annotations

import math

import torch
from einops import rearrange
from torch import Tensor
from torch.nn import functional

DRAWS = 65536  # values of one 16-bit draw
CHUNK_BYTES = 2 * 2**20  # scores of this many bytes are computed, used and freed together


def dropped_draws(p: float) -> int:
    """How many of the 65536 values of a draw drop an entry: p rounded to a multiple of 1/65536."""
    return round(p * DRAWS)


def kept_fraction(p: float) -> float:
    """The probability with which an entry is kept: 1 - p, p rounded to a multiple of 1/65536."""
    return 1 - dropped_draws(p) / DRAWS


def keep_mask(shape: tuple[int, ...], p: float, generator: torch.Generator | None = None) -> Tensor:
    """A bool tensor of ``shape``, each entry True with probability ``kept_fraction(p)``, alone."""
    entries = math.prod(shape)
    words = torch.empty((entries + 3) // 4, dtype=torch.int64, device="cpu")
    words = words.random_(-(2**63), None, generator=generator)
    dropped_below = dropped_draws(p) - DRAWS // 2  # int16 draws are uniform on [-32768, 32767]
    return words.view(torch.int16)[:entries].view(shape) >= dropped_below


def dropout(x: Tensor, p: float, training: bool) -> Tensor:
    """``functional.dropout(x, p, training)``, with its mask drawn by :func:`keep_mask` on a CPU."""
    if not training or p == 0 or x.device.type != "cpu":
        return functional.dropout(x, p, training)
    return torch.where(keep_mask(x.shape, p), x, 0.0).mul_(1 / kept_fraction(p))


def attention(query: Tensor, key: Tensor, value: Tensor, p: float) -> Tensor:
    """Softmax attention of (n, h, t, e) queries over (n, h, t', e) keys and values, with
    dropout ``p`` on the attention weights (0: none): ``scaled_dot_product_attention``'s value."""
    if p == 0 or query.device.type != "cpu":
        return functional.scaled_dot_product_attention(query, key, value, dropout_p=p)
    heads = query.shape[1]
    query, key, value = (rearrange(part, "n h t e -> (n h) t e").contiguous() for part in (query, key, value))
    attended = _ChunkedDropoutAttention.apply(query, key, value, p)
    return rearrange(attended, "(n h) t e -> n h t e", h=heads)


class _ChunkedDropoutAttention(torch.autograd.Function):
    """Attention with dropout over (b, t, e) queries, a few of the b pairs at a time.

    Saves each chunk's attention weights and keep mask; the dropout scale is applied to the
    (b, t, e) output and gradient instead of the (b, t, t') weights.
    """

    @staticmethod
    def forward(ctx, query: Tensor, key: Tensor, value: Tensor, p: float) -> Tensor:  # noqa: ANN001
        size = _chunk(query, key)
        parts = [slice(start, start + size) for start in range(0, query.shape[0], size)]
        attended = torch.empty_like(query)
        weights, masks = [], []
        for part in parts:
            scores = torch.baddbmm(  # (c, t, t') scaled inside the matmul
                query.new_empty(()),
                query[part],
                key[part].transpose(1, 2),
                beta=0,
                alpha=query.shape[-1] ** -0.5,
            )
            weight = scores.softmax(-1)
            mask = keep_mask(weight.shape, p)
            torch.bmm(weight * mask, value[part], out=attended[part])
            weights.append(weight)
            masks.append(mask)
        ctx.save_for_backward(query, key, value)
        ctx.parts, ctx.weights, ctx.masks = parts, weights, masks
        ctx.scale = 1 / kept_fraction(p)
        return attended.mul_(ctx.scale)

    @staticmethod
    def backward(ctx, d_attended: Tensor) -> tuple[Tensor, Tensor, Tensor, None]:  # noqa: ANN001
        query, key, value = ctx.saved_tensors
        d_query, d_key, d_value = (torch.empty_like(part) for part in (query, key, value))
        d_attended = d_attended * ctx.scale
        score_scale = query.shape[-1] ** -0.5
        for part, weight, mask in zip(ctx.parts, ctx.weights, ctx.masks, strict=True):
            torch.bmm((weight * mask).transpose(1, 2), d_attended[part], out=d_value[part])
            d_weight = torch.bmm(d_attended[part], value[part].transpose(1, 2)).mul_(mask)
            d_scores = torch._softmax_backward_data(d_weight, weight, -1, weight.dtype)
            torch.bmm(d_scores, key[part], out=d_query[part]).mul_(score_scale)
            torch.bmm(d_scores.transpose(1, 2), query[part], out=d_key[part]).mul_(score_scale)
        return d_query, d_key, d_value, None


def _chunk(query: Tensor, key: Tensor) -> int:
    """How many (member, head) pairs' scores fit in CHUNK_BYTES."""
    pair = query.shape[1] * key.shape[1] * query.element_size()
    return max(1, CHUNK_BYTES // pair)
