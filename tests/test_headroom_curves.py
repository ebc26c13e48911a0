"""benchmarks/headroom_curves.py trains the bench's floor and ceiling alone: the same curves as
the reference rows of a bench with the same preset, seed and settings."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from rnn_zoo.bench.config import bench_config
from rnn_zoo.bench.run import run_bench

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "headroom_curves.py"
SETTINGS = {"steps": 4, "validate_every": 2, "batch_members": 8, "emulator_hidden": 16}


def test_the_curves_are_the_bench_reference_rows(token_zoo, tmp_path, encoder_builder):
    options = [f"--{name.replace('_', '-')}={value}" for name, value in SETTINGS.items()]
    command = [sys.executable, str(SCRIPT), "--zoo", str(token_zoo.root), "--preset", "tiny", *options]
    done = subprocess.run(
        [*command, "--json", str(tmp_path / "curves.json")], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    curves = json.loads((tmp_path / "curves.json").read_text())
    config = bench_config("tiny", seeds=1, emulation=SETTINGS, downstream={"steps": 2, "supervised_steps": 1})
    results = run_bench(token_zoo, ["flat"], config, encoder_builder=encoder_builder)
    for name in ("constant", "oracle"):
        bench_curve = results["runs"][name]["0"]["emulation"]["curve"]
        expected = {str(point["step"]): point["validation_loss"] for point in bench_curve}
        assert curves["rows"][name]["0"]["curve"] == pytest.approx(expected, rel=1e-6)
    last = {name: curves["rows"][name]["0"]["curve"]["4"] for name in ("constant", "oracle")}
    assert (
        f"| 4 | {last['constant']:.4f} | {last['oracle']:.4f} | {last['oracle'] / last['constant']:.2f} |"
        in done.stdout
    )


def test_curves_written_apart_are_joined_into_one_table(token_zoo, tmp_path):
    options = [f"--{name.replace('_', '-')}={value}" for name, value in SETTINGS.items()]
    for name in ("constant", "oracle"):
        command = [
            sys.executable,
            str(SCRIPT),
            "--zoo",
            str(token_zoo.root),
            "--preset",
            "tiny",
            "--rows",
            name,
        ]
        done = subprocess.run(
            [*command, *options, "--json", str(tmp_path / f"{name}.json")],
            capture_output=True,
            text=True,
            check=False,
        )
        assert done.returncode == 0, done.stderr
    joined = subprocess.run(
        [
            sys.executable,
            str(SCRIPT),
            "--join",
            str(tmp_path / "constant.json"),
            str(tmp_path / "oracle.json"),
        ],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    assert (
        joined[0] == "| step | constant | oracle | oracle / constant |" and len(joined) == 2 + 2
    )  # steps 2 and 4
