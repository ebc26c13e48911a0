"""One LSTM layer over a whole sequence for n members, with hand-written backprop through time.

Autograd through a step-by-step loop records every small op of every step, and its
backward splits, concatenates and copies gate blocks per step. This layer instead

* does one matmul per step, of ``[h_{s-1}, x_s, 1]`` with ``[w_hh, w_ih, bias]``, writing
  the gates into one preallocated buffer;
* keeps, while a step's values are still in cache, exactly what backprop multiplies the
  incoming gradients by (the gates' local derivatives), so that the backward loop is a few
  multiplies per step and two matmuls: one for the gradients of all three weights, one
  for those of the step's inputs.

Its sequences are feature-major, (n, ., t, b): a layer's hidden states are the next layer's
inputs and the output layer's as they lie, and a member's (feature, t b) block is one
matrix for the output layer's matmuls, so no transposing copy (nine times the cost of a
plain copy) is made between layers, nor in backward. A step's slice (n, ., b) is a
matrix per member for the matmuls; the gates are time-major, (t, n, g, b), so that each
gate of a member is one contiguous (h, b) block and torch's elementwise ops run over long
contiguous rows rather than rows of h.

With one sequence per member (b = 1, as when an encoder probes members), every step's
products are matrix-vector products per member; ATen's batched matmul takes those many
times faster as a row vector times transposed weights than as written, so :class:`StepMatmul`
and :class:`Backprop` take that form for b = 1, and backward then gathers every step's gate
gradients and takes the weight gradients in one matmul at the end.

It is plain torch on every device: ATen's kernels and the BLAS (MKL, OpenBLAS, cuBLAS) pick
the instruction set at run time, so nothing here is tuned to one CPU. On a GPU, the trainer
replays a whole training step, loops included, as one CUDA graph (see rnn_zoo.build.trainer).

What every cell's layer shares lives here too: the steps' ``[h; x; 1]`` buffer
(:func:`sequence_inputs`), the per-step backprop through the matmul (:class:`Backprop`),
the stacked weights and tanh. The GRU and vanilla RNN layers are in ``recurrence_gru`` and
``recurrence_rnn``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable


class LSTMLayer(torch.autograd.Function):
    """(x, w_ih, w_hh, bias, h0, c0) -> (hiddens (n, h, t, b), final cell (n, h, b)).

    x (n, i, t, b), w_ih (n, g, i), w_hh (n, g, h), bias (n, g) (torch's two biases summed,
    gates in torch's order i, f, g, o), h0 and c0 (n, h, b). The final hidden state is
    ``hiddens[:, :, -1]``.

    Each step is one matmul of the weights ``[w_hh, w_ih, bias]`` (n, g, k) with
    ``inputs[:, :, s] = [h_{s-1}; x_s; 1]`` (n, k, b), k = h + i + 1: recurrent, input and
    bias terms at once, and in backward the gradients of all three weights from one matmul too.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, w_ih: Tensor, w_hh: Tensor, bias: Tensor, h0: Tensor, c0: Tensor) -> Any:
        n, _, t, b = x.shape
        h = w_hh.shape[2]
        inputs = sequence_inputs(x, h0)
        gates = x.new_empty(t, n, 4 * h, b)
        to_cell, forget_grad = x.new_empty(t, n, h, b), x.new_empty(t, n, h, b)
        weights = fused_weights(w_ih, w_hh, bias)
        local = (to_cell, forget_grad) if any(ctx.needs_input_grad) else None
        cell = _run(inputs, StepMatmul.of(weights, b), c0.contiguous(), gates, local)
        ctx.buffers = (gates, to_cell, forget_grad, inputs, weights)  # backward only reads them
        return inputs[:, :h, 1:], cell  # the hidden states, a view: the loop wrote them there

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, d_hiddens: Tensor, d_cell: Tensor) -> tuple[Tensor | None, ...]:
        local, to_cell, forget_grad, inputs, weights = ctx.buffers
        need = ctx.needs_input_grad
        back = Backprop.create(inputs, weights, d_hiddens, need_x=need[0], need_weights=any(need[1:4]))
        d_h0, d_c0 = _run_back((local, to_cell, forget_grad), back, d_cell)
        return back.d_x, *back.weight_gradients(split_weights, 3), d_h0, d_c0


def _run(
    inputs: Tensor,
    weights: StepMatmul,
    c0: Tensor,
    gates: Tensor,
    local: tuple[Tensor, Tensor] | None,
) -> Tensor:
    """The forward loop: fills gates (t, n, g, b) and the hidden states; returns the last cell (n, h, b).

    ``inputs`` (n, k, t + 1, b) must hold x and the constant 1 already, and h0 at step 0;
    the loop writes each new hidden state into the next step's inputs (the last into the
    extra step t). weights: those (n, g, k), gates in the order (i, f, o, g); c0 (n, h, b).

    With ``local = (to_cell, forget_grad)`` (each (t, n, h, b)), it also keeps what backprop
    multiplies the incoming gradients by, while a step's values are still in cache: gates
    becomes (g i', f, tanh(c) o', i g'), the third to be multiplied by d hidden, the others
    (f: the cell's own decay) by d cell; to_cell is o tanh'(c) (d hidden -> d cell) and
    forget_grad c_prev f'. Every result is written where it is kept: no copies.
    """
    t, h = gates.shape[0], c0.shape[1]
    cell = c0
    for s in range(t):
        gate = weights(inputs[:, :, s], out=gates[s])  # (n, g, b)
        gate[:, : 3 * h].sigmoid_()
        tanh_(gate[:, 3 * h :])
        i, f, o, g = gate.split(h, dim=1)  # each (n, h, b)
        i_g, f_c = torch.mul(i, g), torch.mul(f, cell)
        cell = torch.add(f_c, i_g)
        cell_tanh = tanh_(cell.mul(2.0), doubled=True)
        hidden = torch.mul(o, cell_tanh, out=inputs[:, :h, s + 1])
        if local is not None:
            to_cell, forget_grad = local
            torch.addcmul(o, hidden, cell_tanh, value=-1.0, out=to_cell[s])  # o - o tanh(c)^2
            torch.addcmul(hidden, hidden, o, value=-1.0, out=o)  # tanh(c) o (1 - o)
            torch.addcmul(f_c, f_c, f, value=-1.0, out=forget_grad[s])  # c_prev f (1 - f)
            torch.addcmul(i, i_g, g, value=-1.0, out=g)  # i (1 - g^2)
            torch.addcmul(i_g, i_g, i, value=-1.0, out=i)  # g i (1 - i)
    return cell


def _run_back(kept: tuple[Tensor, Tensor, Tensor], back: Backprop, d_cell: Tensor) -> tuple[Tensor, Tensor]:
    """The backward loop, from the last step to the first; returns the gradients of h0 and c0 (n, h, b).

    ``kept`` = (local (t, n, g, b), to_cell, forget_grad (t, n, h, b)) is what the forward
    kept (see :func:`_run`); d_cell (n, h, b) the gradient of the final cell.
    """
    local, to_cell, forget_grad = kept
    t, n, g, b = local.shape
    h = g // 4
    d_gate = local.new_empty(n, g, b)  # one step's gate gradients; the matmuls consume them at once
    blocks, factors = d_gate.view(n, 4, h, b), local.view(t, n, 4, h, b)
    d_hidden, d_c = back.d_hiddens[:, :, -1], d_cell.clone(memory_format=torch.contiguous_format)
    for s in range(t - 1, -1, -1):
        d_c.addcmul_(d_hidden, to_cell[s])
        for gate in (0, 3):  # i and g by d cell, o by d hidden, f by d cell times c_prev f'
            torch.mul(factors[s, :, gate], d_c, out=blocks[:, gate])
        torch.mul(forget_grad[s], d_c, out=blocks[:, 1])
        torch.mul(factors[s, :, 2], d_hidden, out=blocks[:, 2])
        d_hidden = back.through(s, d_gate)
        d_c.mul_(factors[s, :, 1])  # the forget gate f
    return d_hidden, d_c


def sequence_inputs(x: Tensor, h0: Tensor) -> Tensor:
    """Every step's ``[h_{s-1}; x_s; 1]`` (n, k, t + 1, b), k = h + i + 1, with h0 in step 0's h part.

    x (n, i, t, b), h0 (n, h, b). A layer's forward loop writes each new hidden state into
    the next step's h part (the last into the extra step t), so ``inputs[:, :h, 1:]`` are
    the layer's hidden states, and backward finds each step's matmul input where it was.
    """
    n, i, t, b = x.shape
    h = h0.shape[1]
    inputs = x.new_empty(n, h + i + 1, t + 1, b)
    inputs[:, :h, 0].copy_(h0)
    inputs[:, h : h + i, :t].copy_(x)
    inputs[:, h + i].fill_(1.0)
    return inputs


def matrix_vector(b: int) -> bool:
    """Whether a layer over b sequences per member takes the row form (see :class:`StepMatmul`)."""
    return b == 1


@dataclass(frozen=True)
class StepMatmul:
    """A layer's fused weights (n, g, k) times one step's ``[h; x; 1]`` (n, k, b), into (n, g, b).

    For b = 1 the product is taken as the row vector times the transposed weights,
    (n, 1, k) @ (n, k, g), written into the output's transposed view (the same memory when
    b = 1): on a CPU, ATen's batched matmul runs (n, g, k) @ (n, k, 1) at about a tenth of
    that form's rate.
    """

    weights: Tensor
    rows: Tensor | None  # weights transposed (n, k, g), contiguous, when b = 1

    @classmethod
    def of(cls, weights: Tensor, b: int) -> StepMatmul:
        return cls(weights, weights.mT.contiguous() if matrix_vector(b) else None)

    def __call__(self, step_inputs: Tensor, out: Tensor) -> Tensor:
        if self.rows is None:
            return torch.bmm(self.weights, step_inputs, out=out)
        torch.bmm(step_inputs.mT, self.rows, out=out.mT)
        return out


@dataclass
class Backprop:
    """What every cell's backward loop does once it has a step's gate gradients d_gate (n, g, b).

    inputs (n, k, t + 1, b) are the forward's (see :func:`sequence_inputs`), d_hiddens
    (n, h, t, b) the gradients of the layer's hidden states; the weight gradients (n, g, k)
    come from :meth:`weight_gradients` after the loop, those of x (n, i, t, b) go to d_x
    (None: x needs none). ``back`` maps gate gradients to those of the step's h [and x]:
    the weights' columns for them transposed, (n, h [+ i], g), or for b = 1 as they are,
    (n, g, h [+ i]), multiplied from the left by the gradients as rows (see
    :class:`StepMatmul`). Then every step's gate gradients are kept (n, g, t) and the
    weight gradients are one matmul at the end, instead of one outer product per step
    that reads and writes all of them. Where no weight needs a gradient (members as an
    encoder's input), none is kept or computed.
    """

    inputs: Tensor
    back: Tensor
    rows: bool  # b = 1: the row form
    d_weights: Tensor | None  # b > 1: accumulated step by step
    d_gates: Tensor | None  # b = 1: every step's gate gradients (n, g, t)
    d_hiddens: Tensor
    d_x: Tensor | None

    @classmethod
    def create(
        cls, inputs: Tensor, weights: Tensor, d_hiddens: Tensor, *, need_x: bool, need_weights: bool
    ) -> Backprop:
        """Buffers for the backward of a layer whose fused weights (n, g, k) the forward multiplied."""
        n, h, t, b = d_hiddens.shape
        i = inputs.shape[1] - h - 1
        d_x = inputs.new_empty(n, i, t, b) if need_x else None
        columns = weights[..., : h + i if need_x else h]
        rows = matrix_vector(b)
        back = columns.contiguous() if rows else columns.mT.contiguous()
        d_weights = torch.zeros_like(weights) if need_weights and not rows else None
        d_gates = weights.new_empty(n, weights.shape[1], t) if need_weights and rows else None
        return cls(inputs, back, rows, d_weights, d_gates, d_hiddens, d_x)

    @property
    def h(self) -> int:
        """Hidden size."""
        return self.d_hiddens.shape[1]

    @property
    def i(self) -> int:
        """Input size."""
        return self.inputs.shape[1] - self.h - 1

    def through(self, s: int, d_gate: Tensor) -> Tensor:
        """Step s's gate gradients -> d h_{s-1} (n, h, b) through the matmul, plus the hiddens' own.

        Accumulates (or keeps) the step's weight gradients and writes d x_s on the way.
        """
        h = self.h
        if self.d_weights is not None:
            self.d_weights.baddbmm_(d_gate, self.inputs[:, :, s].mT)
        if self.d_gates is not None:
            self.d_gates[:, :, s].copy_(d_gate[..., 0])
        if not self.rows:
            if self.d_x is None and s > 0:
                return torch.baddbmm(self.d_hiddens[:, :, s - 1], self.back, d_gate)  # (n, h, b)
            d_in = torch.bmm(self.back, d_gate)  # (n, h [+ i], b)
        else:
            if self.d_x is None and s > 0:
                return torch.baddbmm(self.d_hiddens[:, :, s - 1].mT, d_gate.mT, self.back).mT
            d_in = torch.bmm(d_gate.mT, self.back).mT
        if self.d_x is not None:
            self.d_x[:, :, s].copy_(d_in[:, h:])
        return d_in[:, :h] + self.d_hiddens[:, :, s - 1] if s > 0 else d_in[:, :h]

    def weight_gradients(
        self, split: Callable[[Tensor, int, int], tuple[Tensor, ...]], count: int
    ) -> tuple[Tensor | None, ...]:
        """The gradients of the layer's ``count`` weights: those of the fused weights (n, g, k),
        once the loop has gone through every step, ``split``; all None where none was needed."""
        if self.d_weights is not None:
            return split(self.d_weights, self.h, self.i)
        if self.d_gates is None:
            return (None,) * count
        t = self.d_gates.shape[2]
        return split(torch.bmm(self.d_gates, self.inputs[:, :, :t, 0].mT), self.h, self.i)


def tanh_(x: Tensor, *, doubled: bool = False) -> Tensor:
    """tanh in place, as 2 sigmoid(2x) - 1 (``doubled``: x already holds 2x).

    ATen's sigmoid is about five times faster than its tanh on a CPU (both vectorised, with
    AVX2 and AVX-512 alike), and the LSTM step takes a tanh of a quarter of its gates and of
    its cell. The identity costs at most a few float32 ulps of absolute error, far below
    what training's rounding already brings (the trainer tests compare with float64).
    """
    return (x if doubled else x.mul_(2.0)).sigmoid_().mul_(2.0).sub_(1.0)


def stack_weights(w_ih: Tensor, w_hh: Tensor, bias: Tensor) -> Tensor:
    """[w_hh, w_ih, bias] (n, g, k): the weights of one matmul with a step's ``[h; x; 1]``."""
    return torch.cat([w_hh, w_ih, bias.unsqueeze(2)], dim=2)


def unstack_weights(d_weights: Tensor, h: int, i: int) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients of stacked weights (n, g, k) -> those of w_ih, w_hh and bias."""
    return d_weights[..., h : h + i], d_weights[..., :h], d_weights[..., h + i]


def fused_weights(w_ih: Tensor, w_hh: Tensor, bias: Tensor) -> Tensor:
    """[w_hh, w_ih, bias] (n, g, k) with the gates reordered to (i, f, o, g), see _run."""
    return _swap_last_gates(stack_weights(w_ih, w_hh, bias), w_hh.shape[2])


def split_weights(d_weights: Tensor, h: int, i: int) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients of the fused weights (n, g, k) -> those of w_ih, w_hh and bias, gates in torch's order."""
    # (i, f, o, g) -> (i, f, g, o): the swap is its own inverse
    return unstack_weights(_swap_last_gates(d_weights, h), h, i)


def _swap_last_gates(weights: Tensor, h: int) -> Tensor:
    """Swap the last two gate blocks of rows (dim 1): torch's (i, f, g, o) <-> (i, f, o, g).

    Inside, the three sigmoid gates come first, so one call activates them all. (Slices and
    one cat: a quarter of the time of indexing with the row order.)
    """
    return torch.cat([weights[:, : 2 * h], weights[:, 3 * h :], weights[:, 2 * h : 3 * h]], dim=1)
