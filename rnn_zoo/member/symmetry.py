"""The hidden-unit permutation symmetry of a member: the one place that permutes weights.

Reordering the hidden units of one recurrent layer (LSTM, GRU or vanilla RNN) leaves the
member's function unchanged, as long as every tensor that touches those units is reordered
with them. The symmetry is declared once, as a permutation spec that mirrors the parameter
names: for each parameter, which of its axes a layer's permutation moves. Gate rows move as
the cell's ``gates`` blocks of h (an LSTM's 4 in torch's order i, f, g, o; a GRU's 3, r, z,
n; a vanilla RNN's 1), so row j of every gate block travels together.

A permutation ``perm`` (h,) maps new position j to old unit ``perm[j]``:
``permuted[..., j, ...] = original[..., perm[j], ...]``. Batched dicts carry a leading member
dimension n on every tensor and every permutation, (n, h).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import torch
from torch import Tensor

from rnn_zoo.member.spec import MemberSpec, Params

# One (n, h) index tensor per recurrent layer.
Permutations = tuple[Tensor, ...]


@dataclass(frozen=True)
class Axis:
    """One axis of a parameter (without the member dimension) moved by layer ``layer``'s permutation.

    The axis has ``blocks`` equal blocks of h entries, each permuted the same way.
    """

    dim: int
    layer: int
    blocks: int = 1


# parameter name -> the axes that a hidden-unit permutation moves (empty: untouched).
PermutationSpec = dict[str, tuple[Axis, ...]]


def permutation_spec(spec: MemberSpec) -> PermutationSpec:
    """Which axes of each canonical parameter each layer's hidden-unit permutation moves."""
    axes: PermutationSpec = {}
    for layer in range(spec.num_layers):
        gate_rows = Axis(0, layer, spec.gates)
        # Layer 0 reads the member's inputs, which no permutation touches.
        below = (Axis(1, layer - 1),) if layer > 0 else ()
        axes[spec.key("weight_ih", layer)] = (gate_rows, *below)
        axes[spec.key("weight_hh", layer)] = (gate_rows, Axis(1, layer))
        axes[spec.key("bias_ih", layer)] = (gate_rows,)
        axes[spec.key("bias_hh", layer)] = (gate_rows,)
    axes["head.weight"] = (Axis(1, spec.num_layers - 1),)
    axes["head.bias"] = ()
    assert tuple(axes) == spec.parameter_names, "the permutation spec must mirror the parameters"
    return axes


def permute(params: Params, spec: MemberSpec, perms: Sequence[Tensor]) -> dict[str, Tensor]:
    """Reorder the hidden units of every member: one (n, h) permutation per layer, gathered at once."""
    if len(perms) != spec.num_layers:
        raise ValueError(f"expected {spec.num_layers} permutations (one per layer), got {len(perms)}")
    return {name: _gather_axes(params[name], axes, perms) for name, axes in permutation_spec(spec).items()}


def _gather_axes(tensor: Tensor, axes: tuple[Axis, ...], perms: Sequence[Tensor]) -> Tensor:
    """``tensor`` (n, ...) with each of ``axes`` reordered: one gather over each member's entries
    at their flat positions (a gather per axis, or take_along_dim's broadcast, costs several)."""
    if not axes:
        return tensor
    shape = tensor.shape[1:]
    moved = {axis.dim: axis for axis in axes}
    flat, stride = 0, 1  # each entry's flat position in its member, broadcast over the axes
    for dim in reversed(range(len(shape))):
        axis = moved.get(dim)
        if axis is None:
            index = torch.arange(shape[dim], device=tensor.device)
        else:
            index = _block_index(perms[axis.layer], axis.blocks)  # (n, blocks * h)
        view = [1 if axis is None else -1] + [1] * len(shape)
        view[dim + 1] = shape[dim]
        flat = flat + index.reshape(view) * stride
        stride *= shape[dim]
    return tensor.flatten(1).gather(1, flat.flatten(1)).view(tensor.shape)


def _block_index(perm: Tensor, blocks: int) -> Tensor:
    """(n, h) permutation -> (n, blocks * h) index that permutes each block of h alike."""
    h = perm.shape[-1]
    offsets = torch.arange(blocks, device=perm.device).mul(h).unsqueeze(-1)  # (blocks, 1)
    return (perm.unsqueeze(-2) + offsets).flatten(-2)


def invert(perms: Sequence[Tensor]) -> Permutations:
    """The permutations that undo ``perms``: ``permute(permute(p, s, perms), s, invert(perms)) == p``."""
    return tuple(perm.argsort(dim=-1) for perm in perms)


def identity_permutations(spec: MemberSpec, n: int, device: torch.device | str = "cpu") -> Permutations:
    """Permutations that leave every member as it is."""
    identity = torch.arange(spec.hidden_size, device=device).expand(n, -1)
    return tuple(identity for _ in range(spec.num_layers))


def random_permutations(
    spec: MemberSpec, n: int, generator: torch.Generator, device: torch.device | str = "cpu"
) -> Permutations:
    """Independent uniform permutations, one (n, h) tensor per layer, drawn from ``generator``."""
    scores = torch.rand(spec.num_layers, n, spec.hidden_size, generator=generator)
    return tuple(perm.to(device) for perm in scores.argsort(dim=-1))


def augment(params: Params, spec: MemberSpec, generator: torch.Generator) -> dict[str, Tensor]:
    """Every member with its hidden units shuffled at random: the augmentation for training."""
    first = params[spec.parameter_names[0]]
    perms = random_permutations(spec, first.shape[0], generator, device=first.device)
    return permute(params, spec, perms)
