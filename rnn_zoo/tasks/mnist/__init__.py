"""Sequential MNIST data: where the digits come from, their fixed split, rotation and tiling.

A builder loads the digits once (``load_mnist``: images (N, 28, 28) uint8, labels, and a
``MnistSource`` record for zoo.json and the card), splits them with ``split_indices``
(80/20 by a hash of the image index), keeps them on its device, and turns each batch of
member images (n, b, 28, 28) into member inputs (n, b, 50, 16) with a ``SequenceMaker``
built once from the members' angles (n,).
"""

from rnn_zoo.tasks.mnist.images import MnistImages, MnistSource
from rnn_zoo.tasks.mnist.rotation import rotate, source_index
from rnn_zoo.tasks.mnist.sequences import MEAN, STD, STEPS, SequenceMaker, seconds_per_batch, to_sequences
from rnn_zoo.tasks.mnist.sources import SOURCES, load_mnist
from rnn_zoo.tasks.mnist.split import eval_mask, split_indices

__all__ = [
    "MEAN",
    "SOURCES",
    "STD",
    "STEPS",
    "MnistImages",
    "MnistSource",
    "SequenceMaker",
    "eval_mask",
    "load_mnist",
    "rotate",
    "seconds_per_batch",
    "source_index",
    "split_indices",
    "to_sequences",
]
