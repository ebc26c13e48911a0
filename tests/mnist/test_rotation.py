"""Per-member rotation against Pillow's ``Image.rotate(angle, resample=NEAREST)`` on real digits."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from rnn_zoo.errors import ZooError
from rnn_zoo.tasks.mnist import rotate

RIGHT_ANGLES = [0.0, 90.0, 180.0, 270.0]
OTHER_ANGLES = [17.0, 45.0, 123.4, 300.0, 359.9, 0.3, -30.0, 720.5]


def pillow_rotate(image: torch.Tensor, angle: float) -> np.ndarray:
    """The reference: what torchvision's RandomRotation([angle, angle]) does to a PIL image."""
    return np.asarray(Image.fromarray(image.numpy()).rotate(angle, resample=Image.NEAREST, fillcolor=0))


def assert_matches_pillow(rotated: torch.Tensor, images: torch.Tensor, angles: torch.Tensor) -> None:
    """Every member's rotated images (n, b, 28, 28) equal Pillow's, pixel for pixel."""
    for member, angle in enumerate(angles.tolist()):
        for k, image in enumerate(images[member]):
            expected = pillow_rotate(image, angle)
            differing = int((rotated[member, k].numpy() != expected).sum())
            assert differing == 0, f"angle {angle}, image {k}: {differing} pixels differ"


@pytest.mark.parametrize("angle", RIGHT_ANGLES + OTHER_ANGLES)
def test_one_angle_matches_pillow(real_digits, angle) -> None:
    # Pillow's sampler is emulated exactly, so even off right angles no pixel may differ
    # (the tolerance torchvision users would accept is a few boundary pixels).
    images = real_digits[0][None, :16]  # (1, b, 28, 28)
    angles = torch.tensor([angle])
    assert_matches_pillow(rotate(images, angles), images, angles)


def test_every_member_gets_its_own_angle(real_digits) -> None:
    generator = torch.Generator().manual_seed(4)
    angles = torch.rand(12, generator=generator) * 360  # float32, as torchvision draws them
    pick = torch.randint(0, len(real_digits[0]), (12, 4), generator=generator)
    images = real_digits[0][pick]  # (n, b, 28, 28)
    assert_matches_pillow(rotate(images, angles), images, angles)


def test_noise_matches_pillow_without_real_digits() -> None:
    """Every pixel differs from its neighbours here, so any misplaced source pixel shows."""
    generator = torch.Generator().manual_seed(5)
    images = torch.randint(0, 256, (6, 3, 28, 28), dtype=torch.uint8, generator=generator)
    angles = torch.tensor([90.0, 270.0, 11.0, 135.5, 222.2, 333.0])
    assert_matches_pillow(rotate(images, angles), images, angles)


def test_rotation_is_counter_clockwise() -> None:
    image = torch.zeros(1, 1, 28, 28, dtype=torch.uint8)
    image[0, 0, 4, 14] = 255  # above the centre (14, 14)
    rotated = rotate(image, torch.tensor([90.0]))
    # A quarter turn counter-clockwise takes (x 14.5, y 4.5) to (x 4.5, y 13.5): left of the centre.
    assert torch.nonzero(rotated[0, 0]).tolist() == [[13, 4]]


def test_outside_is_filled_with_zero() -> None:
    white = torch.full((1, 1, 28, 28), 255, dtype=torch.uint8)
    rotated = rotate(white, torch.tensor([45.0]))[0, 0]
    assert rotated[0, 0] == rotated[0, 27] == rotated[27, 0] == rotated[27, 27] == 0
    assert torch.all(rotated[10:18, 10:18] == 255)


def test_float_images_rotate_like_bytes(real_digits) -> None:
    images = real_digits[0][None, :8]
    angles = torch.tensor([33.3])
    assert torch.equal(rotate(images.float() / 255, angles), rotate(images, angles).float() / 255)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA device")
def test_gpu_rotation_equals_cpu(real_digits) -> None:
    images = real_digits[0].reshape(8, 8, 28, 28)
    angles = torch.linspace(0, 350, 8)
    assert torch.equal(rotate(images.cuda(), angles).cpu(), rotate(images, angles))


@pytest.mark.parametrize(
    ("shape", "angles"),
    [((2, 3, 28, 28), torch.zeros(3)), ((2, 28, 28), torch.zeros(2)), ((2, 3, 28, 27), torch.zeros(2))],
)
def test_shapes_that_do_not_fit_are_refused(shape, angles) -> None:
    with pytest.raises(ZooError, match="do not fit"):
        rotate(torch.zeros(shape, dtype=torch.uint8), angles)


def test_angles_must_be_one_per_member() -> None:
    with pytest.raises(ZooError, match=r"must have shape \(n,\)"):
        rotate(torch.zeros(1, 1, 28, 28, dtype=torch.uint8), torch.zeros(1, 1))
