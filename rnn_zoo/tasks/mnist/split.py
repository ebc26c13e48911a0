"""The train/eval split of MNIST images: 80/20 by a hash of each image's index, fixed forever.

Image i is an eval image when the BLAKE2b hash of i (8 bytes, little-endian) is divisible
by 5. Its side depends on i alone: never on how many images a source has, on a seed, or on
the library's version. The split is part of every MNIST zoo: do not change it.
"""

from __future__ import annotations

import hashlib

import numpy as np

_PERSONALISATION = b"rnn-zoo mnist"  # a hash of its own, unrelated to any other use of BLAKE2b
EVAL_EVERY = 5  # one image in five is an eval image


def eval_mask(count: int) -> np.ndarray:
    """(count,) bool: True where image ``index`` is an eval image."""
    digests = b"".join(
        hashlib.blake2b(index.to_bytes(8, "little"), digest_size=8, person=_PERSONALISATION).digest()
        for index in range(count)
    )
    return np.frombuffer(digests, "<u8") % EVAL_EVERY == 0


def split_indices(count: int) -> tuple[np.ndarray, np.ndarray]:
    """Indices (int64, ascending) of the train images and of the eval images among ``count``."""
    is_eval = eval_mask(count)
    return np.flatnonzero(~is_eval).astype(np.int64), np.flatnonzero(is_eval).astype(np.int64)
