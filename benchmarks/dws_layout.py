"""DWS forward + backward laid out channels first against channels last, by channel count.

rnn_zoo.encoders.dws lays out an encoder's sets channels first, (c, n, *units), or channels last,
(n, *units, c), by its width and depth (``lays_out_channels_first``). This times both layouts of the
same encoder (same weights: the layout is not a parameter) on the paper's formal-language
member, alternating rounds and keeping each layout's best, and prints per channel count the
ratio channels-last time / channels-first time: above 1, channels first is faster. The last
line is ``threshold OK`` where the library's choice takes the faster layout at every count
measured (or one within 10 %, the noise of a shared machine), else ``threshold MISSED``.

    python benchmarks/dws_layout.py [--channels 8 16 32 48] [--layers 2] [--members 64] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

import torch

from rnn_zoo import encoders
from rnn_zoo.bench.memory import keep_freed_memory
from rnn_zoo.encoders import dws
from rnn_zoo.member.spec import MemberSpec

SPEC = MemberSpec(6, 32, 2, 6)
TOLERANCE = 0.10  # what run-to-run noise on a shared machine moves a ratio by


def layouts(channels: int, layers: int) -> dict[str, dws.DwsEncoder]:
    """The same encoder built channels first and channels last."""
    built = {}
    chosen = dws.lays_out_channels_first
    try:
        for name, first in (("first", True), ("last", False)):
            dws.lays_out_channels_first = lambda channels, layers, first=first: first
            torch.manual_seed(0)
            built[name] = encoders.build("dws", SPEC, layers=layers, channels=channels)
    finally:
        dws.lays_out_channels_first = chosen
    assert built["first"].channels_first and not built["last"].channels_first
    return built


def best_time(encoder: dws.DwsEncoder, params: dict[str, torch.Tensor], repeats: int) -> float:
    def step() -> None:
        encoder.zero_grad(set_to_none=True)
        encoder(params).sum().backward()

    step()
    start = time.perf_counter()
    for _ in range(repeats):
        step()
    return (time.perf_counter() - start) / repeats


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--channels", type=int, nargs="+", default=[8, 16, 32, 48])
    parser.add_argument("--layers", type=int, default=2)
    parser.add_argument("--members", type=int, default=64)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    keep_freed_memory()  # as rnn-zoo bench runs
    generator = torch.Generator().manual_seed(0)
    params = {
        name: 0.3 * torch.randn((args.members, *shape), generator=generator)
        for name, shape in SPEC.parameter_shapes().items()
    }
    print(f"DWS {args.layers} layers, {args.members} members of {SPEC}, {args.threads} thread(s)")
    agrees = True
    for channels in args.channels:
        built = layouts(channels, args.layers)
        repeats = max(2, 200 // channels)
        times = {name: float("inf") for name in built}
        for _ in range(args.rounds):
            for name, encoder in built.items():
                times[name] = min(times[name], best_time(encoder, params, repeats))
        ratio = times["last"] / times["first"]
        chosen = "first" if dws.lays_out_channels_first(channels, args.layers) else "last"
        faster = "first" if ratio > 1 else "last"
        agrees &= chosen == faster or abs(ratio - 1) <= TOLERANCE
        print(
            f"{channels:4d} channels: first {times['first'] * 1e3:7.1f} ms, last {times['last'] * 1e3:7.1f} ms, "
            f"last / first {ratio:.2f}; the library lays it out channels {chosen}"
        )
    print("threshold OK" if agrees else "threshold MISSED")


if __name__ == "__main__":
    main()
