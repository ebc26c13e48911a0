"""Emulation training throughput: steps per second per encoder at batch 64 members x 1 sequence.

Runs on a synthetic zoo of the paper's formal-language member size (2 x 32 LSTMs, 6 symbols,
probe sequences of 42 tokens). Every encoder in the registry (rnn_zoo.encoders) is measured,
plus a baseline encoder that ignores the weights (a learned constant embedding), so the
encoders' own cost shows. The last line printed is the ratio of the slowest encoder's step
time to the baseline's, alone: `ratio 3.2`.

    python benchmarks/bench_throughput.py [--device cuda] [--steps 30] [--encoders flat,dws] [--threads 1]
        [--preset tiny|medium|small|paper] [--json PATH]

--preset takes the encoder and emulator sizes of that bench preset (default paper: the authors'
encoder sizes, emulator 2 x 256); --json also writes the figures as
``{"encoders": {name: {"steps_per_s": ...}}, "baseline": {...}, "preset": ..., "device": ...}``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time

import torch
from constant_encoder import ConstantEncoder
from torch import nn

from rnn_zoo.bench.config import EmulationConfig, emulation_config
from rnn_zoo.bench.pretraining import emulation_data, train_emulation
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.zoo.synthetic import synthetic_schema, write_synthetic_zoo


def available_encoders(preset: str = "paper") -> dict[str, object]:
    """Encoder factories by name, at ``preset``'s sizes: the registry's when it is installed, else none."""
    try:
        import rnn_zoo.encoders  # noqa: F401
    except ModuleNotFoundError:  # a device image without the package's dependencies: no encoders
        return {}
    from rnn_zoo.bench.config import preset_named
    from rnn_zoo.bench.run import ENCODERS, build_encoder

    sizes = preset_named(preset).encoders
    return {
        name: (lambda spec, name=name: build_encoder(name, spec, input_kind="tokens", **sizes.get(name, {})))
        for name in ENCODERS
    }


def steps_per_second(encoder: nn.Module, train, validation, steps: int, emulator_hidden: int = 256) -> float:
    """Emulation steps per second after two warm-up steps (validation excluded)."""
    config = EmulationConfig(steps=2, validate_every=10**9, emulator_hidden=emulator_hidden)
    train_emulation(encoder, train, validation, config)
    config = EmulationConfig(
        steps=steps, validate_every=10**9, validation_members=1, emulator_hidden=emulator_hidden
    )
    if train.probes.log_probs.is_cuda:
        torch.cuda.synchronize()
    started = time.perf_counter()
    train_emulation(encoder, train, validation, config)
    if train.probes.log_probs.is_cuda:
        torch.cuda.synchronize()
    return steps / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--encoders", default="", help="comma-separated names (default: all)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's)")
    parser.add_argument("--preset", choices=["tiny", "medium", "small", "paper"], default="paper")
    parser.add_argument("--json", help="also write the figures to this JSON file")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    spec = MemberSpec(6, 32, 2, 6)
    with tempfile.TemporaryDirectory() as root:
        schema = synthetic_schema(spec, probes=100, length=42)
        zoo = write_synthetic_zoo(root, {"train": 128, "validation": 8, "ood": 8}, steps=(0,), schema=schema)
        train, validation = (emulation_data(zoo, split).to(args.device) for split in ("train", "validation"))
    factories = available_encoders(args.preset)
    chosen = [name for name in args.encoders.split(",") if name] or list(factories)
    hidden = emulation_config(args.preset).emulator_hidden
    baseline = steps_per_second(ConstantEncoder().to(args.device), train, validation, args.steps, hidden)
    print(
        f"device {args.device} ({torch.get_num_threads()} threads), preset {args.preset}, "
        f"batch 64 x 1 sequence of 41 steps, emulator 2 x {hidden}",
        flush=True,
    )
    print(f"{'baseline (constant embedding)':32s} {baseline:8.1f} steps/s", flush=True)
    slowest, rates = baseline, {}
    for name in chosen:
        encoder = factories[name](spec).to(args.device)
        rates[name] = steps_per_second(encoder, train, validation, args.steps, hidden)
        slowest = min(slowest, rates[name])
        print(f"{name:32s} {rates[name]:8.1f} steps/s", flush=True)
    print(f"ratio {baseline / slowest:.1f}")
    if args.json:
        figures = {
            "preset": args.preset,
            "device": str(args.device),
            "baseline": {"steps_per_s": baseline},
            "encoders": {name: {"steps_per_s": rate} for name, rate in rates.items()},
        }
        with open(args.json, "w") as sink:
            json.dump(figures, sink, indent=1)


if __name__ == "__main__":
    main()
