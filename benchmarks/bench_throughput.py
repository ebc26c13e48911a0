"""Emulation training throughput: steps/s and achieved GFLOP/s per encoder, beside a matmul's rate.

Runs on a synthetic zoo of the paper's formal-language member (2 x 32 LSTMs, 6 symbols, probe
sequences of 42 tokens) with the encoder sizes, emulator size and batch of a bench preset
(``--preset tiny|medium|paper``; paper: the authors' sizes, emulator 2 x 256, 64 members x 1
sequence). Every built-in encoder is measured, plus the constant baseline (one learned
embedding, benchmarks/constant_encoder.py), so each encoder's own cost shows. FLOPs of one step
(forward, backward; the LSTMs included) are counted with torch's FlopCounterMode; the limit
printed beside them is one large matmul's rate on the same device and threads.

``--baseline-tree DIR`` measures the same steps with the rnn_zoo package of another checkout
(e.g. ``git worktree add /tmp/oldmain 4d63a73``), each measurement in its own subprocess, this
tree's and the baseline's alternating, and prints new / old steps/s per encoder. The last line
printed is the slowest encoder's step time over the baseline encoder's: ``ratio 3.2``.

    python benchmarks/bench_throughput.py [--preset paper] [--device cpu] [--threads 1] [--steps 4]
        [--encoders flat,dws] [--json PATH] [--baseline-tree /tmp/oldmain --rounds 3]
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import torch
from torch.utils._python_dispatch import TorchDispatchMode
from torch.utils.flop_counter import flop_registry, register_flop_formula

HERE = Path(__file__).resolve().parent
BASELINE = "constant"
PRESETS = ("tiny", "medium", "paper")
EMULATION_SIZES = ("emulator_hidden", "emulator_layers", "batch_members", "batch_sequences")


def _rnn_flops(tokens: int, weights: list[Any]) -> int:
    """2 FLOPs per weight entry per token: the input and recurrent maps of every gate."""
    return 2 * tokens * sum(int(torch.Size(shape).numel()) for shape in weights if len(shape) == 2)


@register_flop_formula(torch.ops.aten.mkldnn_rnn_layer)
def _mkldnn_lstm_layer(input_shape, w_ih, w_hh, *args, out_shape=None, **kwargs) -> int:
    return _rnn_flops(input_shape[0] * input_shape[1], [w_ih, w_hh])


@register_flop_formula(torch.ops.aten.mkldnn_rnn_layer_backward)
def _mkldnn_lstm_layer_backward(input_shape, w_ih, w_hh, *args, out_shape=None, **kwargs) -> int:
    return 2 * _rnn_flops(input_shape[0] * input_shape[1], [w_ih, w_hh])


@register_flop_formula(torch.ops.aten._cudnn_rnn)
def _cudnn_lstm(input_shape, weights, *args, out_shape=None, **kwargs) -> int:
    return _rnn_flops(input_shape[0] * input_shape[1], weights)


@register_flop_formula(torch.ops.aten._cudnn_rnn_backward)
def _cudnn_lstm_backward(input_shape, weights, *args, out_shape=None, **kwargs) -> int:
    return 2 * _rnn_flops(input_shape[0] * input_shape[1], weights)


class FlopCount(TorchDispatchMode):
    """FLOPs of every op run inside, by FlopCounterMode's formulas (torch.utils.flop_counter)
    without its module tracking, which fails on modules run under no_grad inside a step."""

    def __init__(self) -> None:
        super().__init__()
        self.flops = 0

    def __torch_dispatch__(self, func, types, args=(), kwargs=None):  # noqa: ANN001, ANN204
        kwargs = kwargs or {}
        out = func(*args, **kwargs)
        formula = flop_registry.get(func._overloadpacket)
        if formula is not None:
            self.flops += formula(*args, **kwargs, out_val=out)
        return out


def synchronize(device: str) -> None:
    if device.startswith("cuda"):
        torch.cuda.synchronize()


def matmul_gflops(device: str, size: int = 4096, repeats: int = 5) -> float:
    """One large float32 matmul's best GFLOP/s: the rate a step's FLOPs could at best run at."""
    a, b = (torch.randn(size, size, device=device) for _ in range(2))
    a @ b
    best = float("inf")
    for _ in range(repeats):
        synchronize(device)
        started = time.perf_counter()
        a @ b
        synchronize(device)
        best = min(best, time.perf_counter() - started)
    return 2 * size**3 / best / 1e9


def make_encoder(name: str, preset: str, spec: Any) -> torch.nn.Module:
    """Encoder ``name`` at ``preset``'s sizes (the bench presets'; paper: defaults)."""
    if name == BASELINE:
        sys.path.insert(0, str(HERE))
        from constant_encoder import ConstantEncoder

        return ConstantEncoder()
    from rnn_zoo.encoders.plugins import make_encoder as build

    return build(name, spec, input_kind="tokens", **preset_sizes(preset).get(name, {}))


def preset_sizes(preset: str) -> dict[str, dict[str, Any]]:
    """The built-in encoders' sizes in ``preset``, where this tree keeps them (a tree given with
    --baseline-tree may predate rnn_zoo.bench.config)."""
    try:
        from rnn_zoo.bench.config import preset_named
    except ImportError:
        from rnn_zoo.bench.run import ENCODER_PRESETS

        return ENCODER_PRESETS.get(preset, {})
    return dict(preset_named(preset).encoders)


def emulation_sizes(preset: str) -> dict[str, Any]:
    """The emulator's size and the batch of ``preset`` (validation left out of the timing)."""
    try:
        from rnn_zoo.bench.config import EmulationConfig, emulation_config
    except ImportError:  # a tree given with --baseline-tree that predates rnn_zoo.bench.config
        from rnn_zoo.bench.pretraining import EmulationConfig, emulation_config

    config = emulation_config(preset)
    return {name: getattr(config, name) for name in EMULATION_SIZES if hasattr(EmulationConfig, name)}


def emulation_config_type() -> type:
    """EmulationConfig, where this tree keeps it."""
    try:
        from rnn_zoo.bench.config import EmulationConfig
    except ImportError:  # a tree given with --baseline-tree that predates rnn_zoo.bench.config
        from rnn_zoo.bench.pretraining import EmulationConfig
    return EmulationConfig


def measure(
    name: str, preset: str, steps: int, device: str, flops: bool = True, compile_step: bool = False
) -> dict[str, Any]:
    """Steps/s of ``steps`` emulation steps after as many warm-up steps, timed between the
    validations (of one member) that follow each; and (``flops``) one step's FLOPs."""
    from rnn_zoo.bench.pretraining import emulation_data, train_emulation
    from rnn_zoo.member.spec import MemberSpec
    from rnn_zoo.zoo.synthetic import synthetic_schema, write_synthetic_zoo

    spec = MemberSpec(6, 32, 2, 6)
    with tempfile.TemporaryDirectory() as root:
        schema = synthetic_schema(spec, probes=100, length=42)
        zoo = write_synthetic_zoo(root, {"train": 128, "validation": 8, "ood": 8}, steps=(0,), schema=schema)
        train, validation = (emulation_data(zoo, split).to(device) for split in ("train", "validation"))
    encoder = make_encoder(name, preset, spec).to(device)
    sizes = emulation_sizes(preset)
    marks: list[float] = []

    def mark(kind: str, info: dict[str, Any]) -> None:
        if "validation_loss" in info:  # read back from the device: every step before it is done
            marks.append(time.perf_counter())

    config = emulation_config_type()(steps=2 * steps, validate_every=steps, validation_members=1, **sizes)
    options = {"compile_step": True} if compile_step else {}  # old checkouts lack the option
    train_emulation(encoder, train, validation, config, event=mark, **options)
    seconds = (marks[-1] - marks[0]) / steps
    if not flops:
        return {"steps_per_s": 1 / seconds}
    with FlopCount() as counter:
        train_emulation(encoder, train, validation, replace(config, steps=1))
    gflop = counter.flops / 1e9
    return {"steps_per_s": 1 / seconds, "gflop_per_step": gflop, "gflops": gflop / seconds}


def import_from(tree: Path) -> None:
    """Import rnn_zoo from ``tree`` from now on, ahead of any installed (or editable) copy."""
    sys.meta_path[:] = [finder for finder in sys.meta_path if "__editable__" not in type(finder).__module__]
    sys.path.insert(0, str(tree))
    import rnn_zoo

    assert Path(rnn_zoo.__file__).resolve().is_relative_to(tree.resolve()), rnn_zoo.__file__


def measure_in(tree: Path, name: str, args: argparse.Namespace, baseline: bool = False) -> dict[str, Any]:
    """:func:`measure` in a fresh process that imports rnn_zoo from ``tree`` (a ``baseline``:
    steps/s only, eager)."""
    command = [sys.executable, __file__, "--worker", name, "--tree", str(tree), "--preset", args.preset]
    command += ["--device", args.device, "--steps", str(args.steps), "--threads", str(args.threads)]
    command += ["--no-flops"] if baseline else (["--compile"] if args.compile else [])
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode:
        raise SystemExit(f"measuring {name} in {tree} failed:\n{done.stderr[-2000:]}")
    return json.loads(done.stdout.splitlines()[-1])


def compare(names: list[str], args: argparse.Namespace) -> dict[str, dict[str, Any]]:
    """Per encoder: this tree's and the baseline tree's runs, alternating, and their medians."""
    results = {}
    for name in names:
        runs: dict[str, list[dict[str, Any]]] = {"new": [], "old": []}
        for round_ in range(args.rounds):  # which tree goes first alternates too
            for tree in ("new", "old") if round_ % 2 == 0 else ("old", "new"):
                baseline = tree == "old"
                where = args.baseline_tree if baseline else HERE.parent
                runs[tree].append(measure_in(where, name, args, baseline=baseline))
        record = {key: statistics.median(run[key] for run in runs["new"]) for key in runs["new"][0]}
        old = statistics.median(run["steps_per_s"] for run in runs["old"])
        results[name] = {**record, "old_steps_per_s": old, "speedup": record["steps_per_s"] / old}
        print(
            f"{name:24s} new {record['steps_per_s']:8.2f}  old {old:8.2f} steps/s  x{results[name]['speedup']:.2f}"
        )
    return results


def report(results: dict[str, dict[str, Any]], limit: float) -> None:
    """One line per encoder: steps/s, GFLOP a step, GFLOP/s and its share of the limit, vs baseline."""
    base = results[BASELINE]["steps_per_s"]
    print(
        f"{'encoder':24s} {'steps/s':>8s} {'GFLOP':>8s} {'GFLOP/s':>8s} {'of matmul':>9s} {'step/base':>9s}"
    )
    for name, record in results.items():
        share = record["gflops"] / limit
        print(
            f"{name:24s} {record['steps_per_s']:8.2f} {record['gflop_per_step']:8.2f} "
            f"{record['gflops']:8.1f} {share:8.0%} {base / record['steps_per_s']:9.2f}"
        )
    print(f"large matmul: {limit:.1f} GFLOP/s")
    print(f"ratio {base / min(record['steps_per_s'] for record in results.values()):.1f}")


def parse() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", choices=PRESETS, default="paper")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--encoders", default="", help="comma-separated names (default: all)")
    parser.add_argument("--threads", type=int, default=0, help="torch CPU threads (default: torch's)")
    parser.add_argument("--json", type=Path, help="also write the results here as JSON")
    parser.add_argument("--baseline-tree", type=Path, help="a checkout to compare with, side by side")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs per encoder and tree")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--compile", action="store_true", help="run this tree's steps through torch.compile")
    parser.add_argument("--tree", help=argparse.SUPPRESS)
    parser.add_argument("--no-flops", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args()


def keep_freed_memory() -> bool:
    """The allocator setting that ``rnn-zoo bench`` makes, where the imported tree has it (a tree
    given with --baseline-tree may predate it, and then runs as it did)."""
    try:
        from rnn_zoo.bench.memory import keep_freed_memory as keep
    except ImportError:
        return False
    return keep()


def main() -> None:
    args = parse()
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.worker:
        import_from(Path(args.tree))
        keep_freed_memory()
        record = measure(args.worker, args.preset, args.steps, args.device, not args.no_flops, args.compile)
        print(json.dumps(record))
        return
    from rnn_zoo.bench.run import ENCODERS

    keep_freed_memory()
    names = [BASELINE, *(name for name in args.encoders.split(",") if name and name != BASELINE)]
    names = names if len(names) > 1 else [BASELINE, *ENCODERS]
    sizes = emulation_sizes(args.preset)
    print(
        f"device {args.device} ({torch.get_num_threads()} threads), preset {args.preset}: {sizes}", flush=True
    )
    if args.baseline_tree:
        results = compare(names, args)
    else:
        results = {
            name: measure(name, args.preset, args.steps, args.device, True, args.compile) for name in names
        }
    limit = matmul_gflops(args.device)
    report(results, limit)
    if args.json:
        payload = {"encoders": results, "matmul_gflops": limit, "preset": args.preset, "device": args.device}
        args.json.write_text(json.dumps(payload, indent=2) + "\n")


if __name__ == "__main__":
    main()
