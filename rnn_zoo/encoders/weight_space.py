"""A member's weights as sets of hidden units, laid out from the symmetry declaration.

Every parameter is placed by the axes that hidden-unit permutations move
(:func:`rnn_zoo.member.symmetry.permutation_spec`): with none it is a *global* feature, with one it
is a *node* feature of that layer's units, with two an *edge* feature between two layers'
units. Gate blocks and unpermuted axes (member inputs, head outputs) become channels c.

    node  "node{a}"      (n, h, c)       e.g. biases, layer 0's input weights, head columns
    edge  "edge{a}_{b}"  (n, h, h, c)    rows: units of layer a, columns: units of layer b
    global "global"      (n, c)          the head bias
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from rnn_zoo.member.lstm import MemberSpec, Params
from rnn_zoo.member.symmetry import Axis, permutation_spec

GLOBAL = "global"
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


def weight_layout(spec: MemberSpec) -> WeightLayout:
    """Derive the layout of ``spec``'s weights from its permutation spec."""
    axes_of = permutation_spec(spec)
    shapes = spec.parameter_shapes()
    placements: dict[str, str] = {}
    channels: dict[str, int] = {}
    edges: list[tuple[int, int]] = []
    for name, axes in axes_of.items():
        key = _feature_key(axes)
        if len(axes) == 2 and (axes[0].layer, axes[1].layer) not in edges:
            edges.append((axes[0].layer, axes[1].layer))
        placements[name] = key
        per_unit = torch.Size(shapes[name]).numel() // spec.hidden_size ** len(axes)
        channels[key] = channels.get(key, 0) + per_unit
    return WeightLayout(placements, channels, tuple(edges), spec.num_layers)


def _feature_key(axes: tuple[Axis, ...]) -> str:
    if len(axes) > 2:
        raise ValueError("a parameter moved along more than two axes has no weight-space layout")
    ordered = sorted(axes, key=lambda axis: axis.dim)
    layers = [axis.layer for axis in ordered]
    return {0: lambda: GLOBAL, 1: lambda: node_key(*layers), 2: lambda: edge_key(*layers)}[len(axes)]()


def to_features(params: Params, spec: MemberSpec, layout: WeightLayout) -> Features:
    """Batched parameters -> feature sets, each parameter's channels concatenated in canonical order."""
    pieces: dict[str, list[Tensor]] = {key: [] for key in layout.channels}
    for name, axes in permutation_spec(spec).items():
        pieces[layout.placements[name]].append(_unit_major(params[name], axes))
    return {key: torch.cat(parts, dim=-1) for key, parts in pieces.items()}


def _unit_major(tensor: Tensor, axes: tuple[Axis, ...]) -> Tensor:
    """(n, ...) -> (n, h[, h], c): unit axes first (in axis order), blocks and the rest as channels."""
    ordered = sorted(axes, key=lambda axis: axis.dim)
    for axis in reversed(ordered):  # splitting a later axis leaves earlier dims in place
        tensor = tensor.unflatten(axis.dim + 1, (axis.blocks, -1))
    # after the splits, axis k's unit dim sits at its dim + 1 (members) + k + 1 (earlier splits + its own)
    unit_dims = [axis.dim + 2 + k for k, axis in enumerate(ordered)]
    tensor = tensor.movedim(unit_dims, list(range(1, 1 + len(ordered))))
    return tensor.flatten(1 + len(ordered))
