"""The canonical zoo member: its spec, its module and its batched parameter dicts.

A member is a stacked recurrent module of one cell family (:mod:`rnn_zoo.member.cells`),
e.g. ``nn.LSTM(input_size, hidden, num_layers, batch_first=True)`` named ``lstm``, followed
by ``nn.Linear(hidden, output)`` named ``head``. Its parameters are exactly that module's
``state_dict``, so any member loads into plain PyTorch. A batched parameter dict holds n
members: the same keys, each tensor with a leading member dimension.

Shape letters used throughout the project:

    n members, b batch (sequences per member), t time, i input, h hidden,
    g gates (gates x h rows, in torch's order: i, f, g, o for an LSTM, r, z, n for a GRU),
    o output, e embedding
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import asdict, dataclass
from typing import TypeVar

from torch import Tensor, nn

from rnn_zoo.files import from_mapping
from rnn_zoo.member.cells import CELLS, Cell

Params = Mapping[str, Tensor]
T = TypeVar("T")
# The torch module's own state, each (layers, b, h): nn.LSTM's (h, c), nn.GRU's or nn.RNN's h.
ModuleState = Tensor | tuple[Tensor, Tensor]
DEFAULT_CELL = "lstm"


@dataclass(frozen=True)
class MemberSpec:
    """Architecture of one zoo member: a stacked recurrent module (``cell``, equal hidden sizes) and a linear head."""

    input_size: int
    hidden_size: int
    num_layers: int
    output_size: int
    cell: str = DEFAULT_CELL

    def __post_init__(self) -> None:
        for name, value in asdict(self).items():
            if name != "cell" and (not isinstance(value, int) or value < 1):
                raise ValueError(f"MemberSpec.{name} must be a positive integer, got {value!r}")
        if self.cell not in CELLS:
            raise ValueError(f"MemberSpec.cell must be one of {', '.join(CELLS)}, got {self.cell!r}")

    @property
    def cell_family(self) -> Cell:
        """The cell family: gates, torch module, population layer, state."""
        return CELLS[self.cell]

    @property
    def gates(self) -> int:
        """Gate blocks of h rows in each weight and bias of the recurrent module."""
        return self.cell_family.gates

    def parameter_shapes(self) -> dict[str, tuple[int, ...]]:
        """State-dict keys of the canonical module, in its order, with their shapes."""
        shapes: dict[str, tuple[int, ...]] = {}
        gate_rows = self.gates * self.hidden_size
        for layer in range(self.num_layers):
            fan_in = self.input_size if layer == 0 else self.hidden_size
            shapes[self.key("weight_ih", layer)] = (gate_rows, fan_in)
            shapes[self.key("weight_hh", layer)] = (gate_rows, self.hidden_size)
            shapes[self.key("bias_ih", layer)] = (gate_rows,)
            shapes[self.key("bias_hh", layer)] = (gate_rows,)
        shapes["head.weight"] = (self.output_size, self.hidden_size)
        shapes["head.bias"] = (self.output_size,)
        return shapes

    def key(self, kind: str, layer: int) -> str:
        """The state-dict key of one recurrent parameter, e.g. ``key("weight_ih", 0) == "lstm.weight_ih_l0"``."""
        return f"{self.cell}.{kind}_l{layer}"

    @property
    def parameter_names(self) -> tuple[str, ...]:
        """State-dict keys in canonical order."""
        return tuple(self.parameter_shapes())

    @property
    def num_parameters(self) -> int:
        """Total number of scalars in one member."""
        return sum(math.prod(shape) for shape in self.parameter_shapes().values())

    def to_dict(self) -> dict[str, int | str]:
        """JSON-ready form, the inverse of :meth:`from_dict`.

        The cell is written only when it is not the default LSTM, so an LSTM member's
        record reads as it did before there were other cells.
        """
        data: dict[str, int | str] = asdict(self)
        if self.cell == DEFAULT_CELL:
            del data["cell"]
        return data

    @classmethod
    def from_dict(cls, data: Mapping[str, int | str]) -> MemberSpec:
        """Rebuild a spec from :meth:`to_dict` output (no cell: an LSTM); unknown keys are an error."""
        return from_mapping(cls, data, "MemberSpec")


class Member(nn.Module):
    """The canonical member as a plain module; its state_dict is a zoo row's weights."""

    def __init__(self, spec: MemberSpec) -> None:
        super().__init__()
        self.spec = spec
        recurrent = spec.cell_family.module(
            spec.input_size, spec.hidden_size, spec.num_layers, batch_first=True
        )
        self.add_module(spec.cell, recurrent)  # named by the cell: "lstm", "gru" or "rnn"
        self.head = nn.Linear(spec.hidden_size, spec.output_size)

    def forward(self, x: Tensor, state: ModuleState | None = None) -> tuple[Tensor, ModuleState]:
        """(b, t, i) inputs -> (b, t, o) outputs and the torch module's state (nn.LSTM's (h, c), else h)."""
        hidden, state = getattr(self, self.spec.cell)(x, state)
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


def member_from_params(params: Params, spec: MemberSpec, index: int) -> Member:
    """Member ``index`` of a batched parameter dict as a canonical module."""
    member = Member(spec)
    member.load_state_dict({name: params[name][index] for name in spec.parameter_names})
    return member
