"""Images per second for rotation + tiling of one training batch: batched gather vs a Pillow loop.

    python benchmarks/mnist_data_throughput.py [--members 64] [--batch 32] [--device cpu] [--threads N]

Both ways turn the same (n members, b images) uint8 digits, each member with its own angle,
into (n, b, 50, 16) normalised member inputs; the Pillow loop is the paper builder's
per-image pipeline (rotate a PIL image, to tensor, normalise, cut tiles, prepend BOS). The
script checks that both give identical inputs, then prints the ratio as its last line.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from PIL import Image

from rnn_zoo.errors import ZooError
from rnn_zoo.tasks.mnist import MEAN, STD, SequenceMaker, load_mnist, seconds_per_batch


def pillow_sequence(image: torch.Tensor, angle: float) -> torch.Tensor:
    """One image (28, 28) uint8 -> (50, 16): rotated by Pillow, normalised, tiled, BOS first."""
    rotated = Image.fromarray(image.numpy()).rotate(angle, resample=Image.NEAREST)
    pixels = (torch.from_numpy(np.array(rotated)).float() / 255 - MEAN) / STD  # (28, 28)
    tiles = pixels.view(7, 4, 7, 4).transpose(1, 2).reshape(49, 16)
    return torch.cat([torch.zeros(1, 16), tiles])


def pillow_batch(images: torch.Tensor, angles: torch.Tensor) -> torch.Tensor:
    """(n, b, 28, 28) -> (n, b, 50, 16), one image at a time."""
    return torch.stack(
        [
            torch.stack([pillow_sequence(image, angle) for image in member])
            for member, angle in zip(images, angles.tolist(), strict=True)
        ]
    )


def digits(count: int, generator: torch.Generator) -> torch.Tensor:
    """``count`` real MNIST digits when a source has them, else random bytes (same cost)."""
    try:
        mnist = load_mnist("auto")
    except ZooError as error:
        print(f"note: random pixels instead of MNIST ({error})")
        return torch.randint(0, 256, (count, 28, 28), dtype=torch.uint8, generator=generator)
    print(f"digits: {mnist.source.images} from {mnist.source.origin}")
    return mnist.images[torch.randint(0, len(mnist), (count,), generator=generator)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--members", type=int, default=64)
    parser.add_argument("--batch", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--threads", type=int, default=torch.get_num_threads(), help="torch CPU threads")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    generator = torch.Generator().manual_seed(0)
    n, b = args.members, args.batch
    images = digits(n * b, generator).reshape(n, b, 28, 28)
    angles = torch.rand(n, generator=generator) * 360
    print(f"{n} members x {b} images on {args.device}, {torch.get_num_threads()} torch threads")

    maker = SequenceMaker(angles, device=args.device)
    on_device = images.to(args.device)
    batched_s = seconds_per_batch(maker, on_device, repeats=args.repeats)
    start = time.perf_counter()
    reference = pillow_batch(images, angles)
    loop_s = time.perf_counter() - start
    assert torch.equal(maker(on_device).cpu(), reference), "batched inputs differ from the Pillow loop"

    print(f"batched gather: {n * b / batched_s:12,.0f} images/s ({batched_s * 1e3:.2f} ms per batch)")
    print(f"Pillow loop:    {n * b / loop_s:12,.0f} images/s ({loop_s * 1e3:.2f} ms per batch)")
    print(f"speedup {loop_s / batched_s:.1f}")


if __name__ == "__main__":
    main()
