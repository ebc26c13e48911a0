"""DWS: layers equivariant to the member's hidden-unit permutations, invariant pooling, MLP.

The weights are laid out as feature sets (:mod:`weight_space`, derived from the one symmetry
declaration). Each layer updates every set from linear maps of sets and of their
permutation-respecting reductions (means over unit axes, diagonals, transposes), broadcast back
along unit axes. The encoder is therefore invariant to the symmetry of
:mod:`rnn_zoo.member.symmetry`: shuffling one gate block, or only the columns of an hh weight,
changes the embedding.

The default is the authors' encoder (their ``NFLSTMParameterEncoder`` of ``NPLinearLSTM``
layers): one set per parameter tensor with the gates as channels, the maps of
:func:`tensor_terms`, learned position embeddings of the member's input and output units,
4 layers of 48 channels with ReLU, the mean of every set (10 x 48 at the paper's members), then
a ReLU MLP 128 -> 16. rnn-zoo's earlier design, ``sets="axes", widths=(1024, 512),
activation="gelu"``, groups the tensors by the unit axes they share, keeps the member's inputs
and outputs as channels (exactly its symmetry, no embeddings) and adds the orbits of a square
hh weight (its transpose and diagonal): :func:`equivariant_terms`.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import torch
from torch import Tensor, nn

from rnn_zoo.encoders.encoder import ACTIVATIONS, Encoder, EncoderConfig, activation_option, mlp
from rnn_zoo.encoders.weight_space import (
    GLOBAL,
    Features,
    WeightLayout,
    edge_key,
    node_key,
    tensor_key,
    tensor_layout,
    to_features,
    weight_layout,
)
from rnn_zoo.member.spec import MemberSpec, Params


def mean(x: Tensor, dim: int) -> Tensor:
    """``x.mean(dim)`` as a sum scaled after: its backward spreads the gradient as a broadcast
    view, where a mean's writes a full-size quotient (a full-size set's worth at every reduction)."""
    return x.sum(dim=dim) * (1 / x.shape[dim])


# A set is laid out channels last, (n, [h, [h,]] c), or channels first, (c, n, [h, [h,]]): the
# functions below take ``u``, the dim of its first unit axis (1 or 2).
def pool(x: Tensor, u: int = 1) -> Tensor:
    """Mean over every unit axis: (n, [h, [h,]] c) -> (n, c) (or (c, n)), the same for any permutation."""
    units = x.dim() - 2
    return mean(x.flatten(u, u + units - 1), dim=u) if units else x


# Reductions of a set that a permutation moves along, and how a result spreads over a target.
REDUCE: dict[str, Callable[[Tensor, int], Tensor]] = {
    "same": lambda x, u: x,
    "transpose": lambda edge, u: edge.transpose(u, u + 1),  # (n, i, j, c) -> (n, j, i, c)
    "row_means": lambda edge, u: mean(edge, dim=u + 1),  # (n, h, c): one per row unit
    "column_means": lambda edge, u: mean(edge, dim=u),  # (n, h, c): one per column unit
    "diagonal": lambda edge, u: edge.diagonal(dim1=u, dim2=u + 1).movedim(-1, u),  # (n, h, c)
    "mean": pool,  # (n, c)
}


EXPAND: dict[str, Callable[[Tensor, int], Tensor]] = {
    "as_is": lambda x, u: x,
    "along_rows": lambda units, u: units.unsqueeze(u + 1),  # (n, h, c) -> (n, h, 1, c), unit = row
    "along_columns": lambda units, u: units.unsqueeze(u),  # (n, h, c) -> (n, 1, h, c), unit = column
    "on_diagonal": lambda units, u: torch.diag_embed(units.movedim(u, -1), dim1=u, dim2=u + 1),
    "to_units": lambda pooled, u: pooled.unsqueeze(u),  # (n, c) -> (n, 1, c)
    "to_pairs": lambda pooled, u: pooled.unsqueeze(u).unsqueeze(u),  # (n, c) -> (n, 1, 1, c)
}

# The widest encoder laid out channels first when it has layers mapping full-size sets to
# full-size sets (all but the first, which reads the gates' few channels, and the last, which
# maps only their means: see EquivariantLayer.pooled). On a CPU, MKL multiplies (N, c) by
# (c, c) at a fraction of its rate when c is small, (c, c) by (c, N) several times faster.
# Forward and backward over 64 members of 2 x 32, 1 thread (benchmarks/dws_layout.py):
# channels last takes 1.5x as long at 8 channels; at 16-48 the two are within noise with 4
# layers (last / first 0.93-1.13), while with 2 layers, whose one full-size layer maps the
# gates' channels, channels first is faster at every width (1.2-1.5 at 16-48).
CHANNELS_FIRST_UP_TO = 16


def lays_out_channels_first(channels: int, layers: int) -> bool:
    """Whether a DWS encoder of ``layers`` layers of ``channels`` lays out its sets channels first."""
    return channels <= CHANNELS_FIRST_UP_TO or layers <= 2


@dataclass(frozen=True)
class Term:
    """target += linear(REDUCE[reduce](source)), spread by EXPAND[expand]."""

    target: str
    source: str
    reduce: str
    expand: str

    @property
    def key(self) -> str:
        return f"{self.target}_from_{self.source}_{self.reduce}_{self.expand}"


def equivariant_terms(layout: WeightLayout) -> list[Term]:
    """Every term of one layer over ``layout``'s feature sets."""
    terms = [Term(GLOBAL, GLOBAL, "same", "as_is")]
    for layer in range(layout.layers):
        node = node_key(layer)
        terms += [Term(node, node, "same", "as_is"), Term(node, node, "mean", "to_units")]
        terms += [Term(node, GLOBAL, "same", "to_units"), Term(GLOBAL, node, "mean", "as_is")]
    for rows, cols in layout.edges:
        terms += _edge_terms(edge_key(rows, cols), node_key(rows), node_key(cols), rows == cols)
    return terms


def _edge_terms(edge: str, row_node: str, column_node: str, square: bool) -> list[Term]:
    terms = [
        Term(edge, edge, "same", "as_is"),
        Term(edge, edge, "row_means", "along_rows"),
        Term(edge, edge, "column_means", "along_columns"),
        Term(edge, edge, "mean", "to_pairs"),
        Term(edge, row_node, "same", "along_rows"),
        Term(edge, column_node, "same", "along_columns"),
        Term(edge, GLOBAL, "same", "to_pairs"),
        Term(row_node, edge, "row_means", "as_is"),
        Term(column_node, edge, "column_means", "as_is"),
        Term(GLOBAL, edge, "mean", "as_is"),
    ]
    if square:  # one permutation acts on both axes: the diagonal and the transpose are its own orbits
        terms += [
            Term(edge, edge, "transpose", "as_is"),
            Term(edge, edge, "diagonal", "along_rows"),
            Term(edge, edge, "diagonal", "along_columns"),
            Term(edge, edge, "diagonal", "on_diagonal"),
            Term(edge, row_node, "same", "on_diagonal"),
            Term(row_node, edge, "diagonal", "as_is"),
        ]
    return terms


def tensor_terms(spec: MemberSpec) -> list[Term]:
    """The maps of the authors' ``NPLinearLSTM`` over :func:`tensor_layout`'s sets.

    Every set reads the mean of every set, and itself; a weight reads, broadcast along its rows
    (columns), what its row (column) units hold in the sets the authors chose; a bias reads what
    its weight's rows read. Layer l's input weight is ``ih(l)``, the head's weight ``ih(L)``.
    """
    layers = spec.num_layers
    ih = [*(f"weight_ih_l{layer}" for layer in range(layers)), "head_weight"]
    ih_bias = [*(f"bias_ih_l{layer}" for layer in range(layers)), "head_bias"]
    hh = [f"weight_hh_l{layer}" for layer in range(layers)]
    hh_bias = [f"bias_hh_l{layer}" for layer in range(layers)]

    def reading(layer: int) -> list[tuple[str, str]]:  # what hh(layer) holds per hidden unit
        return [(hh[layer], "row_means"), (hh_bias[layer], "same"), (hh[layer], "column_means")]

    blocks = []  # (weight, bias, sources per row unit, sources per column unit)
    for layer in range(layers + 1):
        rows = [(ih[layer], "row_means"), (ih_bias[layer], "same")]
        columns = [(ih[layer], "column_means")]
        if layer < layers:
            rows += [*reading(layer), (ih[layer + 1], "column_means")]
        if layer > 0:
            columns += [(ih[layer - 1], "row_means"), (ih_bias[layer - 1], "same"), *reading(layer - 1)]
        blocks.append((ih[layer], ih_bias[layer], rows, columns))
    for layer in range(layers):
        rows = reading(layer) + ([(ih[layer + 1], "column_means")] if layer < layers - 1 else [])
        columns = [*reading(layer)[::-1], (ih[layer], "row_means"), (ih_bias[layer], "same")]
        blocks.append((hh[layer], hh_bias[layer], rows, columns))
    sets = [tensor_key(name) for name in spec.parameter_names]
    terms = []
    for weight, bias, rows, columns in blocks:
        terms += [Term(weight, weight, "same", "as_is")]
        terms += [Term(weight, source, reduce, "along_rows") for source, reduce in rows]
        terms += [Term(weight, source, reduce, "along_columns") for source, reduce in columns]
        terms += [Term(bias, source, reduce, "as_is") for source, reduce in rows]
        terms += [
            Term(target, source, "mean", expand)
            for target, expand in ((weight, "to_pairs"), (bias, "to_units"))
            for source in sets
        ]
    return terms


class EquivariantLayer(nn.Module):
    """Feature sets with ``in_channels`` -> the same sets with ``out_channels`` each.

    Every map into a set is drawn from U(-b, b), b = 1 / sqrt(the summed fan-in of all maps
    into that set), so a set's scale does not grow with the number of its terms. ``positions``
    (feature key -> shape of its unit axes, 1 where permuted) adds a learned embedding, drawn
    from N(0, 1), to the unpermuted unit axes of those sets first.

    The terms that spread alike into one target are one linear map of their inputs concatenated
    along channels, so their weights are held side by side in one parameter (``weight``, keyed
    target and spread; :meth:`term_map` gives one term's slice) and a map's bias, which only a
    set's map of itself has, is a row of its group's ``bias``. The same functions and the same
    AdamW steps as a module per term, in a few large ops instead of hundreds of small ones.

    ``channels_first``: the sets come and go as (c, n, *units) instead of (n, *units, c); the
    parameters are the same either way.
    """

    def __init__(
        self,
        terms: list[Term],
        in_channels: dict[str, int],
        out_channels: int,
        positions: dict[str, tuple[int, ...]],
        channels_first: bool = False,
    ) -> None:
        super().__init__()
        self.terms = terms
        self.channels_first = channels_first
        self.u = 2 if channels_first else 1  # a set's first unit axis
        self.groups: dict[tuple[str, str], list[Term]] = {}
        fan_in: dict[str, int] = {}  # the authors' init: each set's maps share one fan-in
        for term in terms:
            self.groups.setdefault((term.target, term.expand), []).append(term)
            fan_in[term.target] = fan_in.get(term.target, 0) + in_channels[term.source]
        # term -> (its group's key, its columns of the group's weight, its row of the group's bias)
        self.slices: dict[str, tuple[str, slice, int | None]] = {}
        self.weight, self.bias = nn.ParameterDict(), nn.ParameterDict()
        for (target, expand), group in self.groups.items():
            key, width, rows = _group_key(target, expand), 0, 0
            for term in group:
                columns = slice(width, width + in_channels[term.source])
                self.slices[term.key] = (key, columns, rows if term.source == target else None)
                width, rows = columns.stop, rows + (term.source == target)
            bound = fan_in[target] ** -0.5
            self.weight[key] = nn.Parameter(torch.empty(out_channels, width).uniform_(-bound, bound))
            if rows:
                self.bias[key] = nn.Parameter(torch.empty(rows, out_channels).uniform_(-bound, bound))
        self.positions = nn.ParameterDict(
            {key: nn.Parameter(torch.randn(*units, in_channels[key])) for key, units in positions.items()}
        )

    def term_map(self, term: Term) -> tuple[Tensor, Tensor | None]:
        """One term's linear map: its (out, in) weight and its bias (None but for a set's map of itself)."""
        key, columns, row = self.slices[term.key]
        return self.weight[key][:, columns], None if row is None else self.bias[key][row]

    def forward(self, features: Features) -> Features:
        features = self._placed(features)
        reduced: dict[tuple[str, str], Tensor] = {}
        concatenated: dict[tuple[tuple[str, str], ...], Tensor] = {}  # groups that read alike share one
        spreads: dict[str, dict[str, Tensor]] = {}  # target -> expand -> the concatenated inputs
        for (target, expand), terms in self.groups.items():
            sources = tuple((term.source, term.reduce) for term in terms)
            if sources not in concatenated:
                inputs = [self._reduce(features, *source, reduced) for source in sources]
                concatenated[sources] = _concat_channels(inputs, 0 if self.channels_first else -1)
            spreads.setdefault(target, {})[expand] = concatenated[sources]
        return {target: self._update(target, inputs) for target, inputs in spreads.items()}

    def pooled(self, features: Features) -> Features:
        """:func:`pool` of every set :meth:`forward` would return, (n, c) each ((c, n) channels
        first), without forming a full-size set.

        Every map is linear in the channels and every spread copies its values along unit axes
        (or onto a diagonal of zeros), so the mean over a target's units is each map applied to
        the mean over its input's units: that of the set read, or of its diagonal (and a
        diagonal spread's map divided by the diagonal's length). Equal to ``pool`` of
        :meth:`forward` up to float rounding; a last layer needs only this.
        """
        features = self._placed(features)
        reduced: dict[tuple[str, str], Tensor] = {}
        pooled: dict[str, Tensor] = {}
        for (target, expand), terms in self.groups.items():
            inputs = [self._pooled_input(features, term.source, term.reduce, reduced) for term in terms]
            key = _group_key(target, expand)
            x = _concat_channels(inputs, 0 if self.channels_first else -1)
            part = self._linear(x, self.weight[key], bias=self._bias(key, 2))
            if expand == "on_diagonal":
                part = part * (1 / features[target].shape[self.u])
            pooled[target] = part if target not in pooled else pooled[target] + part
        return pooled

    def _pooled_input(
        self, features: Features, source: str, reduce: str, reduced: dict[tuple[str, str], Tensor]
    ) -> Tensor:
        """The mean over the units of REDUCE[reduce](features[source]): that of the set itself,
        but for a diagonal."""
        if reduce == "diagonal":
            return pool(self._reduce(features, source, "diagonal", reduced), self.u)
        return self._reduce(features, source, "mean", reduced)

    def _placed(self, features: Features) -> Features:
        """The sets with the learned embeddings of their unpermuted unit axes added."""
        return {key: x + self._position(key) if key in self.positions else x for key, x in features.items()}

    def _position(self, key: str) -> Tensor:
        position = self.positions[key]  # (*units, c)
        return position.movedim(-1, 0).unsqueeze(1) if self.channels_first else position

    def _reduce(
        self, features: Features, source: str, reduce: str, cache: dict[tuple[str, str], Tensor]
    ) -> Tensor:
        """REDUCE[reduce](features[source]), computed once per layer; each full-size reduction
        costs a full-size tensor in the backward pass, so an edge's mean comes from its row means."""
        if (source, reduce) not in cache:
            if reduce == "mean" and features[source].dim() == 4:
                cache[source, reduce] = pool(self._reduce(features, source, "row_means", cache), self.u)
            else:
                cache[source, reduce] = REDUCE[reduce](features[source], self.u)
        return cache[source, reduce]

    def _update(self, target: str, inputs: dict[str, Tensor]) -> Tensor:
        """The sum of ``target``'s maps: the spread ones (and the bias) added up small first, then
        the map of the full-size inputs added by the matmul itself (addmm), not after it."""
        parts = [self._map(target, expand, x) for expand, x in inputs.items() if expand != "as_is"]
        if "as_is" not in inputs:
            return _sum_smallest_first(parts)
        key, x = _group_key(target, "as_is"), inputs["as_is"]
        bias = self._bias(key, x.dim())
        if bias is not None:
            parts.append(bias)
        return self._linear(x, self.weight[key], add=_sum_smallest_first(parts) if parts else None)

    def _map(self, target: str, expand: str, x: Tensor) -> Tensor:
        key = _group_key(target, expand)
        return EXPAND[expand](self._linear(x, self.weight[key], bias=self._bias(key, 2)), self.u)

    def _linear(
        self, x: Tensor, weight: Tensor, bias: Tensor | None = None, add: Tensor | None = None
    ) -> Tensor:
        """``weight`` applied to ``x``'s channels, plus ``bias`` (:meth:`_bias` of 2 dims) or ``add``
        (broadcast to the result) where given."""
        if self.channels_first:  # (c, n, *units) -> (out, n, *units): weight @ (c, N)
            shape = (weight.shape[0], *x.shape[1:])
            left, right = weight, x.reshape(x.shape[0], -1)
        else:  # (n, *units, c) -> (n, *units, out): (N, c) @ weight^T
            shape = (*x.shape[:-1], weight.shape[0])
            left, right = x.reshape(-1, x.shape[-1]), weight.t()
        if add is not None:
            bias = add.expand(shape).reshape(left.shape[0], right.shape[1])
        product = torch.mm(left, right) if bias is None else torch.addmm(bias, left, right)
        return product.view(shape)

    def _bias(self, key: str, dims: int) -> Tensor | None:
        """A group's bias, the sum of its terms' (None where no term reads its own target), shaped
        to add to a set of ``dims`` dims in this layer's layout: (out,) or (out, 1, ...)."""
        if key not in self.bias:
            return None
        rows, shape = self.bias[key], (-1, *[1] * (dims - 1)) if self.channels_first else (-1,)
        return rows.view(shape) if len(rows) == 1 else rows.sum(0).view(shape)

    def _load_from_state_dict(self, state: dict[str, Tensor], prefix: str, *args: Any, **kwargs: Any) -> None:
        """Load this layer's state, also as saved with a module per term (``maps.<term>.weight``,
        ``.bias``), which the weights and biases of its groups concatenate."""
        self._from_term_maps(state, prefix)
        super()._load_from_state_dict(state, prefix, *args, **kwargs)

    def _from_term_maps(self, state: dict[str, Tensor], prefix: str) -> None:
        if not any(key.startswith(f"{prefix}maps.") for key in state):
            return
        weights = {key: [] for key in self.weight}
        biases = {key: [] for key in self.bias}
        for terms in self.groups.values():
            for term in terms:
                key, _, row = self.slices[term.key]
                weights[key].append(state.pop(f"{prefix}maps.{term.key}.weight"))
                if row is not None:
                    biases[key].append(state.pop(f"{prefix}maps.{term.key}.bias"))
        state.update({f"{prefix}weight.{key}": torch.cat(parts, dim=1) for key, parts in weights.items()})
        state.update({f"{prefix}bias.{key}": torch.stack(parts) for key, parts in biases.items()})


def _group_key(target: str, expand: str) -> str:
    return f"{target}_{expand}"


def _sum_smallest_first(parts: list[Tensor]) -> Tensor:
    """The broadcast sum of ``parts``, the smallest added first: fewer full-size additions."""
    ordered = sorted(parts, key=Tensor.numel)
    total = ordered[0]
    for part in ordered[1:]:
        total = total + part
    return total


def _concat_channels(inputs: list[Tensor], dim: int) -> Tensor:
    """Inputs whose axes but the channels' (``dim``) broadcast -> one, their channels concatenated."""
    if len(inputs) == 1:
        return inputs[0]
    shape = list(torch.broadcast_shapes(*(_one_channel(x.shape, dim) for x in inputs)))
    spread = [(x, _one_channel(shape, dim, x.shape[dim])) for x in inputs]
    return torch.cat([x if list(x.shape) == full else x.expand(full) for x, full in spread], dim=dim)


def _one_channel(shape: Sequence[int], dim: int, channels: int = 1) -> list[int]:
    shape = list(shape)
    shape[dim] = channels
    return shape


@dataclass(frozen=True)
class DwsConfig(EncoderConfig):
    """Feature sets, equivariant depth and channels, MLP widths after pooling, the activation."""

    layers: int = 4
    channels: int = 48
    widths: tuple[int, ...] = (128,)
    activation: str = activation_option("relu")  # between layers and in the MLP
    sets: str = field(default="tensors", metadata={"choices": ("tensors", "axes")})


class DwsEncoder(Encoder):
    """Equivariant layers over the LSTM weight space (gates as channels) -> mean of each set -> MLP."""

    name = "dws"
    config_class = DwsConfig
    invariant = True
    description = "permutation-equivariant layers over the LSTM weight space, pooled, MLP"

    def __init__(self, spec: MemberSpec, config: DwsConfig) -> None:
        super().__init__(spec, config)
        by_tensor = config.sets == "tensors"
        self.layout = tensor_layout(spec) if by_tensor else weight_layout(spec)
        terms = tensor_terms(spec) if by_tensor else equivariant_terms(self.layout)
        c = config.channels
        widths = [self.layout.channels] + [dict.fromkeys(self.layout.channels, c)] * config.layers
        self.channels_first = lays_out_channels_first(c, config.layers)
        self.layers = nn.ModuleList(
            EquivariantLayer(terms, fan_in, c, self.layout.positions, self.channels_first)
            for fan_in in widths[:-1]
        )
        self.activation = ACTIVATIONS[config.activation]()
        pooled = c * len(self.layout.channels)
        self.to_embedding = mlp((pooled, *config.widths, config.embedding_size), config.activation)

    def encode(self, params: Params) -> Tensor:
        features = to_features(params, self.spec, self.layout, self.channels_first)
        for layer in self.layers[:-1]:
            features = {key: self.activation(x) for key, x in layer(features).items()}
        means = self.layers[-1].pooled(features)  # the last layer's sets are only pooled: it maps their means
        if self.channels_first:  # each (c, n)
            pooled = torch.cat([means[key] for key in self.layout.channels]).t()
        else:  # each (n, c)
            pooled = torch.cat([means[key] for key in self.layout.channels], dim=-1)
        return self.to_embedding(pooled)
