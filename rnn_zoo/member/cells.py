"""The recurrent cell families a member can be built from: one registry entry per cell.

Each entry says everything that differs between the families, and the spec, the canonical
module, the functional ``step`` and ``forward`` and the permutation spec are derived from it:

* ``gates``: blocks of h rows in each weight and bias, in torch's order (LSTM i, f, g, o;
  GRU r, z, n; a vanilla RNN has one);
* ``module``: the torch module (``nn.LSTM``, ``nn.GRU``, ``nn.RNN`` with tanh) whose
  state_dict keys and equations a member has;
* ``state``: the tensors a layer carries from step to step, hidden state first;
* ``update``: one step of one layer in plain torch ops (the stepwise reference, also used to
  sample step by step), from the layer's weights, its input and its state;
* ``sequence``: a whole sequence of one layer for n members, by the cell's population layer
  with its hand-written backprop through time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

from rnn_zoo.member.recurrence import LSTMLayer
from rnn_zoo.member.recurrence_gru import GRULayer
from rnn_zoo.member.recurrence_rnn import RNNLayer

# One layer's state tensors, hidden state first, each (n, b, h) (feature-major (n, h, b) in a sequence).
LayerState = tuple[Tensor, ...]
# ((w_ih, w_hh, b_ih, b_hh), x (n, b, i), state) -> new state.
LayerParams = tuple[Tensor, Tensor, Tensor, Tensor]
Update = Callable[[LayerParams, Tensor, LayerState], LayerState]
# (x (n, i, t, b), w_ih, w_hh, b_ih, b_hh, state, each (n, h, b)) -> (hiddens (n, h, t, b), final state but h).
Sequence = Callable[[Tensor, Tensor, Tensor, Tensor, Tensor, LayerState], tuple[Tensor, LayerState]]


@dataclass(frozen=True)
class Cell:
    """What one recurrent cell family is: see the module docstring."""

    name: str
    gates: int
    module: type[nn.RNNBase]
    state: tuple[str, ...]
    update: Update
    sequence: Sequence
    label: str  # the cell in words, for cards and listings


def _lstm_update(params: LayerParams, x: Tensor, state: LayerState) -> LayerState:
    w_ih, w_hh, b_ih, b_hh = params
    gates = torch.baddbmm(affine(x, w_ih, b_ih + b_hh), state[0], w_hh.transpose(1, 2))  # (n, b, g)
    i, f, g, o = gates.chunk(4, dim=-1)
    c = torch.sigmoid(f) * state[1] + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def _gru_update(params: LayerParams, x: Tensor, state: LayerState) -> LayerState:
    w_ih, w_hh, b_ih, b_hh = params
    input_r, input_z, input_n = affine(x, w_ih, b_ih).chunk(3, dim=-1)
    hidden_r, hidden_z, hidden_n = affine(state[0], w_hh, b_hh).chunk(3, dim=-1)
    r, z = torch.sigmoid(input_r + hidden_r), torch.sigmoid(input_z + hidden_z)
    n = torch.tanh(input_n + r * hidden_n)  # torch's GRU: the reset gate scales W_hn h + b_hn
    return ((1 - z) * n + z * state[0],)


def _rnn_update(params: LayerParams, x: Tensor, state: LayerState) -> LayerState:
    w_ih, w_hh, b_ih, b_hh = params
    return (torch.tanh(torch.baddbmm(affine(x, w_ih, b_ih + b_hh), state[0], w_hh.transpose(1, 2))),)


def affine(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Per-member x @ weight.T + bias for x (n, ..., i), weight (n, o, i), bias (n, o)."""
    n, *middle, fan_in = x.shape
    flat = x.reshape(n, -1, fan_in)
    out = torch.baddbmm(bias.unsqueeze(1), flat, weight.transpose(1, 2))
    return out.reshape(n, *middle, weight.shape[1])


def _lstm_sequence(
    x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor, state: LayerState
) -> tuple[Tensor, LayerState]:
    hiddens, cell = LSTMLayer.apply(x, w_ih, w_hh, b_ih + b_hh, *state)
    return hiddens, (cell,)


def _gru_sequence(
    x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor, state: LayerState
) -> tuple[Tensor, LayerState]:
    return GRULayer.apply(x, w_ih, w_hh, b_ih, b_hh, *state), ()


def _rnn_sequence(
    x: Tensor, w_ih: Tensor, w_hh: Tensor, b_ih: Tensor, b_hh: Tensor, state: LayerState
) -> tuple[Tensor, LayerState]:
    return RNNLayer.apply(x, w_ih, w_hh, b_ih + b_hh, *state), ()


CELLS: dict[str, Cell] = {
    cell.name: cell
    for cell in (
        Cell("lstm", 4, nn.LSTM, ("h", "c"), _lstm_update, _lstm_sequence, "LSTM"),
        Cell("gru", 3, nn.GRU, ("h",), _gru_update, _gru_sequence, "GRU"),
        Cell("rnn", 1, nn.RNN, ("h",), _rnn_update, _rnn_sequence, "vanilla RNN"),
    )
}
