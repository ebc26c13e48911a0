"""Shared fixtures: random batched members, a symmetry-breaking edit, a tiny real zoo."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from rnn_zoo import load_weights
from rnn_zoo.load import ZooWeights
from rnn_zoo.lstm import MemberSpec
from rnn_zoo.synthetic import write_synthetic_zoo

Params = dict[str, torch.Tensor]


def random_params(spec: MemberSpec, n: int, seed: int = 0) -> Params:
    """n members of ``spec`` with normal weights of scale 0.5."""
    generator = torch.Generator().manual_seed(seed)
    return {
        name: 0.5 * torch.randn((n, *shape), generator=generator)
        for name, shape in spec.parameter_shapes().items()
    }


def shuffle_input_gate_rows(params: Params, spec: MemberSpec) -> Params:
    """Roll only the input-gate rows of layer 0's input weights: not a symmetry of the member."""
    h = spec.hidden_size
    weight = params["lstm.weight_ih_l0"].clone()
    weight[:, :h] = weight[:, :h].roll(1, dims=1)
    return {**params, "lstm.weight_ih_l0": weight}


@pytest.fixture
def make_params() -> Callable[..., Params]:
    return random_params


@pytest.fixture
def break_symmetry() -> Callable[[Params, MemberSpec], Params]:
    return shuffle_input_gate_rows


@pytest.fixture(scope="session")
def tiny_zoo_weights(tmp_path_factory: pytest.TempPathFactory) -> ZooWeights:
    """The train split of a finished synthetic zoo of paper-sized members: 2 runs x 2 snapshots."""
    root = tmp_path_factory.mktemp("zoo") / "tiny"
    write_synthetic_zoo(root, {"train": 2, "validation": 1}, steps=(0, 100))
    return load_weights(root, "train")
