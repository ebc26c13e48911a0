"""One vanilla (tanh) RNN layer over a whole sequence for n members, with hand-written backprop through time.

The same design as :class:`rnn_zoo.member.recurrence.LSTMLayer` (read its module first):
feature-major sequences (n, ., t, b) and one matmul per step of ``[w_hh, w_ih, bias]`` with
``[h_{s-1}; x_s; 1]``. torch's ``nn.RNN`` computes ``h' = tanh(W_ih x + b_ih + W_hh h + b_hh)``.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from rnn_zoo.member.recurrence import (
    Backprop,
    StepMatmul,
    sequence_inputs,
    stack_weights,
    tanh_,
    unstack_weights,
)


class RNNLayer(torch.autograd.Function):
    """(x, w_ih, w_hh, bias, h0) -> hiddens (n, h, t, b).

    x (n, i, t, b), w_ih (n, h, i), w_hh (n, h, h), bias (n, h) (torch's two biases summed),
    h0 (n, h, b). The final hidden state is ``hiddens[:, :, -1]``.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, w_ih: Tensor, w_hh: Tensor, bias: Tensor, h0: Tensor) -> Any:
        n, _, t, b = x.shape
        h = w_hh.shape[2]
        inputs = sequence_inputs(x, h0)
        local = x.new_empty(t, n, h, b)
        weights = stack_weights(w_ih, w_hh, bias)
        matmul = StepMatmul.of(weights, b)
        keep = any(ctx.needs_input_grad)
        for s in range(t):
            hidden = tanh_(matmul(inputs[:, :, s], out=local[s]))  # (n, h, b)
            inputs[:, :h, s + 1].copy_(hidden)
            if keep:
                hidden.square_().neg_().add_(1.0)  # tanh' = 1 - h^2, what backprop multiplies by
        ctx.buffers = (local, inputs, weights)  # backward only reads them
        return inputs[:, :h, 1:]  # the hidden states, a view: the loop wrote them there

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, d_hiddens: Tensor) -> tuple[Tensor | None, ...]:
        local, inputs, weights = ctx.buffers
        need = ctx.needs_input_grad
        back = Backprop.create(inputs, weights, d_hiddens, need_x=need[0], need_weights=any(need[1:4]))
        d_hidden = d_hiddens[:, :, -1]
        for s in range(local.shape[0] - 1, -1, -1):
            d_hidden = back.through(s, d_hidden * local[s])  # through tanh, then the matmul
        return back.d_x, *back.weight_gradients(unstack_weights, 3), d_hidden
