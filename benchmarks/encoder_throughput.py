"""Members encoded per second, forward + backward, for every encoder at the paper's member size.

For the probing encoders the same encoder also runs one member at a time in a Python loop
(the functional forward with n = 1), in the same run. The last line printed is the smallest
ratio loop time / batched time over the probing encoders: ``speedup X.Y``.

    python benchmarks/encoder_throughput.py [--batch 64] [--repeats 3] [--device cpu|cuda] [--threads 1]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import torch

from rnn_zoo import encoders
from rnn_zoo.member.spec import MemberSpec

PROBING = ("probing-noninteractive", "probing")


def random_members(spec: MemberSpec, n: int, device: str) -> dict[str, torch.Tensor]:
    generator = torch.Generator().manual_seed(0)
    return {
        name: (0.3 * torch.randn((n, *shape), generator=generator)).to(device)
        for name, shape in spec.parameter_shapes().items()
    }


def seconds(work: Callable[[], None], repeats: int, device: str) -> float:
    """Mean wall time of ``work`` after one warm-up call."""
    work()
    synchronize(device)
    start = time.perf_counter()
    for _ in range(repeats):
        work()
    synchronize(device)
    return (time.perf_counter() - start) / repeats


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def batched_step(encoder: encoders.Encoder, params: dict[str, torch.Tensor]) -> Callable[[], None]:
    def work() -> None:
        encoder.zero_grad(set_to_none=True)
        encoder(params).square().mean().backward()

    return work


def looped_step(encoder: encoders.Encoder, params: dict[str, torch.Tensor]) -> Callable[[], None]:
    n = next(iter(params.values())).shape[0]
    members = [{name: p[k : k + 1] for name, p in params.items()} for k in range(n)]

    def work() -> None:
        encoder.zero_grad(set_to_none=True)
        for member in members:
            encoder(member).square().mean().backward()

    return work


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--encoders", nargs="*", default=list(encoders.ENCODERS))
    parser.add_argument("--threads", type=int, default=0, help="CPU threads (0: torch's default)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = encoders.PAPER_MEMBER
    params = random_members(spec, args.batch, args.device)
    print(
        f"device {args.device}, batch {args.batch}, members {spec}, torch threads {torch.get_num_threads()}"
    )
    ratios = []
    for name in args.encoders:
        encoder = encoders.build(name, spec).to(args.device).train()
        batched = seconds(batched_step(encoder, params), args.repeats, args.device)
        line = f"{name:<24} {args.batch / batched:10.1f} members/s (forward+backward)"
        if name in PROBING:
            looped = seconds(looped_step(encoder, params), 1, args.device)
            ratios.append(looped / batched)
            line += f"   one-at-a-time loop {args.batch / looped:8.1f} members/s, ratio {ratios[-1]:.1f}"
        print(line, flush=True)
    if ratios:
        print(f"speedup {min(ratios):.1f}")


if __name__ == "__main__":
    main()
