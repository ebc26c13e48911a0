"""One GRU layer over a whole sequence for n members, with hand-written backprop through time.

The same design as :class:`rnn_zoo.member.recurrence.LSTMLayer` (read its module first):
feature-major sequences (n, ., t, b), one matmul per step of fused weights with
``[h_{s-1}; x_s; 1]``, and the local derivatives kept while a step's values are in cache.

torch's GRU (gates r, z, n) is

    r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)
    z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)
    n = tanh(W_in x + b_in + r (W_hn h + b_hn))
    h' = (1 - z) n + z h

so the candidate's input and hidden terms must stay apart. The fused weights therefore have
four blocks of h rows, (r, z, hn, in): r and z with [w_hh, w_ih, b_ih + b_hh] as in the
LSTM, hn = [w_hn, 0, b_hn] and in = [0, w_in, b_in]. The two zero blocks cost a third more
multiplies in the step's matmul, and buy one matmul per step (forward and backward) and
weight gradients from one matmul per step, as for the LSTM.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from rnn_zoo.member.recurrence import Backprop, StepMatmul, sequence_inputs, tanh_

BLOCKS = 4  # rows of the fused weights, in blocks of h: r, z, hn, in


class GRULayer(torch.autograd.Function):
    """(x, w_ih, w_hh, b_ih, b_hh, h0) -> hiddens (n, h, t, b).

    x (n, i, t, b), w_ih (n, g, i), w_hh (n, g, h), b_ih and b_hh (n, g), gates in torch's
    order r, z, n; h0 (n, h, b). The final hidden state is ``hiddens[:, :, -1]``.
    """

    @staticmethod
    def forward(
        ctx: Any, x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor, h0: Tensor
    ) -> Any:
        n, _, t, b = x.shape
        h = w_hh.shape[2]
        inputs = sequence_inputs(x, h0)
        gates = x.new_empty(t, n, BLOCKS * h, b)
        weights = fused_weights(w_ih, w_hh, b_ih, b_hh)
        update = x.new_empty(t, n, h, b) if any(ctx.needs_input_grad) else None
        _run(inputs, StepMatmul.of(weights, b), gates, update)
        ctx.buffers = (gates, update, inputs, weights)  # backward only reads them
        return inputs[:, :h, 1:]  # the hidden states, a view: the loop wrote them there

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, d_hiddens: Tensor) -> tuple[Tensor | None, ...]:
        local, update, inputs, weights = ctx.buffers
        need = ctx.needs_input_grad
        back = Backprop.create(inputs, weights, d_hiddens, need_x=need[0], need_weights=any(need[1:5]))
        d_h0 = _run_back(local, update, back)
        return back.d_x, *back.weight_gradients(split_weights, 4), d_h0


def _run(inputs: Tensor, weights: StepMatmul, gates: Tensor, update: Tensor | None) -> None:
    """The forward loop: fills gates (t, n, 4 h, b) and writes the hidden states into ``inputs``.

    ``inputs`` (n, k, t + 1, b) as made by :func:`sequence_inputs`; weights: those (n, 4 h, k).
    With ``update`` (t, n, h, b), it keeps z there and what backprop multiplies by in
    gates, each step becoming (r, (h - n) z', hn r', (1 - z) n'): d n_pre = d h' (1 - z) n'
    is the gradient of the ``in`` rows, d hn = d n_pre r, d r_pre = d n_pre hn r', and
    d z_pre = d h' (h - n) z'.
    """
    t, h = gates.shape[0], weights.weights.shape[1] // BLOCKS
    for s in range(t):
        gate = weights(inputs[:, :, s], out=gates[s])  # (n, 4 h, b)
        gate[:, : 2 * h].sigmoid_()
        r, z, hn, candidate = gate.split(h, dim=1)  # each (n, h, b); candidate: in, then n
        tanh_(candidate.addcmul_(r, hn))
        previous = inputs[:, :h, s]
        step_back = torch.sub(previous, candidate)  # h - n
        torch.addcmul(candidate, z, step_back, out=inputs[:, :h, s + 1])  # h' = n + z (h - n)
        if update is not None:
            update[s].copy_(z)
            one_minus_z = torch.rsub(z, 1.0)
            torch.addcmul(
                one_minus_z, one_minus_z, candidate.square(), value=-1.0, out=candidate
            )  # (1 - z) n'
            z.mul_(one_minus_z).mul_(step_back)  # (h - n) z'
            hn_r = torch.mul(hn, r)
            torch.addcmul(hn_r, hn_r, r, value=-1.0, out=hn)  # hn r'


def _run_back(local: Tensor, update: Tensor, back: Backprop) -> Tensor:
    """The backward loop, from the last step to the first; returns the gradient of h0 (n, h, b).

    ``local`` (t, n, 4 h, b) and ``update`` (t, n, h, b) are what the forward kept (see :func:`_run`).
    """
    t, n, g, b = local.shape
    h = g // BLOCKS
    d_gate = local.new_empty(n, g, b)  # one step's gate gradients; the matmuls consume them at once
    blocks, factors = d_gate.view(n, BLOCKS, h, b), local.view(t, n, BLOCKS, h, b)
    d_hidden = back.d_hiddens[:, :, -1]
    for s in range(t - 1, -1, -1):
        torch.mul(factors[s, :, 3], d_hidden, out=blocks[:, 3])  # d n_pre, the in rows
        torch.mul(factors[s, :, 0], blocks[:, 3], out=blocks[:, 2])  # d hn = d n_pre r
        torch.mul(factors[s, :, 2], blocks[:, 3], out=blocks[:, 0])  # d r_pre
        torch.mul(factors[s, :, 1], d_hidden, out=blocks[:, 1])  # d z_pre
        direct = d_hidden * update[s]  # h' = ... + z h
        d_hidden = back.through(s, d_gate).add_(direct)
    return d_hidden


def fused_weights(w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor) -> Tensor:
    """The (n, 4 h, k) weights of blocks r, z, hn, in: see the module docstring."""
    n, g, i = w_ih.shape
    h = g // 3
    weights = w_ih.new_zeros(n, BLOCKS * h, h + i + 1)
    weights[:, : 3 * h, :h] = w_hh  # r, z, hn
    weights[:, : 2 * h, h : h + i] = w_ih[:, : 2 * h]
    weights[:, 3 * h :, h : h + i] = w_ih[:, 2 * h :]
    weights[:, : 2 * h, -1] = b_ih[:, : 2 * h] + b_hh[:, : 2 * h]
    weights[:, 2 * h : 3 * h, -1] = b_hh[:, 2 * h :]
    weights[:, 3 * h :, -1] = b_ih[:, 2 * h :]
    return weights


def split_weights(d_weights: Tensor, h: int, i: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    """Gradients of the fused weights (n, 4 h, k) -> those of w_ih, w_hh, b_ih and b_hh."""
    rz, hn, candidate = d_weights[:, : 2 * h], d_weights[:, 2 * h : 3 * h], d_weights[:, 3 * h :]
    d_w_ih = torch.cat([rz[..., h : h + i], candidate[..., h : h + i]], dim=1)
    d_b_ih = torch.cat([rz[..., -1], candidate[..., -1]], dim=1)
    return d_w_ih, d_weights[:, : 3 * h, :h], d_b_ih, torch.cat([rz[..., -1], hn[..., -1]], dim=1)
