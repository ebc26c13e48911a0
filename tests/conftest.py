"""Shared fixtures: small real zoos written through the library's own store."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from rnn_zoo.synthetic import write_synthetic_zoo

SPLIT_RUNS = {"train": 5, "validation": 2, "ood": 2}


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


@pytest.fixture(scope="session")
def one_thread() -> Iterator[None]:
    """Torch on one thread: tiny training tensors gain nothing from a second (busy) core."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
