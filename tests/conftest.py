"""Shared fixtures: small real zoos written through the library's own store, random batched
members, and a symmetry-breaking edit."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
import torch

from rnn_zoo import load_weights
from rnn_zoo.load import ZooWeights
from rnn_zoo.lstm import MemberSpec
from rnn_zoo.synthetic import write_synthetic_zoo

SPLIT_RUNS = {"train": 5, "validation": 2, "ood": 2}
Params = dict[str, torch.Tensor]


@pytest.fixture(scope="session")
def zoo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished zoo of random members (train in 3 shards); read-only, shared by tests."""
    root = tmp_path_factory.mktemp("zoo") / "synthetic"
    write_synthetic_zoo(root, SPLIT_RUNS, steps=(0, 100), rows_per_shard=4, seed=0)
    return root


@pytest.fixture
def zoo_copy(zoo_dir: Path, tmp_path: Path) -> Path:
    """A private copy of ``zoo_dir`` that a test may damage."""
    return Path(shutil.copytree(zoo_dir, tmp_path / "zoo"))


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
def tiny_zoo_weights(zoo_dir: Path) -> ZooWeights:
    """The train split of the shared synthetic zoo of paper-sized members."""
    return load_weights(zoo_dir, "train")
