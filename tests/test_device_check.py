"""The GPU check degrades, never aborts: its --smoke run does every step on the CPU at tiny sizes,
a failing wheel or a missing module is a row, a step past its cap is stopped, and the caps fit
one 10-minute call with 90 s to spare."""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "benchmarks"))

import device_build  # noqa: E402
import device_check  # noqa: E402
import device_report  # noqa: E402
import device_steps  # noqa: E402


def test_the_caps_fit_one_call_with_90_seconds_to_spare(tmp_path: Path) -> None:
    steps = [
        *device_steps.throughput_steps(False),
        device_steps.bench_step(False, tmp_path / "bench.json"),
        *device_steps.later_steps(False, tmp_path),
    ]
    caps = device_steps.INSTALL_CAP_S + device_steps.PREFLIGHT_CAP_S + sum(step.cap for step in steps)
    assert caps <= 600 - 90 == device_steps.BUDGET_S
    names = [step.name for step in steps]  # the steps that need no `datasets` come first
    assert (
        names.index("build throughput, MNIST") < names.index("bench throughput") < names.index("build mnist")
    )


def test_unused_time_goes_to_the_next_step_and_overruns_come_out_of_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    now = [100.0]
    monkeypatch.setattr(device_check.time, "perf_counter", lambda: now[0])
    clock = device_check.Clock()
    assert clock.limit(20) == 20
    now[0] += 5  # used 5 of 20
    assert clock.limit(30) == 45
    now[0] += 60  # overran by 15
    assert clock.limit(40) == 25


def test_a_step_past_its_limit_is_stopped_with_what_it_started(tmp_path: Path) -> None:
    marker = tmp_path / "child-alive"
    child = f"import time; time.sleep(4.5); open({str(marker)!r}, 'w')"
    parent = (
        f"import subprocess, sys, time; subprocess.Popen([sys.executable, '-c', {child!r}]); time.sleep(30)"
    )
    step = device_steps.Step("sleeper", [sys.executable, "-c", parent], 10, r"^(.+)$")
    row = device_check.run_step(step, {}, {"scratch": tmp_path}, 3.0, tmp_path / "log")
    assert row.status == "stopped" and row.wall < 4.5
    subprocess.run([sys.executable, "-c", "import time; time.sleep(2.5)"], check=True)
    assert not marker.exists()  # its child was stopped too


def test_a_missing_module_is_a_row_of_its_own(tmp_path: Path) -> None:
    rows = device_check.preflight({}, tmp_path, 60, tmp_path / "log", modules=("json", "no_such_module_here"))
    assert [(row.name, row.status) for row in rows] == [
        ("imports", "failed"),
        ("import no_such_module_here", "failed"),
    ]
    assert rows[0].result.startswith("1 of 2 modules") and "ModuleNotFoundError" in rows[1].result


def write_wheel(folder: Path, name: str) -> Path:
    """A minimal valid wheel of one module ``name`` (no dependencies)."""
    path = folder / f"{name}-1.0-py3-none-any.whl"
    info = f"{name}-1.0.dist-info"
    files = {
        f"{name}.py": "VALUE = 7\n",
        f"{info}/METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n",
        f"{info}/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
    }
    record = "".join(f"{file},,\n" for file in files) + f"{info}/RECORD,,\n"
    with zipfile.ZipFile(path, "w") as archive:
        for file, text in {**files, f"{info}/RECORD": record}.items():
            archive.writestr(file, text)
    return path


@pytest.mark.slow
def test_a_wheel_that_fails_to_install_is_a_row_and_the_others_still_serve(tmp_path: Path) -> None:
    wheels = tmp_path / "wheels"
    wheels.mkdir()
    write_wheel(wheels, "goodpkg")
    (wheels / "badpkg-1.0-py3-none-any.whl").write_bytes(b"not a zip file")
    rows, paths = device_check.install_wheels(wheels, tmp_path / "site", 120)
    assert [(row.name, row.status) for row in rows] == [("install badpkg-1.0-py3-none-any.whl", "failed")]
    probe = [sys.executable, "-c", "import goodpkg; print(goodpkg.VALUE)"]
    env = device_check.environment(paths, None, smoke=True)
    assert subprocess.run(probe, env=env, capture_output=True, text=True, check=True).stdout == "7\n"


def test_a_build_stopped_at_its_deadline_projects_the_whole_preset(monkeypatch: pytest.MonkeyPatch) -> None:
    now = [0.0]
    monkeypatch.setattr(device_build.time, "perf_counter", lambda: now[0])
    deadline = device_build.Deadline(seconds=50)
    deadline("start", {"steps": 1004, "members": 8})
    now[0] = 10.0  # setup and the warm-up: 10 s until the pace is measured
    for _ in range(device_build.PACE_FROM_STEP):
        deadline("step", {})
    with pytest.raises(device_build.OutOfTime):
        for _ in range(1000):
            now[0] += 0.5  # 2 steps/s
            deadline("step", {})
    # 10 s, then the other 1,000 steps at 2 steps/s: 510 s.
    assert deadline.projection().endswith("2.0 steps/s; the full preset projects to 510 s (8.5 min)")


def test_the_paper_bench_is_projected_from_the_measured_steps_per_second(tmp_path: Path) -> None:
    from rnn_zoo.bench.config import bench_config

    config = bench_config("paper")
    (tmp_path / "bench.json").write_text(json.dumps({"encoders": {"flat": {"steps_per_s": 100.0}}}))
    figures: dict = {}
    row = device_report.bench_projection(tmp_path / "bench.json", [], figures)
    expected = config.seeds * config.emulation.steps / 100.0  # 15 seeds x 100,000 steps: 15,000 s
    assert row.status == "ok" and f"flat {expected / 3600:.1f} h" in row.result
    assert figures["bench"]["encoders"]["flat"]["projected_s"] == pytest.approx(expected)


@pytest.mark.slow
def test_device_check_smoke_runs_every_step_and_writes_only_its_reports(tmp_path: Path) -> None:
    out, scratch = tmp_path / "out", tmp_path / "scratch"
    done = subprocess.run(
        [
            sys.executable,
            str(ROOT / "benchmarks" / "device_check.py"),
            "--smoke",
            "--out",
            str(out),
            "--scratch",
            str(scratch),
        ],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert sorted(path.name for path in out.iterdir()) == ["check.log", "figures.json", "summary.md"]
    rows = [line for line in (out / "summary.md").read_text().splitlines()[2:] if line.startswith("|")]
    cells = {
        row.split("|")[1].strip(): (row.split("|")[3].strip(), row.split("|")[4].strip()) for row in rows
    }
    assert list(cells) == [
        "imports",
        "build throughput, formal languages",
        "build throughput, MNIST",
        "memory per member",
        "bench throughput",
        "bench --preset paper, projected",
        "tests (CUDA ones skip on a CPU)",
        "build formal-languages",
        "verify formal-languages",
        "build mnist",
        "verify mnist",
    ]
    assert all(status == "ok" for status, _ in cells.values()), rows
    assert cells["build throughput, formal languages"][1].startswith("speedup")
    assert cells["memory per member"][1].startswith("covered") and cells["build mnist"][1].startswith(
        "finished"
    )
    assert cells["verify mnist"][1].startswith("ok:") and (scratch / "zoos" / "mnist" / "zoo.json").is_file()
    figures = json.loads((out / "figures.json").read_text())
    assert set(figures["bench"]["encoders"]) >= {"flat", "dws", "param-transformer"}
