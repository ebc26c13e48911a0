"""A worked example of a weight encoder from outside rnn-zoo.

    rnn-zoo bench --encoder unit_sets:make_encoder --preset tiny      # with this folder on PYTHONPATH
    rnn-zoo bench --encoder unit-sets --preset tiny                   # after `pip install .` here

Two factories keep the contract (README, "Bring your own encoder"):

- ``make_encoder``: each hidden unit described by statistics of the weights it owns, an MLP
  per unit, a mean over the units (a set, so invariant to hidden-unit permutations), an MLP.
- ``make_flat_encoder``: an MLP on all weights as one vector; not invariant, so it brings
  an ``augment`` method that shuffles hidden units in every pre-training batch.

Shape letters: n members, g = 4 gates, h hidden units, i inputs of a layer, f unit features.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from rnn_zoo import MemberSpec
from rnn_zoo.member import symmetry

Params = dict[str, Tensor]


def mean_std(weights: Tensor, dim: int) -> list[Tensor]:
    return [weights.mean(dim), weights.std(dim, unbiased=False)]


class UnitSetEncoder(nn.Module):
    """Per hidden unit: its gates' biases and row statistics, its outgoing column's statistics."""

    invariant = True  # shown by `rnn-zoo encoders`
    description = "hidden units as a set: per-unit statistics -> MLP -> mean -> MLP"

    def __init__(self, spec: MemberSpec, width: int = 64, embedding_size: int = 16) -> None:
        super().__init__()
        self.spec = spec
        features = 4 * 6 + 4  # per gate: 2 biases, ih and hh row mean/std; hh and outgoing column mean/std
        self.per_unit = nn.Sequential(nn.Linear(features, width), nn.GELU(), nn.Linear(width, width))
        self.to_embedding = nn.Sequential(
            nn.Linear(spec.num_layers * width, width), nn.GELU(), nn.Linear(width, embedding_size)
        )

    def unit_features(self, params: Params, layer: int) -> Tensor:
        """(n, h, f) for the hidden units of one layer."""
        h = self.spec.hidden_size
        ih = params[f"lstm.weight_ih_l{layer}"].unflatten(1, (4, h))  # (n, g, h, i)
        hh = params[f"lstm.weight_hh_l{layer}"]  # (n, g * h, h)
        biases = [params[f"lstm.bias_{kind}_l{layer}"].unflatten(1, (4, h)) for kind in ("ih", "hh")]
        last = layer + 1 == self.spec.num_layers
        outgoing = params["head.weight"] if last else params[f"lstm.weight_ih_l{layer + 1}"]  # (n, ., h)
        gate_rows = [*biases, *mean_std(ih, -1), *mean_std(hh.unflatten(1, (4, h)), -1)]  # (n, g, h) each
        columns = [*mean_std(hh, 1), *mean_std(outgoing, 1)]  # (n, h) each
        return torch.cat([torch.cat(gate_rows, 1).transpose(1, 2), torch.stack(columns, -1)], -1)

    def forward(self, params: Params) -> Tensor:
        pooled = [
            self.per_unit(self.unit_features(params, layer)).mean(1) for layer in range(self.spec.num_layers)
        ]
        return self.to_embedding(torch.cat(pooled, -1))  # (n, e)


def make_encoder(
    spec: MemberSpec, *, input_kind: str, width: int = 64, embedding_size: int = 16
) -> nn.Module:
    """The factory: weights alone are read, so the zoo's input kind does not matter here."""
    return UnitSetEncoder(spec, width, embedding_size)


class FlatEncoder(nn.Module):
    """All weights as one vector -> MLP; trained on members with shuffled hidden units."""

    invariant = False
    description = "flattened weights -> MLP, hidden units shuffled in pre-training"

    def __init__(self, spec: MemberSpec, width: int = 64, embedding_size: int = 16) -> None:
        super().__init__()
        self.spec = spec
        self.mlp = nn.Sequential(
            nn.Linear(spec.num_parameters, width), nn.GELU(), nn.Linear(width, embedding_size)
        )

    def forward(self, params: Params) -> Tensor:
        return self.mlp(torch.cat([params[name].flatten(1) for name in self.spec.parameter_names], 1))

    def augment(self, params: Params, generator: torch.Generator) -> Params:
        """Each member's hidden units in a random order: the same function, other weights."""
        return symmetry.augment(params, self.spec, generator)


def make_flat_encoder(
    spec: MemberSpec, *, input_kind: str, width: int = 64, embedding_size: int = 16
) -> nn.Module:
    """The factory of the augmented example."""
    return FlatEncoder(spec, width, embedding_size)
