"""The GPU check: imports, training and bench throughput, memory per member, the CUDA tests and both paper zoos.

One command, for one 10-minute call on one H100/H200-class GPU with no network, run from the
checkout with the folder ``benchmarks/device_prepare.py`` prepared beside it (which prints the
exact call):

    python benchmarks/device_check.py --carried .device --out "$OUT" [--smoke]

1. the carried wheels (the project's own, datasets, dill, multiprocess) installed into a
   scratch folder, each failing wheel a row; then an import preflight, each missing module a row;
2. steps that need no ``datasets``: training throughput of the population trainer against
   nn.LSTM + cuDNN (formal languages, MNIST) and memory per member against its estimate;
3. the emulation throughput of every encoder at the paper's configuration, with the projected
   wall time of ``rnn-zoo bench --preset paper`` per encoder and in all (emulation only);
4. the trainer's CUDA tests, then each paper zoo built, or, when it cannot finish within its
   cap, its pace and the projected time of the whole preset; a finished zoo is verified.

The check degrades, never aborts: every step has its own time cap (benchmarks/device_steps.py;
time a step leaves unused goes to the next), and its row says ok, failed, stopped (its cap),
projected or skipped. Only logs go to ``--out``: ``summary.md`` (the table, rewritten after
every step), ``check.log`` (each step's output, its last 64 kB) and ``figures.json``; zoos,
wheels and step logs stay in ``--scratch`` (a fresh temporary folder by default). The exit
status is 1 when a step failed or was stopped.

``--smoke`` runs every step on the CPU at tiny sizes: the tests and benchmarks/device_rehearsal.sh
run it so the script keeps working.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from device_report import Report, Row, bench_projection
from device_steps import (
    BUDGET_S,
    INSTALL_CAP_S,
    MODULES,
    PREFLIGHT_CAP_S,
    ROOT,
    Step,
    bench_step,
    later_steps,
    throughput_steps,
)

# Run in the steps' environment: one JSON line per module, then one about torch and CUDA.
PREFLIGHT = """
import importlib, json, sys
for name in sys.argv[1:]:
    try:
        module = importlib.import_module(name)
        print(json.dumps({"module": name, "version": str(getattr(module, "__version__", "")), "file": str(getattr(module, "__file__", ""))}))
    except Exception as error:
        print(json.dumps({"module": name, "error": f"{type(error).__name__}: {error}"}))
import torch
cuda = torch.cuda.is_available()
print(json.dumps({"torch": torch.__version__, "cuda": torch.version.cuda, "gpu": torch.cuda.get_device_name() if cuda else "none"}))
"""


class Clock:
    """Each step gets its cap plus what the steps before it left unused; never the caps of those after it."""

    def __init__(self) -> None:
        self.started, self.allotted = time.perf_counter(), 0.0

    def limit(self, cap: float) -> float:
        """Seconds for the next step (its cap, plus the time earlier steps left, minus what they overran)."""
        self.allotted += cap
        return self.started + self.allotted - time.perf_counter()


def run_command(command: list[str], env: dict[str, str], cwd: Path, seconds: float, log: Path) -> int | None:
    """Run ``command`` with its output to ``log``; its exit status, or None when stopped after ``seconds``."""
    with log.open("w") as sink:
        process = subprocess.Popen(
            command, cwd=cwd, env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            return process.wait(timeout=max(seconds, 0.1))
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)  # the step and whatever it started
            process.wait()
            return None


def run_step(step: Step, env: dict[str, str], places: dict[str, Path], seconds: float, log: Path) -> Row:
    """One step within ``seconds``: its row, from its exit status and the last match of its result pattern."""
    started = time.perf_counter()
    if step.needs is not None and not step.needs.exists():
        return Row(step.name, 0.0, "skipped", f"{step.needs} is absent (the build did not finish)")
    if seconds < 3:
        return Row(step.name, 0.0, "skipped", "no time left in the budget")
    command = (
        [*step.command, "--seconds", f"{max(seconds - 20, 5):.0f}"] if step.stops_itself else step.command
    )
    status = run_command(command, env, places[step.where], seconds, log)
    wall = time.perf_counter() - started
    text = log.read_text(errors="replace")
    lines = text.strip().splitlines() or ["no output"]
    if status is None:
        return Row(
            step.name, wall, "stopped", f"at its limit of {seconds:.0f} s; last line: {lines[-1][:200]}"
        )
    if status != 0:
        return Row(step.name, wall, "failed", f"exit {status}: {lines[-1][:300]}")
    matches = re.findall(step.result, text, flags=re.MULTILINE)
    cell = matches[-1] if matches else "done"
    return Row(step.name, wall, "projected" if cell.startswith("stopped at step") else "ok", cell)


def install_wheels(wheels: Path, site: Path, seconds: float) -> tuple[list[Row], list[str]]:
    """Install the carried wheels with --target, all at once, else one by one; rows and the folders to import from."""
    found = sorted(path.resolve() for path in wheels.glob("*.whl"))
    if not found:
        return [Row("install wheels", 0.0, "failed", f"no .whl files in {wheels}")], []
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
    ]
    started, logs = time.perf_counter(), site / "logs"
    logs.mkdir(parents=True, exist_ok=True)
    if (
        run_command(
            [*pip, str(site / "all"), *map(str, found)], os.environ.copy(), site, seconds, logs / "all.log"
        )
        == 0
    ):
        names = ", ".join(wheel.name.split("-")[0] for wheel in found)
        return [Row("install wheels", time.perf_counter() - started, "ok", f"{len(found)}: {names}")], [
            str(site / "all")
        ]
    rows, paths = [], []
    for wheel in found:  # one by one: each failing wheel is its own row; the others still serve
        began, target, log = time.perf_counter(), site / wheel.stem, logs / f"{wheel.stem}.log"
        left = seconds - (began - started)
        status = (
            run_command([*pip, str(target), str(wheel)], os.environ.copy(), site, left, log)
            if left > 1
            else None
        )
        if status == 0:
            paths.append(str(target))
            continue
        last = (
            (log.read_text(errors="replace").strip().splitlines() or ["no time left"])
            if log.exists()
            else ["no time left"]
        )
        rows.append(Row(f"install {wheel.name}", time.perf_counter() - began, "failed", last[-1][:300]))
    return rows or [Row("install wheels", time.perf_counter() - started, "ok", "one by one")], paths


def preflight(
    env: dict[str, str], cwd: Path, seconds: float, log: Path, modules: tuple[str, ...] = MODULES
) -> list[Row]:
    """Import every module the steps need, in their environment: a row per missing one, and one in all."""
    started = time.perf_counter()
    status = run_command([sys.executable, "-c", PREFLIGHT, *modules], env, cwd, seconds, log)
    found = [
        json.loads(line) for line in log.read_text(errors="replace").splitlines() if line.startswith("{")
    ]
    missing = [entry for entry in found if "error" in entry]
    rows = [Row(f"import {entry['module']}", 0.0, "failed", entry["error"][:300]) for entry in missing]
    ok = sum("module" in entry and "error" not in entry for entry in found)
    where = next(
        (entry["file"] for entry in found if entry.get("module") == "rnn_zoo" and "file" in entry), "?"
    )
    torch_line = next((entry for entry in found if "torch" in entry and "module" not in entry), None)
    summary = f"{ok} of {len(modules)} modules; rnn_zoo from {where}"
    if torch_line:
        summary += f"; torch {torch_line['torch']}, CUDA {torch_line['cuda']}, GPU {torch_line['gpu']}"
    state = "ok" if status == 0 and not missing and torch_line else "failed"
    return [Row("imports", time.perf_counter() - started, state, summary), *rows]


def environment(site_paths: list[str], carried: Path | None, smoke: bool) -> dict[str, str]:
    """The steps' environment: the installed wheels importable, the carried cache, no network,
    output unbuffered; one CPU thread with --smoke (on a shared CPU, torch's threads wait on each other)."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1", "HF_HUB_OFFLINE": "1", "HF_DATASETS_OFFLINE": "1"}
    if smoke:
        env["OMP_NUM_THREADS"] = "1"
    env["PYTHONPATH"] = os.pathsep.join([*site_paths, *filter(None, [env.get("PYTHONPATH")])])
    if carried is not None and (carried / "cache").is_dir():
        env["RNN_ZOO_CACHE"] = str((carried / "cache").resolve())
    return env


def places_for(scratch: Path) -> dict[str, Path]:
    """Where steps run: an empty folder (so the checkout's rnn_zoo cannot shadow the installed
    one), or a copy of the tests beside the project's pytest settings."""
    run, tests = scratch / "run", scratch / "tests-root"
    run.mkdir(parents=True, exist_ok=True)
    if not tests.exists():
        shutil.copytree(ROOT / "tests", tests / "tests", ignore=shutil.ignore_patterns("__pycache__"))
        shutil.copy2(ROOT / "pyproject.toml", tests / "pyproject.toml")
    return {"scratch": run, "tests": tests}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--out", type=Path, default=Path("device-check"), help="summary.md, check.log, figures.json"
    )
    parser.add_argument("--carried", type=Path, help="the folder device_prepare.py made: wheels/ and cache/")
    parser.add_argument(
        "--scratch", type=Path, help="zoos, installed wheels and logs [default: a new temporary folder]"
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes on the CPU (a minute or two)")
    args = parser.parse_args()
    clock, scratch = (
        Clock(),
        (args.scratch or Path(tempfile.mkdtemp(prefix="rnn-zoo-device-check-"))).resolve(),
    )
    report = Report(args.out.resolve(), scratch)
    site_paths: list[str] = []
    if args.carried is not None:
        rows, site_paths = install_wheels(
            args.carried / "wheels", scratch / "site", clock.limit(INSTALL_CAP_S)
        )
        report.add(rows)
    env, places = environment(site_paths, args.carried, args.smoke), places_for(scratch)
    report.add(preflight(env, places["scratch"], clock.limit(PREFLIGHT_CAP_S), report.log_path("imports")))
    bench_figures = scratch / "bench.json"
    for step in [
        *throughput_steps(args.smoke),
        bench_step(args.smoke, bench_figures),
        *later_steps(args.smoke, scratch / "zoos"),
    ]:
        log = report.log_path(step.name)
        report.add([run_step(step, env, places, clock.limit(step.cap), log)], log)
        if step.name == "bench throughput":
            report.add([bench_projection(bench_figures, site_paths, report.figures)])
    report.finish(BUDGET_S)
    sys.exit(1 if report.failed() else 0)


if __name__ == "__main__":
    main()
