"""The GPU check script keeps working: its --smoke run does every step on the CPU at tiny sizes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.slow
def test_device_check_smoke_runs_every_step_and_prints_one_table(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "benchmarks" / "device_check.py"), "--smoke", "--out", str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    rows = [line for line in (tmp_path / "summary.md").read_text().splitlines()[2:]]
    names = [row.split("|")[1].strip() for row in rows]
    assert names == [
        "throughput, formal languages",
        "throughput, MNIST",
        "build formal-languages",
        "verify formal-languages",
        "build mnist",
        "verify mnist",
    ]
    assert all("failed" not in row and "stopped" not in row for row in rows), rows
    assert "speedup" in rows[0] and "performance at the last snapshot: mean" in rows[2]
    assert rows[3].split("|")[3].strip().startswith("ok:") and "eval_accuracy" in rows[4]
