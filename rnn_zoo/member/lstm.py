"""The canonical zoo member and its batched functional forward.

A member is ``nn.LSTM(input_size, hidden, num_layers, batch_first=True)`` named ``lstm``
followed by ``nn.Linear(hidden, output)`` named ``head``. Its parameters are exactly that
module's ``state_dict``, so any member loads into plain PyTorch.

The functional forward runs ``n`` members at once: every parameter carries a leading member
dimension, every activation too. Shape letters used throughout the project:

    n members, b batch (sequences per member), t time, i input, h hidden,
    g gates (4 h, in torch's order i, f, g, o), o output, e embedding
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TypeVar

import torch
from einops import rearrange
from torch import Tensor, nn

from rnn_zoo.member import recurrence

Params = Mapping[str, Tensor]
T = TypeVar("T")
# One (h, c) pair per layer, each (n, b, h).
State = tuple[tuple[Tensor, Tensor], ...]

GATES = 4


@dataclass(frozen=True)
class MemberSpec:
    """Architecture of one zoo member: a stacked LSTM with equal hidden sizes and a linear head."""

    input_size: int
    hidden_size: int
    num_layers: int
    output_size: int

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if not isinstance(value, int) or value < 1:
                raise ValueError(f"MemberSpec.{name} must be a positive integer, got {value!r}")

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """State-dict keys of the canonical module, in its order, with their shapes."""
        shapes: dict[str, tuple[int, ...]] = {}
        gate_rows = GATES * self.hidden_size
        for layer in range(self.num_layers):
            fan_in = self.input_size if layer == 0 else self.hidden_size
            shapes[f"lstm.weight_ih_l{layer}"] = (gate_rows, fan_in)
            shapes[f"lstm.weight_hh_l{layer}"] = (gate_rows, self.hidden_size)
            shapes[f"lstm.bias_ih_l{layer}"] = (gate_rows,)
            shapes[f"lstm.bias_hh_l{layer}"] = (gate_rows,)
        shapes["head.weight"] = (self.output_size, self.hidden_size)
        shapes["head.bias"] = (self.output_size,)
        return shapes

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """State-dict keys in canonical order."""
        return tuple(self.parameter_shapes())

    @property
    def num_parameters(self) -> int:
        """Total number of scalars in one member."""
        return sum(_numel(shape) for shape in self.parameter_shapes().values())

    def to_dict(self) -> dict[str, int]:
        """JSON-ready form, the inverse of :meth:`from_dict`."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, int]) -> MemberSpec:
        """Rebuild a spec from :meth:`to_dict` output; unknown keys are an error."""
        unknown = set(data) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"unknown MemberSpec field(s): {', '.join(sorted(unknown))}")
        return cls(**data)


def _numel(shape: tuple[int, ...]) -> int:
    count = 1
    for size in shape:
        count *= size
    return count


class Member(nn.Module):
    """The canonical member as a plain module; its state_dict is a zoo row's weights."""

    def __init__(self, spec: MemberSpec) -> None:
        super().__init__()
        self.spec = spec
        self.lstm = nn.LSTM(spec.input_size, spec.hidden_size, spec.num_layers, batch_first=True)
        self.head = nn.Linear(spec.hidden_size, spec.output_size)

    def forward(
        self, x: Tensor, state: tuple[Tensor, Tensor] | None = None
    ) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """(b, t, i) inputs -> (b, t, o) outputs and nn.LSTM's (h, c) state."""
        hidden, state = self.lstm(x, state)
        return self.head(hidden), state


def map_params(function: Callable[[Tensor], T], params: Params) -> dict[str, T]:
    """``params`` with ``function`` applied to every tensor; names and order are kept."""
    return {name: function(tensor) for name, tensor in params.items()}


def check_params(params: Params, spec: MemberSpec) -> int:
    """Check names and shapes of a batched parameter dict; return the member count n."""
    shapes = spec.parameter_shapes()
    missing = [name for name in shapes if name not in params]
    if missing:
        raise ValueError(f"parameter dict is missing {', '.join(missing)}")
    n = params[next(iter(shapes))].shape[0]
    for name, shape in shapes.items():
        got = tuple(params[name].shape)
        if got != (n, *shape):
            raise ValueError(f"parameter {name} has shape {got}, expected {(n, *shape)}")
    return n


def zero_state(spec: MemberSpec, n: int, b: int, *, like: Tensor) -> State:
    """All-zero (h, c) for every layer, each (n, b, h), on the device and dtype of ``like``."""
    zeros = like.new_zeros(n, b, spec.hidden_size)
    return tuple((zeros, zeros) for _ in range(spec.num_layers))


def _cell(gates: Tensor, c: Tensor) -> tuple[Tensor, Tensor]:
    # gates (n, b, g) in torch's order: input, forget, cell candidate, output.
    i, f, g, o = gates.chunk(GATES, dim=-1)
    c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
    return torch.sigmoid(o) * torch.tanh(c), c


def step(params: Params, spec: MemberSpec, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
    """One time step for n members: x (n, b, i) -> outputs (n, b, o) and the new state."""
    n, b = x.shape[:2]
    state = zero_state(spec, n, b, like=x) if state is None else state
    new_state = []
    layer_input = x
    for layer, (h, c) in enumerate(state):
        gates = _input_gates(params, layer, layer_input)
        gates = torch.baddbmm(gates, h, params[f"lstm.weight_hh_l{layer}"].transpose(1, 2))
        h, c = _cell(gates, c)
        new_state.append((h, c))
        layer_input = h
    return _head(params, layer_input), tuple(new_state)


def forward(params: Params, spec: MemberSpec, x: Tensor, state: State | None = None) -> tuple[Tensor, State]:
    """A whole sequence for n members: x (n, b, t, i) -> outputs (n, b, t, o) and the final state.

    Layer by layer, each a loop over time with one fused matmul per step and its own
    backprop through time (:class:`rnn_zoo.member.recurrence.LSTMLayer`).
    """
    n, b, _, _ = x.shape
    state = zero_state(spec, n, b, like=x) if state is None else state
    new_state = []
    layer_input = rearrange(x, "n b t i -> n i t b")  # the layers' feature-major sequences
    for layer, (h, c) in enumerate(state):
        bias = params[f"lstm.bias_ih_l{layer}"] + params[f"lstm.bias_hh_l{layer}"]  # (n, g)
        w_ih, w_hh = params[f"lstm.weight_ih_l{layer}"], params[f"lstm.weight_hh_l{layer}"]
        layer_input, c = recurrence.LSTMLayer.apply(
            layer_input, w_ih, w_hh, bias, *(rearrange(s, "n b h -> n h b") for s in (h, c))
        )  # (n, h, t, b), (n, h, b)
        new_state.append(tuple(rearrange(s, "n h b -> n b h") for s in (layer_input[:, :, -1], c)))
    t = layer_input.shape[2]
    weight, head_bias = params["head.weight"], params["head.bias"]  # (n, o, h), (n, o)
    hidden_flat = rearrange(layer_input, "n h t b -> n h (t b)")  # a view: (t b) is one stride
    outputs = torch.baddbmm(head_bias.unsqueeze(2), weight, hidden_flat)  # (n, o, t b)
    return rearrange(outputs, "n o (t b) -> n b t o", t=t), tuple(new_state)  # a view


def _input_gates(params: Params, layer: int, x: Tensor) -> Tensor:
    """x (n, b, [t,] i) -> (n, b, [t,] g): input projection plus both biases."""
    w_ih = params[f"lstm.weight_ih_l{layer}"]  # (n, g, i)
    bias = params[f"lstm.bias_ih_l{layer}"] + params[f"lstm.bias_hh_l{layer}"]  # (n, g)
    return _affine(x, w_ih, bias)


def _head(params: Params, hidden: Tensor) -> Tensor:
    return _affine(hidden, params["head.weight"], params["head.bias"])


def _affine(x: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
    """Per-member x @ weight.T + bias for x (n, ..., i), weight (n, o, i), bias (n, o)."""
    n, *middle, fan_in = x.shape
    flat = x.reshape(n, -1, fan_in)
    out = torch.baddbmm(bias.unsqueeze(1), flat, weight.transpose(1, 2))
    return out.reshape(n, *middle, weight.shape[1])


def stack_members(members: list[Member]) -> dict[str, Tensor]:
    """State dicts of several canonical modules -> one batched parameter dict (n, ...)."""
    states = [member.state_dict() for member in members]
    return {name: torch.stack([state[name] for state in states]) for name in states[0]}


def member_from_params(params: Params, spec: MemberSpec, index: int) -> Member:
    """Member ``index`` of a batched parameter dict as a canonical module."""
    member = Member(spec)
    member.load_state_dict({name: params[name][index] for name in spec.parameter_names})
    return member
