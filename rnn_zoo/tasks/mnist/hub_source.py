"""MNIST from the Hugging Face Hub: the dataset ``ylecun/mnist`` through ``datasets``.

Without a network, ``datasets`` retries for about 25 s before it gives up or falls back
to its cache. When the Hub's host cannot even be reached, we switch ``datasets`` to
offline mode for this one call instead: a cached copy still loads, a missing one fails
in about a second.
"""

from __future__ import annotations

import socket
import urllib.parse
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

import numpy as np

from rnn_zoo.errors import ZooError, first_line
from rnn_zoo.tasks.mnist.images import MnistImages, SourceUnavailable, mnist_images

if TYPE_CHECKING:
    import datasets

HF_DATASET = "ylecun/mnist"
ORIGIN = f"{HF_DATASET} (train split)"
PROBE_TIMEOUT_S = 3.0


def load_hub_mnist() -> MnistImages:
    """MNIST's 60,000 training images from the Hub (or the ``datasets`` cache)."""
    import datasets

    try:
        with _offline_unless_reachable():
            dataset = datasets.load_dataset(HF_DATASET, split="train")
    except Exception as error:  # any failure to load means: not available from the Hub
        reason = first_line(error, with_type=False)
        raise SourceUnavailable(f"`datasets` could not load {HF_DATASET} ({reason})") from error
    return hub_images(dataset)


def hub_images(dataset: datasets.Dataset) -> MnistImages:
    """Convert a ``datasets.Dataset`` with columns ``image`` (28x28 grey) and ``label``."""
    if not {"image", "label"} <= set(dataset.column_names):
        raise ZooError(
            f"The Hub dataset {HF_DATASET} has columns {dataset.column_names}, not image and label; "
            "provide MNIST as IDX files instead."
        )
    columns = dataset.with_format("numpy")[:]  # decodes every PNG at once
    images = np.asarray(columns["image"])
    return mnist_images(images, np.asarray(columns["label"], np.int64), backend="hf", origin=ORIGIN)


def hub_reachable(url: str, timeout: float = PROBE_TIMEOUT_S) -> bool:
    """Whether a TCP connection to the URL's host opens (always True behind a proxy)."""
    parts = urllib.parse.urlsplit(url)
    if urllib.request.getproxies().get(parts.scheme):
        return True  # the proxy decides; only `datasets` itself can tell
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        socket.create_connection((parts.hostname, port), timeout=timeout).close()
    except OSError:
        return False
    return True


@contextmanager
def _offline_unless_reachable() -> Iterator[None]:
    """Hub offline mode for the ``datasets`` call inside, if the Hub cannot be reached."""
    import datasets.config
    import huggingface_hub.constants as hub_constants

    if datasets.config.HF_HUB_OFFLINE or hub_reachable(hub_constants.ENDPOINT):
        yield
        return
    saved = datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE
    datasets.config.HF_HUB_OFFLINE = hub_constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, hub_constants.HF_HUB_OFFLINE = saved
