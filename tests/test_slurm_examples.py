"""examples/slurm: the job-array scripts' commands give the zoo and the bench of a single run.

The scripts run here as SLURM would run them -- bash, with SLURM_ARRAY_TASK_ID/_COUNT/_MIN
set, the array's tasks at the same time, each step after the one it depends on -- but
without a scheduler: CI machines have no SLURM, and starting one (slurmctld, slurmd and
munge from Debian's packages, as root) inside a test run is slow and fragile, so what is
tested is the scripts' commands and the way submit.sh chains them.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from bench_helpers import without_timings
from click.testing import CliRunner

from rnn_zoo import cli
from rnn_zoo.build.builder import build_zoo, resolve_device
from rnn_zoo.build.recipe import load_recipe
from rnn_zoo.files import sha256
from rnn_zoo.zoo.verify import verify_zoo

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ROOT / "examples" / "slurm"
EXAMPLE = ROOT / "examples" / "custom_encoder"
PARTS = 3
BENCH = ["--encoder", "unit_sets:make_encoder", "--preset", "tiny", "--seeds", "3", "--steps", "2"]


def run_array(script: str, env: dict[str, str], tasks: int | None = None) -> None:
    """Run ``script`` once, or as ``tasks`` array tasks at once; each must succeed."""
    runs = []
    for task in range(tasks or 1):
        array = {
            "SLURM_ARRAY_TASK_ID": str(task),
            "SLURM_ARRAY_TASK_COUNT": str(tasks),
            "SLURM_ARRAY_TASK_MIN": "0",
        }
        task_env = {**env, **(array if tasks else {})}
        runs.append(
            subprocess.Popen(
                ["bash", str(SCRIPTS / script)],
                env=task_env,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
        )
    for process in runs:
        output, _ = process.communicate(timeout=300)
        assert process.returncode == 0, f"{script}: {output}"


def submitted_scripts() -> list[str]:
    """The scripts submit.sh hands to sbatch, in its order."""
    lines = (SCRIPTS / "submit.sh").read_text().splitlines()
    return [line.split('"$here/')[1].split('"')[0] for line in lines if "sbatch --parsable" in line]


def shard_hashes(root: Path) -> dict[str, str]:
    files = sorted([*root.glob("data/*.parquet"), *root.glob("weights/*.safetensors")])
    return {str(path.relative_to(root)): sha256(path) for path in files}


@pytest.mark.slow
def test_the_scripts_commands_give_the_single_runs_zoo_and_bench(tmp_path: Path, monkeypatch) -> None:
    assert submitted_scripts() == [
        "build-zoo.sbatch",
        "merge-zoo.sbatch",
        "bench.sbatch",
        "merge-bench.sbatch",
    ]
    env = {
        **os.environ,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "PYTHONPATH": str(EXAMPLE),
        "OMP_NUM_THREADS": "1",  # as this process runs torch (conftest), for bit-equal results
        "TASK": "formal-languages",
        "PRESET": "tiny",
        "BUILD_PARTS": str(tmp_path / "zoo-parts"),
        "ZOO": str(tmp_path / "zoo"),
        "BENCH_PRESET": "tiny",
        "ENCODER": "unit_sets:make_encoder",
        "BENCH_ARGS": " ".join(BENCH[4:]),
        "BENCH_PARTS": str(tmp_path / "bench-parts"),
        "BENCH_OUT": str(tmp_path / "bench"),
    }
    run_array("build-zoo.sbatch", env, tasks=PARTS)
    run_array("merge-zoo.sbatch", env)
    run_array("bench.sbatch", env, tasks=PARTS)
    run_array("merge-bench.sbatch", env)

    build_zoo(load_recipe("formal-languages", "tiny"), tmp_path / "single-zoo", device=resolve_device("cpu"))
    assert shard_hashes(tmp_path / "zoo") == shard_hashes(tmp_path / "single-zoo")
    verify_zoo(tmp_path / "zoo")
    monkeypatch.syspath_prepend(str(EXAMPLE))
    arguments = ["bench", "--zoo", str(tmp_path / "zoo"), *BENCH, "--out", str(tmp_path / "single-bench")]
    result = CliRunner().invoke(cli.main, arguments)
    assert result.exit_code == 0, result.output
    merged, single = (
        json.loads((tmp_path / name / "results.json").read_text()) for name in ("bench", "single-bench")
    )
    assert len(merged["runs"]["unit_sets:make_encoder"]) == 3
    assert without_timings(merged) == without_timings(single)
