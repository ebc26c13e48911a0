"""MNIST from a folder of the standard IDX files (as distributed by Yann LeCun), gzipped or not.

Only the training pair is read: the paper splits MNIST's 60,000 training images 80/20 into
train and eval, so the t10k files may be in the folder but are not used.
"""

from __future__ import annotations

import gzip
import os
import zlib
from pathlib import Path

import numpy as np

from rnn_zoo.errors import ZooError
from rnn_zoo.tasks.mnist.images import MnistImages, SourceUnavailable, mnist_images

MNIST_DIR_ENV = "RNN_ZOO_MNIST_DIR"
IMAGES_FILE = "train-images-idx3-ubyte"
LABELS_FILE = "train-labels-idx1-ubyte"
# IDX magic numbers: 0x08 (unsigned byte) in the third byte, the number of dimensions in the fourth.
IMAGES_MAGIC = 0x0803
LABELS_MAGIC = 0x0801


def read_idx(path: Path, magic: int) -> np.ndarray:
    """The uint8 array in IDX file ``path`` (``.gz`` is decompressed); its magic must be ``magic``."""
    raw = _read_bytes(path)
    found = int.from_bytes(raw[:4], "big") if len(raw) >= 4 else None
    if found != magic:
        raise ZooError(
            f"{path} is not an MNIST IDX file (magic number {found}, expected {magic}); "
            "replace it with the original file."
        )
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ZooError(f"{path} is truncated inside its header; replace it with the original file.")
    shape = tuple(int(d) for d in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    expected = header + int(np.prod(shape, dtype=np.int64))
    if len(raw) != expected:
        problem = "truncated" if len(raw) < expected else "longer than its header says"
        raise ZooError(
            f"{path} is {problem} ({len(raw)} bytes, expected {expected} for shape {shape}); "
            "replace it with the original file."
        )
    return np.frombuffer(raw, np.uint8, offset=header).reshape(shape)


def _read_bytes(path: Path) -> bytes:
    """The file's bytes, decompressed when its name ends in ``.gz``."""
    try:
        if path.suffix == ".gz":
            with gzip.open(path, "rb") as handle:
                return handle.read()
        return path.read_bytes()
    except (OSError, EOFError, zlib.error) as error:
        raise ZooError(f"{path} cannot be read ({error}); replace it with the original file.") from error


def find_idx_file(directory: Path, stem: str) -> Path:
    """``directory/stem`` or ``directory/stem.gz``, whichever exists."""
    for name in (stem, f"{stem}.gz"):
        if (directory / name).is_file():
            return directory / name
    raise ZooError(
        f"The MNIST folder {directory} has no {stem} (or {stem}.gz); put MNIST's IDX files there "
        f"or point --mnist-dir / {MNIST_DIR_ENV} to the folder that has them."
    )


def load_idx_mnist(mnist_dir: str | Path | None = None) -> MnistImages:
    """MNIST's training images from ``mnist_dir``, or from the folder in $RNN_ZOO_MNIST_DIR."""
    directory = mnist_dir or os.environ.get(MNIST_DIR_ENV)
    if not directory:
        raise SourceUnavailable(f"no folder given (--mnist-dir or {MNIST_DIR_ENV})")
    directory = Path(directory).expanduser()
    if not directory.is_dir():
        raise ZooError(
            f"The MNIST folder {directory} does not exist; give --mnist-dir / {MNIST_DIR_ENV} "
            "a folder with MNIST's IDX files."
        )
    images_path = find_idx_file(directory, IMAGES_FILE)
    labels_path = find_idx_file(directory, LABELS_FILE)
    images = read_idx(images_path, IMAGES_MAGIC)
    labels = read_idx(labels_path, LABELS_MAGIC)
    if len(images) != len(labels):
        raise ZooError(
            f"{images_path} has {len(images)} images but {labels_path} has {len(labels)} labels; "
            "use the two files of the same MNIST release."
        )
    return mnist_images(images, labels.astype(np.int64), backend="idx", origin=images_path.name)
