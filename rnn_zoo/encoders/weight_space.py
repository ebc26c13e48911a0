"""A member's weights as sets of hidden units, laid out from the symmetry declaration.

Every parameter is placed by the axes that hidden-unit permutations move
(:func:`rnn_zoo.member.symmetry.permutation_spec`): with none it is a *global* feature, with one it
is a *node* feature of that layer's units, with two an *edge* feature between two layers'
units. Gate blocks and unpermuted axes (member inputs, head outputs) become channels c.

    node  "node{a}"      (n, h, c)       e.g. biases, layer 0's input weights, head columns
    edge  "edge{a}_{b}"  (n, h, h, c)    rows: units of layer a, columns: units of layer b
    global "global"      (n, c)          the head bias

That grouping is :func:`weight_layout`. :func:`tensor_layout` is the authors' instead: one set
per parameter tensor, gate blocks as channels, and the member's input and output units as unit
axes too (a symmetry the member does not have, which the encoder breaks with learned
position embeddings of those axes).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor

from rnn_zoo.member.spec import MemberSpec, Params
from rnn_zoo.member.symmetry import Axis, PermutationSpec, permutation_spec

GLOBAL = "global"
INPUTS = -1  # the layer index :func:`tensor_layout` gives the member's input units
Features = dict[str, Tensor]


def node_key(layer: int) -> str:
    return f"node{layer}"


def edge_key(rows: int, cols: int) -> str:
    return f"edge{rows}_{cols}"


@dataclass(frozen=True)
class WeightLayout:
    """Which feature set each parameter joins, and the channel count of every set."""

    placements: dict[str, str]  # parameter name -> feature key
    channels: dict[str, int]  # feature key -> channels
    edges: tuple[tuple[int, int], ...]  # (row layer, column layer) of every edge set
    layers: int
    axes: PermutationSpec  # parameter name -> the axes it is laid out along, as unit axes
    # feature key -> the shape (unit axes, 1 where permuted) of a learned embedding of its
    # unpermuted unit axes; empty when members' inputs and outputs are channels
    positions: dict[str, tuple[int, ...]] = field(default_factory=dict)


def weight_layout(spec: MemberSpec) -> WeightLayout:
    """Derive the layout of ``spec``'s weights from its permutation spec."""
    axes = permutation_spec(spec)
    return _layout(spec, axes, {name: _feature_key(axes_of) for name, axes_of in axes.items()})


def tensor_layout(spec: MemberSpec) -> WeightLayout:
    """One set per parameter, keyed by :func:`tensor_key`; member inputs and outputs as unit axes."""
    axes = dict(permutation_spec(spec))
    outputs = Axis(0, spec.num_layers)
    first = spec.key("weight_ih", 0)
    axes[first] = (*axes[first], Axis(1, INPUTS))
    axes["head.weight"] = (outputs, *axes["head.weight"])
    axes["head.bias"] = (outputs,)
    fixed = (INPUTS, spec.num_layers)
    positions = {
        tensor_key(name): tuple(_units(spec, a) if a.layer in fixed else 1 for a in sorted(axes_of, key=_dim))
        for name, axes_of in axes.items()
        if any(axis.layer in fixed for axis in axes_of)
    }
    return _layout(spec, axes, {name: tensor_key(name) for name in axes}, positions)


def tensor_key(name: str) -> str:
    """The feature key of parameter ``name`` in :func:`tensor_layout` (no dots: a module key): the
    recurrent module's prefix dropped (``gru.weight_ih_l0`` -> ``weight_ih_l0``), the head's kept
    (``head.weight`` -> ``head_weight``)."""
    module, _, tensor = name.partition(".")
    return f"head_{tensor}" if module == "head" else tensor


def _layout(
    spec: MemberSpec,
    axes_of: PermutationSpec,
    placements: dict[str, str],
    positions: dict[str, tuple[int, ...]] | None = None,
) -> WeightLayout:
    shapes = spec.parameter_shapes()
    channels: dict[str, int] = {}
    edges: list[tuple[int, int]] = []
    for name, axes in axes_of.items():
        if len(axes) == 2 and (axes[0].layer, axes[1].layer) not in edges:
            edges.append((axes[0].layer, axes[1].layer))
        units = [_units(spec, axis) for axis in axes]
        per_unit = torch.Size(shapes[name]).numel() // torch.Size(units).numel()
        channels[placements[name]] = channels.get(placements[name], 0) + per_unit
    return WeightLayout(placements, channels, tuple(edges), spec.num_layers, axes_of, positions or {})


def _dim(axis: Axis) -> int:
    return axis.dim


def _units(spec: MemberSpec, axis: Axis) -> int:
    """How many units an axis of ``spec`` holds: inputs, outputs or hidden units."""
    if axis.layer == INPUTS:
        return spec.input_size
    return spec.output_size if axis.layer == spec.num_layers else spec.hidden_size


def _feature_key(axes: tuple[Axis, ...]) -> str:
    if len(axes) > 2:
        raise ValueError("a parameter moved along more than two axes has no weight-space layout")
    layers = [axis.layer for axis in sorted(axes, key=_dim)]
    return {0: lambda: GLOBAL, 1: lambda: node_key(*layers), 2: lambda: edge_key(*layers)}[len(axes)]()


def to_features(
    params: Params, spec: MemberSpec, layout: WeightLayout, channels_first: bool = False
) -> Features:
    """Batched parameters -> feature sets (n, *units, c), each parameter's channels concatenated
    in canonical order; ``channels_first``: (c, n, *units)."""
    pieces: dict[str, list[Tensor]] = {key: [] for key in layout.channels}
    for name, axes in layout.axes.items():
        piece = _unit_major(params[name], axes)
        pieces[layout.placements[name]].append(piece.movedim(-1, 0) if channels_first else piece)
    return {key: torch.cat(parts, dim=0 if channels_first else -1) for key, parts in pieces.items()}


def _unit_major(tensor: Tensor, axes: tuple[Axis, ...]) -> Tensor:
    """(n, ...) -> (n, h[, h], c): unit axes first (in axis order), blocks and the rest as channels."""
    ordered = sorted(axes, key=_dim)
    for axis in reversed(ordered):  # splitting a later axis leaves earlier dims in place
        tensor = tensor.unflatten(axis.dim + 1, (axis.blocks, -1))
    # after the splits, axis k's unit dim sits at its dim + 1 (members) + k + 1 (earlier splits + its own)
    unit_dims = [axis.dim + 2 + k for k, axis in enumerate(ordered)]
    tensor = tensor.movedim(unit_dims, list(range(1, 1 + len(ordered))))
    return tensor.flatten(1 + len(ordered))
