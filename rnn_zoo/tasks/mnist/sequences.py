"""Digits as the members read them: 50 steps of 16 inputs, a zero BOS tile then 49 4x4 tiles.

Tiles run row-major over the image, each tile's 16 pixels row-major. Pixels are scaled to
[0, 1] and normalised with MNIST's mean 0.1307 and std 0.3081 (torchvision's ToTensor and
Normalize); the BOS tile is prepended *after* normalisation, so it is exactly zero, as in
the paper's released builder — which also makes it differ from a blank tile (-0.4242).
"""

from __future__ import annotations

import time

import torch
from einops import rearrange

from rnn_zoo.errors import ZooError
from rnn_zoo.tasks.mnist.images import SIDE
from rnn_zoo.tasks.mnist.rotation import check_images, gather_pixels, source_index

TILE = 4  # tiles are TILE x TILE pixels
TILES = (SIDE // TILE) ** 2  # 49
STEPS = TILES + 1  # 50, BOS first
MEAN, STD = 0.1307, 0.3081


def to_sequences(images: torch.Tensor) -> torch.Tensor:
    """images (n, b, 28, 28) uint8 -> (n, b, 50, 16) float32 member inputs."""
    check_images(images, len(images), SIDE)
    # r, c: a tile's row and column; p, q: a pixel's row and column inside its tile
    tiles = rearrange(images, "n b (r p) (c q) -> n b (r c) (p q)", p=TILE, q=TILE)  # (n, b, t - 1, i)
    return normalise_with_bos(tiles)


def normalise_with_bos(tiles: torch.Tensor) -> torch.Tensor:
    """uint8 tiles (n, b, 49, 16) -> float32 (n, b, 50, 16): normalised, zero BOS tile first."""
    if tiles.dtype != torch.uint8:
        raise ZooError(f"MNIST pixels must be uint8 (0-255), not {tiles.dtype}; pass the images as loaded.")
    n, b = tiles.shape[:2]
    sequences = torch.empty((n, b, STEPS, TILE * TILE), device=tiles.device)  # (n, b, t, i)
    sequences[:, :, 0] = 0
    # In place, in torchvision's order of operations: no temporaries, the same float32 values.
    sequences[:, :, 1:].copy_(tiles).div_(255).sub_(MEAN).div_(STD)
    return sequences


def tile_order(side: int = SIDE) -> torch.Tensor:
    """(side*side,) flat pixel index of every tile input, in sequence order (BOS excluded)."""
    pixels = torch.arange(side * side)
    return rearrange(pixels, "(r p c q) -> (r c p q)", p=TILE, c=side // TILE, q=TILE)


class SequenceMaker:
    """Each member's fixed rotation, then tiling and normalisation: one gather per batch.

    ``SequenceMaker(angles)(images)`` equals ``to_sequences(rotate(images, angles))``; the
    rotation's source index is computed once, already in tile order.
    """

    def __init__(self, angles: torch.Tensor, *, device: torch.device | str | None = None) -> None:
        self.index = source_index(angles)[:, tile_order()].to(device)  # (n, 784)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        """images (n, b, 28, 28) uint8 -> (n, b, 50, 16) float32."""
        check_images(images, len(self.index), SIDE)
        n, b = images.shape[:2]
        tiles = gather_pixels(images.reshape(n, b, SIDE * SIDE), self.index)  # (n, b, 784)
        return normalise_with_bos(tiles.reshape(n, b, TILES, TILE * TILE))


def seconds_per_batch(maker: SequenceMaker, images: torch.Tensor, *, repeats: int = 20) -> float:
    """Mean wall time of ``maker(images)`` (rotation and tiling of one batch), after a warm-up."""
    synchronize = torch.cuda.synchronize if images.device.type == "cuda" else (lambda: None)
    maker(images)
    synchronize()
    start = time.perf_counter()
    for _ in range(repeats):
        maker(images)
    synchronize()
    return (time.perf_counter() - start) / repeats
