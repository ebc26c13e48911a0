"""Tiling: a zero BOS tile, then 49 row-major 4x4 tiles, normalised with (0.1307, 0.3081)."""

from __future__ import annotations

import math

import pytest
import torch

from rnn_zoo.errors import ZooError
from rnn_zoo.tasks.mnist import SequenceMaker, rotate, seconds_per_batch, to_sequences


def normalised(byte: int) -> float:
    """torchvision's ToTensor then Normalize((0.1307,), (0.3081,)) of one pixel."""
    return (byte / 255 - 0.1307) / 0.3081


def position_images() -> torch.Tensor:
    """(1, 2, 28, 28): image 0 holds each pixel's row, image 1 its column."""
    rows = torch.arange(28).repeat_interleave(28).reshape(28, 28)
    return torch.stack([rows, rows.T]).to(torch.uint8)[None]


def test_tiles_follow_the_image_row_major() -> None:
    sequences = to_sequences(position_images())
    assert sequences.shape == (1, 2, 50, 16) and sequences.dtype == torch.float32
    for step in range(1, 50):
        tile_row, tile_col = divmod(step - 1, 7)
        for pixel in range(16):
            pixel_row, pixel_col = divmod(pixel, 4)
            row, col = 4 * tile_row + pixel_row, 4 * tile_col + pixel_col
            assert sequences[0, 0, step, pixel].item() == pytest.approx(normalised(row), abs=1e-6)
            assert sequences[0, 1, step, pixel].item() == pytest.approx(normalised(col), abs=1e-6)


def test_hand_picked_steps() -> None:
    sequences = to_sequences(position_images())
    # Step 9 is tile 8: second tile row, second tile column; its last pixel is image pixel (7, 7).
    assert sequences[0, 0, 9, 15].item() == pytest.approx((7 / 255 - 0.1307) / 0.3081, abs=1e-6)
    # Step 7 is the last tile of the first tile row; its pixel 4 is image pixel (1, 24).
    assert sequences[0, 1, 7, 4].item() == pytest.approx((24 / 255 - 0.1307) / 0.3081, abs=1e-6)


def test_bos_tile_is_zero_after_normalisation() -> None:
    blank = to_sequences(torch.zeros(1, 1, 28, 28, dtype=torch.uint8))[0, 0]
    assert torch.all(blank[0] == 0)
    assert torch.allclose(blank[1:], torch.tensor(-0.1307 / 0.3081))  # a blank tile is not BOS
    white = to_sequences(torch.full((1, 1, 28, 28), 255, dtype=torch.uint8))[0, 0]
    assert white[1:].flatten().tolist() == pytest.approx([0.8693 / 0.3081] * 784, abs=1e-6)


def test_values_equal_torchvision_arithmetic() -> None:
    """ToTensor (float, / 255) then Normalize (float32 mean and std tensors), for every byte."""
    constant = torch.arange(256, dtype=torch.uint8)[:, None, None].expand(256, 28, 28)  # image v is all v
    expected = torch.arange(256).float().div(255).sub_(torch.tensor([0.1307])).div_(torch.tensor([0.3081]))
    assert torch.equal(to_sequences(constant[None])[0, :, 1:], expected[:, None, None].expand(256, 49, 16))


def test_maker_is_rotation_then_tiling(real_digits) -> None:
    generator = torch.Generator().manual_seed(7)
    angles = torch.rand(6, generator=generator) * 360
    images = real_digits[0][torch.randint(0, 64, (6, 5), generator=generator)]  # (n, b, 28, 28)
    made = SequenceMaker(angles)(images)
    assert torch.equal(made, to_sequences(rotate(images, angles)))


def test_maker_checks_the_member_count() -> None:
    with pytest.raises(ZooError, match="do not fit 3 members"):
        SequenceMaker(torch.zeros(3))(torch.zeros(2, 1, 28, 28, dtype=torch.uint8))


@pytest.mark.parametrize("shape", [(1, 1, 32, 32), (1, 1, 28, 14)])
def test_only_mnist_sized_images_are_tiled(shape) -> None:
    with pytest.raises(ZooError, match=r"pass \(n members, b images, 28, 28\)"):
        to_sequences(torch.zeros(shape, dtype=torch.uint8))


def test_pixels_must_be_bytes() -> None:
    with pytest.raises(ZooError, match="must be uint8"):
        to_sequences(torch.zeros(1, 1, 28, 28))


def test_seconds_per_batch_is_a_time() -> None:
    maker = SequenceMaker(torch.tensor([10.0, 20.0]))
    seconds = seconds_per_batch(maker, torch.zeros(2, 32, 28, 28, dtype=torch.uint8), repeats=3)
    assert math.isfinite(seconds) and 0 < seconds < 5
