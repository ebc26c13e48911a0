"""The batched functional forward: n members of one spec run at once.

Every parameter carries a leading member dimension (a batched parameter dict of
:mod:`rnn_zoo.member.spec`), every activation too; shape letters as declared there.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import Tensor

from rnn_zoo.member.cells import LayerParams, LayerState, affine
from rnn_zoo.member.spec import MemberSpec, Params

# One tuple per layer of the cell's state tensors, hidden state first, each (n, b, h):
# (h, c) for an LSTM, (h,) for a GRU or a vanilla RNN.
State = tuple[LayerState, ...]


def zero_state(spec: MemberSpec, n: int, b: int, *, like: Tensor) -> State:
    """An all-zero state for every layer (each tensor (n, b, h)), on the device and dtype of ``like``."""
    zeros = like.new_zeros(n, b, spec.hidden_size)
    return tuple(tuple(zeros for _ in spec.cell_family.state) for _ in range(spec.num_layers))


def step(params: Params, spec: MemberSpec, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
    """One time step for n members: x (n, b, i) -> outputs (n, b, o) and the new state."""
    n, b = x.shape[:2]
    state = zero_state(spec, n, b, like=x) if state is None else state
    new_state = []
    layer_input = x
    for layer, layer_state in enumerate(state):
        layer_state = spec.cell_family.update(_layer_params(params, spec, layer), layer_input, layer_state)
        new_state.append(layer_state)
        layer_input = layer_state[0]
    return _head(params, layer_input), tuple(new_state)


def forward(params: Params, spec: MemberSpec, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
    """A whole sequence for n members: x (n, b, t, i) -> outputs (n, b, t, o) and the final state.

    Layer by layer, each a loop over time with one fused matmul per step and its own
    backprop through time (the cell's population layer, e.g.
    :class:`rnn_zoo.member.recurrence.LSTMLayer`).
    """
    n, b, _, _ = x.shape
    state = zero_state(spec, n, b, like=x) if state is None else state
    new_state = []
    layer_input = rearrange(x, "n b t i -> n i t b")  # the layers' feature-major sequences
    for layer, layer_state in enumerate(state):
        layer_input, rest = spec.cell_family.sequence(
            layer_input,
            *_layer_params(params, spec, layer),
            tuple(rearrange(s, "n b h -> n h b") for s in layer_state),
        )  # (n, h, t, b) and the final state but h, each (n, h, b)
        new_state.append(tuple(rearrange(s, "n h b -> n b h") for s in (layer_input[:, :, -1], *rest)))
    t = layer_input.shape[2]
    weight, head_bias = params["head.weight"], params["head.bias"]  # (n, o, h), (n, o)
    hidden_flat = rearrange(layer_input, "n h t b -> n h (t b)")  # a view: (t b) is one stride
    outputs = torch.baddbmm(head_bias.unsqueeze(2), weight, hidden_flat)  # (n, o, t b)
    return rearrange(outputs, "n o (t b) -> n b t o", t=t), tuple(new_state)  # a view


def _layer_params(params: Params, spec: MemberSpec, layer: int) -> LayerParams:
    """w_ih (n, g, i), w_hh (n, g, h), b_ih and b_hh (n, g) of one recurrent layer."""
    w_ih, w_hh, b_ih, b_hh = (
        params[spec.key(kind, layer)] for kind in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
    )
    return w_ih, w_hh, b_ih, b_hh


def _head(params: Params, hidden: Tensor) -> Tensor:
    return affine(hidden, params["head.weight"], params["head.bias"])
