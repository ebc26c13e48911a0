"""The train/eval split: 80/20, by a real hash of the index, independent of the image count."""

from __future__ import annotations

import hashlib
import math

import numpy as np
import pytest

from rnn_zoo.tasks.mnist import eval_mask, split_indices

MNIST_TRAIN = 60_000


def within_binomial(hits: int, trials: int, p: float = 0.2, sigmas: float = 5.0) -> bool:
    """Whether ``hits`` of ``trials`` is within ``sigmas`` standard deviations of ``p * trials``."""
    return abs(hits - p * trials) <= sigmas * math.sqrt(trials * p * (1 - p))


def test_one_in_five_is_eval() -> None:
    assert within_binomial(int(eval_mask(MNIST_TRAIN).sum()), MNIST_TRAIN)


@pytest.mark.parametrize("period", [2, 5, 10, 28, 1000])
def test_no_pattern_in_the_index(period) -> None:
    """Every residue class of the index is split 80/20 too: not ``index % 5 == 0`` in disguise."""
    mask = eval_mask(MNIST_TRAIN)
    for residue in range(min(period, 20)):
        chosen = mask[residue::period]
        assert within_binomial(int(chosen.sum()), len(chosen)), (period, residue)


def test_blocks_of_images_are_split_alike() -> None:
    for block in eval_mask(MNIST_TRAIN).reshape(10, -1):
        assert within_binomial(int(block.sum()), len(block))


@pytest.mark.parametrize("count", [1, 17, 10_000])
def test_an_index_keeps_its_side_whatever_the_count(count) -> None:
    assert np.array_equal(eval_mask(count), eval_mask(MNIST_TRAIN)[:count])


def test_the_documented_hash_decides() -> None:
    """Image i is eval iff BLAKE2b-64 (person "rnn-zoo mnist") of i as 8 little-endian bytes is 0 mod 5."""
    mask = eval_mask(300)
    for index in range(300):
        digest = hashlib.blake2b(index.to_bytes(8, "little"), digest_size=8, person=b"rnn-zoo mnist").digest()
        assert mask[index] == (int.from_bytes(digest, "little") % 5 == 0)


def test_split_indices_partition_the_images() -> None:
    train, eval_ = split_indices(1000)
    assert train.dtype == eval_.dtype == np.int64
    assert np.array_equal(np.sort(np.concatenate([train, eval_])), np.arange(1000))
    assert np.all(np.diff(train) > 0) and np.all(np.diff(eval_) > 0)
