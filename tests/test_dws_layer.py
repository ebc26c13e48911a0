"""A DWS layer computes, for every term, target += linear(reduce(source)) spread along the target."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from rnn_zoo import encoders
from rnn_zoo.encoders.dws import EXPAND, REDUCE
from rnn_zoo.encoders.weight_space import to_features
from rnn_zoo.member.spec import MemberSpec


def make_term_by_term(layer, features):
    """The layer's definition, one term at a time, positions added first; channels last."""
    features = {key: x + layer.positions[key] if key in layer.positions else x for key, x in features.items()}
    out = {}
    for term in layer.terms:
        weight, bias = layer.term_map(term)
        spread = EXPAND[term.expand](
            nn.functional.linear(REDUCE[term.reduce](features[term.source], 1), weight, bias), 1
        )
        out[term.target] = spread if term.target not in out else out[term.target] + spread
    return out


def run_channels_last(layer, features):
    """``layer`` on channels-last sets, whichever layout it computes in."""
    if not layer.channels_first:
        return layer(features)
    got = layer({key: x.movedim(-1, 0) for key, x in features.items()})
    return {key: x.movedim(0, -1) for key, x in got.items()}


# laid out channels first (c, n, *units): 6 channels, or 40 in 2 layers; channels last
# (n, *units, c): 40 channels in 3 layers
LAYOUTS = [(6, 2, True), (40, 2, True), (40, 3, False)]


@pytest.mark.parametrize(("channels", "layers", "channels_first"), LAYOUTS)
@pytest.mark.parametrize("sets", ["tensors", "axes"])
def test_dws_layers_compute_every_term_of_their_definition(
    sets: str, channels: int, layers: int, channels_first: bool, make_params
) -> None:
    spec = MemberSpec(3, 5, 2, 4)
    encoder = encoders.build("dws", spec, sets=sets, layers=layers, channels=channels).double()
    assert [layer.channels_first for layer in encoder.layers] == [channels_first] * layers
    params = {key: value.double() for key, value in make_params(spec, 3).items()}
    features = to_features(params, spec, encoder.layout)
    for layer in encoder.layers:
        expected, got = make_term_by_term(layer, features), run_channels_last(layer, features)
        assert got.keys() == expected.keys()
        for key in expected:
            torch.testing.assert_close(got[key], expected[key].expand_as(got[key]))
        parameters = list(layer.parameters())
        grads, expected_grads = (
            torch.autograd.grad(sum(x.square().sum() for x in out.values()), parameters, allow_unused=True)
            for out in (got, expected)
        )
        for grad, expected_grad in zip(grads, expected_grads, strict=True):
            torch.testing.assert_close(grad, expected_grad)
        features = {key: torch.relu(x.detach()) for key, x in got.items()}


@pytest.mark.parametrize("sets", ["tensors", "axes"])
def test_dws_layers_load_a_state_saved_with_a_module_per_term(sets: str, make_params) -> None:
    spec = MemberSpec(3, 5, 2, 4)
    encoder = encoders.build("dws", spec, sets=sets, layers=1, channels=6)
    layer = encoder.layers[0]
    generator = torch.Generator().manual_seed(0)
    maps = {}  # the earlier layout: one nn.Linear per term, biased where the term reads its target
    for term in layer.terms:
        fan_in = layer.term_map(term)[0].shape[1]
        maps[term.key] = nn.Linear(fan_in, 6, bias=term.source == term.target)
        for parameter in maps[term.key].parameters():
            parameter.data = torch.randn(parameter.shape, generator=generator)
    saved = {
        f"maps.{key}.{name}": value
        for key, linear in maps.items()
        for name, value in linear.state_dict().items()
    }
    saved |= {f"positions.{key}": value for key, value in layer.positions.state_dict().items()}
    layer.load_state_dict(saved)
    features = to_features(make_params(spec, 3), spec, encoder.layout)
    placed = {key: x + layer.positions[key] if key in layer.positions else x for key, x in features.items()}
    expected = {}
    for term in layer.terms:
        spread = EXPAND[term.expand](maps[term.key](REDUCE[term.reduce](placed[term.source], 1)), 1)
        expected[term.target] = spread if term.target not in expected else expected[term.target] + spread
    got = run_channels_last(layer, features)
    for key, value in expected.items():
        torch.testing.assert_close(got[key], value.expand_as(got[key]), atol=1e-4, rtol=1e-4)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize(("channels", "layers", "channels_first"), LAYOUTS)
@pytest.mark.parametrize("sets", ["tensors", "axes"])
def test_dws_embeds_the_mean_of_each_set_after_its_layers_in_either_layout(
    sets: str, channels: int, layers: int, channels_first: bool, cell: str, make_params
) -> None:
    # float64, so that the two orders of summation (the encoder maps its last layer's means,
    # the definition averages that layer's full-size sets) agree to 1e-10
    spec = MemberSpec(3, 5, 2, 4, cell=cell)
    encoder = encoders.build("dws", spec, sets=sets, layers=layers, channels=channels, widths=(16,)).double()
    assert encoder.channels_first == channels_first
    params = {key: value.double() for key, value in make_params(spec, 3).items()}
    features = to_features(params, spec, encoder.layout)
    for index, layer in enumerate(encoder.layers):
        features = make_term_by_term(layer, features)
        if index < len(encoder.layers) - 1:
            features = {key: torch.relu(x) for key, x in features.items()}
    # each set's mean over its unit axes, (n, c), in the layout's order of sets
    pooled = [
        features[key].flatten(1, -2).mean(1) if features[key].dim() > 2 else features[key]
        for key in encoder.layout.channels
    ]
    expected = encoder.to_embedding(torch.cat(pooled, dim=1))
    got = encoder(params)
    torch.testing.assert_close(got, expected, atol=1e-10, rtol=1e-10)
    parameters = list(encoder.parameters())
    weights = torch.randn(got.shape, dtype=torch.float64)  # a loss that weighs each output differently
    grads, expected_grads = (
        torch.autograd.grad((out * weights).sum(), parameters, allow_unused=True) for out in (got, expected)
    )
    for grad, expected_grad in zip(grads, expected_grads, strict=True):
        torch.testing.assert_close(grad, expected_grad, atol=1e-10, rtol=1e-10)
