"""MNIST from a folder of IDX files: real digits round-trip; damaged files get one clear error."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import pytest
import torch

from rnn_zoo.errors import ZooError
from rnn_zoo.tasks.mnist import load_mnist

IMAGES, LABELS = "train-images-idx3-ubyte", "train-labels-idx1-ubyte"


def make_idx(array: np.ndarray, magic: int) -> bytes:
    """An IDX file as LeCun's page describes it: big-endian magic, then dimensions, then bytes."""
    return struct.pack(f">I{array.ndim}I", magic, *array.shape) + array.astype(np.uint8).tobytes()


def write_mnist(folder: Path, images: np.ndarray, labels: np.ndarray, *, gz: bool = False) -> Path:
    """The two training files in ``folder``, gzipped when ``gz``."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, raw in ((IMAGES, make_idx(images, 2051)), (LABELS, make_idx(labels, 2049))):
        (folder / (name + ".gz" if gz else name)).write_bytes(gzip.compress(raw) if gz else raw)
    return folder


@pytest.fixture
def small_mnist() -> tuple[np.ndarray, np.ndarray]:
    """Made-up digits, for the error cases that do not need real ones."""
    rng = np.random.default_rng(1)
    return rng.integers(0, 256, (6, 28, 28), dtype=np.uint8), np.arange(6, dtype=np.uint8)


@pytest.mark.parametrize("gz", [False, True], ids=["plain", "gzipped"])
def test_real_digits_round_trip(real_digits, tmp_path, gz) -> None:
    images, labels = (t.numpy() for t in real_digits)
    mnist = load_mnist("idx", write_mnist(tmp_path, images, labels, gz=gz))
    assert np.array_equal(mnist.images.numpy(), images)
    assert mnist.labels.dtype == torch.int64
    assert mnist.labels.tolist() == labels.tolist()
    assert (mnist.source.backend, mnist.source.images) == ("idx", len(images))
    assert mnist.source.origin == IMAGES + (".gz" if gz else "")


def test_folder_from_environment(small_mnist, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("RNN_ZOO_MNIST_DIR", str(write_mnist(tmp_path / "mnist", *small_mnist)))
    assert load_mnist("idx").labels.tolist() == list(range(6))


def test_test_set_files_are_not_needed_nor_read(small_mnist, tmp_path) -> None:
    folder = write_mnist(tmp_path, *small_mnist)
    (folder / "t10k-images-idx3-ubyte").write_bytes(b"not read")
    assert len(load_mnist("idx", folder)) == 6


def test_swapped_files_name_the_wrong_magic(small_mnist, tmp_path) -> None:
    folder = write_mnist(tmp_path, *small_mnist)
    (folder / IMAGES).write_bytes(make_idx(small_mnist[1], 2049))
    with pytest.raises(
        ZooError, match=rf"{IMAGES} is not an MNIST IDX file \(magic number 2049, expected 2051\)"
    ):
        load_mnist("idx", folder)


@pytest.mark.parametrize("cut", [1, 784, 800])
def test_truncated_file_is_named(small_mnist, tmp_path, cut) -> None:
    folder = write_mnist(tmp_path, *small_mnist)
    raw = (folder / IMAGES).read_bytes()
    (folder / IMAGES).write_bytes(raw[:-cut])
    with pytest.raises(ZooError, match=rf"{IMAGES} is truncated"):
        load_mnist("idx", folder)


def test_truncated_gzip_is_named(small_mnist, tmp_path) -> None:
    folder = write_mnist(tmp_path, *small_mnist, gz=True)
    raw = (folder / f"{LABELS}.gz").read_bytes()
    (folder / f"{LABELS}.gz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ZooError, match=rf"{LABELS}.gz cannot be read"):
        load_mnist("idx", folder)


def test_label_count_must_match(small_mnist, tmp_path) -> None:
    images, labels = small_mnist
    with pytest.raises(ZooError, match="has 6 images but .* has 5 labels"):
        load_mnist("idx", write_mnist(tmp_path, images, labels[:5]))


def test_labels_must_be_digits(small_mnist, tmp_path) -> None:
    images, labels = small_mnist
    labels[0] = 10
    with pytest.raises(ZooError, match="labels outside 0-9"):
        load_mnist("idx", write_mnist(tmp_path, images, labels))


def test_missing_file_is_named(small_mnist, tmp_path) -> None:
    folder = write_mnist(tmp_path, *small_mnist)
    (folder / LABELS).unlink()
    with pytest.raises(ZooError, match=f"has no {LABELS} \\(or {LABELS}.gz\\)"):
        load_mnist("idx", folder)


def test_missing_folder_is_named(tmp_path) -> None:
    with pytest.raises(ZooError, match="nowhere does not exist"):
        load_mnist("idx", tmp_path / "nowhere")


def test_no_folder_given(monkeypatch) -> None:
    monkeypatch.delenv("RNN_ZOO_MNIST_DIR", raising=False)
    with pytest.raises(ZooError, match="no folder given.*set RNN_ZOO_MNIST_DIR"):
        load_mnist("idx")
