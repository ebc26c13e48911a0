"""The weight-space layout that DWS works on, checked against hand indexing."""

from __future__ import annotations

from collections.abc import Callable

from rnn_zoo.encoders.weight_space import tensor_layout, to_features, weight_layout
from rnn_zoo.member.spec import MemberSpec

SPEC = MemberSpec(2, 3, 2, 5)


def test_layout_channels_follow_the_member() -> None:
    layout = weight_layout(SPEC)
    # node0: 4 gates x 2 inputs + 2 biases x 4 gates; node1: 2 x 4 bias channels + 5 head rows
    assert layout.channels == {
        "node0": 16,
        "edge0_0": 4,
        "edge1_0": 4,
        "node1": 13,
        "edge1_1": 4,
        "global": 5,
    }
    assert set(layout.edges) == {(0, 0), (1, 0), (1, 1)}


def test_features_hold_each_weight_at_its_unit(make_params: Callable) -> None:
    params = make_params(SPEC, 2)
    features = to_features(params, SPEC, weight_layout(SPEC))
    h = SPEC.hidden_size
    assert features["node0"].shape == (2, h, 16)
    assert features["edge1_0"].shape == (2, h, h, 4)
    for gate in range(4):
        for j in range(h):
            row = gate * h + j
            assert features["node0"][1, j, 2 * gate + 1] == params["lstm.weight_ih_l0"][1, row, 1]
            assert features["node0"][1, j, 8 + gate] == params["lstm.bias_ih_l0"][1, row]
            assert features["edge1_0"][1, j, 2, gate] == params["lstm.weight_ih_l1"][1, row, 2]
            assert features["edge1_1"][0, j, 1, gate] == params["lstm.weight_hh_l1"][0, row, 1]
    assert features["node1"][0, 2, 8 + 4] == params["head.weight"][0, 4, 2]
    assert (features["global"] == params["head.bias"]).all()


def test_tensor_layout_has_a_set_per_tensor_with_gates_as_channels(make_params: Callable) -> None:
    layout = tensor_layout(SPEC)
    assert layout.channels == {
        "weight_ih_l0": 4,
        "weight_hh_l0": 4,
        "bias_ih_l0": 4,
        "bias_hh_l0": 4,
        "weight_ih_l1": 4,
        "weight_hh_l1": 4,
        "bias_ih_l1": 4,
        "bias_hh_l1": 4,
        "head_weight": 1,
        "head_bias": 1,
    }
    # the member's inputs and outputs are unit axes, told apart by learned embeddings
    assert layout.positions == {"weight_ih_l0": (1, 2), "head_weight": (5, 1), "head_bias": (5,)}
    params = make_params(SPEC, 2)
    features = to_features(params, SPEC, layout)
    h = SPEC.hidden_size
    assert features["weight_ih_l0"].shape == (2, h, 2, 4)
    assert features["head_weight"].shape == (2, 5, h, 1)
    for gate in range(4):
        for j in range(h):
            assert features["weight_ih_l0"][1, j, 1, gate] == params["lstm.weight_ih_l0"][1, gate * h + j, 1]
    assert features["head_weight"][0, 4, 2, 0] == params["head.weight"][0, 4, 2]
    assert features["head_bias"][1, 3, 0] == params["head.bias"][1, 3]
