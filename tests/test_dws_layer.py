"""A DWS layer computes, for every term, target += linear(reduce(source)) spread along the target."""

from __future__ import annotations

import pytest
import torch

from rnn_zoo import encoders
from rnn_zoo.encoders.dws import EXPAND, REDUCE
from rnn_zoo.encoders.weight_space import to_features
from rnn_zoo.member.spec import MemberSpec


def make_term_by_term(layer, features):
    """The layer's definition, one term at a time, positions added first."""
    features = {key: x + layer.positions[key] if key in layer.positions else x for key, x in features.items()}
    out = {}
    for term in layer.terms:
        spread = EXPAND[term.expand](layer.maps[term.key](REDUCE[term.reduce](features[term.source])))
        out[term.target] = spread if term.target not in out else out[term.target] + spread
    return out


@pytest.mark.parametrize("sets", ["tensors", "axes"])
def test_dws_layers_compute_every_term_of_their_definition(sets: str, make_params) -> None:
    spec = MemberSpec(3, 5, 2, 4)
    encoder = encoders.build("dws", spec, sets=sets, layers=2, channels=6)
    features = to_features(make_params(spec, 3), spec, encoder.layout)
    for layer in encoder.layers:
        expected, got = make_term_by_term(layer, features), layer(features)
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
