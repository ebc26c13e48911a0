"""Per-member rotation of image batches, equal to Pillow's ``Image.rotate(angle, NEAREST)``.

torchvision's ``RandomRotation([a, a])`` on a PIL image (the paper's builder) draws the
angle as a float32 and calls ``Image.rotate(a, NEAREST, fillcolor=0)``: counter-clockwise
about the centre (w/2, h/2), nearest neighbour, zero fill. Pillow maps every output pixel
(x, y) back to the source point M (x + 0.5, y + 0.5) with an inverse affine matrix M whose
entries it rounds to 15 decimals, in 16.16 fixed point, and copies the source pixel whose
floor that point is (or 0 outside). We build the same integer source index once per member
in Python integers, so the map equals Pillow's pixel for pixel at every angle, and rotate
every batch with one gather on the images' device.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from rnn_zoo.errors import ZooError
from rnn_zoo.tasks.mnist.images import SIDE

_ONE = 1 << 16  # 1.0 in 16.16 fixed point


def _fixed(value: float) -> int:
    """Pillow's FIX(): to 16.16 fixed point, rounding half up."""
    return math.floor(value * _ONE + 0.5)


def pillow_affine(angle: float, side: int = SIDE) -> tuple[int, int, int, int, int, int]:
    """Fixed-point (a0..a5) of ``rotate(angle)``: source = (a0 x + a1 y + a2, a3 x + a4 y + a5)."""
    theta = -math.radians(angle % 360.0)
    cos, sin = round(math.cos(theta), 15), round(math.sin(theta), 15)
    centre = side / 2
    # Image.rotate: translate the centre to the origin, rotate, translate back (same float steps).
    shift_x = cos * -centre + sin * -centre + 0.0 + centre
    shift_y = -sin * -centre + cos * -centre + 0.0 + centre
    # The C sampler starts at pixel centres (+0.5) and floors by an arithmetic shift.
    return (
        _fixed(cos),
        _fixed(sin),
        _fixed(shift_x + sin * 0.5 + cos * 0.5),
        _fixed(-sin),
        _fixed(cos),
        _fixed(shift_y + cos * 0.5 + -sin * 0.5),
    )


def source_index(angles: torch.Tensor, side: int = SIDE) -> torch.Tensor:
    """(n, side*side) int64: per member, the flat source pixel of each output pixel (row-major).

    ``side * side`` (one past the last pixel) marks output pixels that fall outside the image.
    Angles are taken at the tensor's own precision (a float32 angle, as torchvision draws it).
    """
    if angles.ndim != 1:
        raise ZooError(
            f"Rotation angles must have shape (n,), not {tuple(angles.shape)}; pass one per member."
        )
    fixed = torch.tensor([pillow_affine(a, side) for a in angles.tolist()], dtype=torch.int64)
    fixed = fixed.reshape(-1, 6)  # (n, 6), also for n = 0
    y, x = torch.meshgrid(torch.arange(side), torch.arange(side), indexing="ij")
    x, y = x.reshape(1, -1), y.reshape(1, -1)  # (1, p) output pixel coordinates, p = side * side
    a0, a1, a2, a3, a4, a5 = fixed.T.unsqueeze(-1)  # each (n, 1)
    x_in = torch.div(a2 + y * a1 + x * a0, _ONE, rounding_mode="floor")  # (n, p)
    y_in = torch.div(a5 + y * a4 + x * a3, _ONE, rounding_mode="floor")  # (n, p)
    inside = (x_in >= 0) & (x_in < side) & (y_in >= 0) & (y_in < side)
    return torch.where(inside, y_in * side + x_in, side * side)


def gather_pixels(pixels: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """pixels (n, b, p) and per-member index (n, q) into p pixels plus a zero -> (n, b, q)."""
    n, b, _ = pixels.shape
    padded = F.pad(pixels, (0, 1))  # (n, b, p + 1): slot p is the zero fill
    return padded.gather(-1, index.unsqueeze(1).expand(n, b, index.shape[-1]))


def rotate(images: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """images (n, b, side, side), uint8 or float, angles (n,) in degrees -> each member's rotated.

    Member m's images are all rotated by angles[m], counter-clockwise, on the images' device.
    """
    check_images(images, len(angles))
    n, b, side, _ = images.shape
    index = source_index(angles, side).to(images.device)  # (n, p)
    return gather_pixels(images.reshape(n, b, side * side), index).reshape(n, b, side, side)


def check_images(images: torch.Tensor, members: int, side: int | None = None) -> None:
    """Raise unless ``images`` is (members, b, side, side): square, and ``side`` wide if given."""
    square = images.ndim == 4 and images.shape[2] == images.shape[3]
    if not square or images.shape[0] != members or (side is not None and images.shape[3] != side):
        wanted = f"{side}, {side}" if side else "side, side"
        raise ZooError(
            f"Images of shape {tuple(images.shape)} do not fit {members} members; "
            f"pass (n members, b images, {wanted})."
        )
