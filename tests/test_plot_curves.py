"""benchmarks/plot_curves.py draws the curves of several benches of one zoo in one plot, and
refuses benches that do not compare."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from PIL import Image

from rnn_zoo.bench.config import bench_config
from rnn_zoo.bench.run import run_bench

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "plot_curves.py"
SETTINGS = {"steps": 4, "validate_every": 2, "batch_members": 8, "emulator_hidden": 16}
DOWNSTREAM = {"steps": 2, "supervised_steps": 1}


def bench(zoo, encoders, out, references=True, steps=4):
    config = bench_config(
        "tiny", seeds=1, emulation={**SETTINGS, "steps": steps}, downstream=DOWNSTREAM, references=references
    )
    return run_bench(zoo, encoders, config, out)


def plot(*paths, out):
    command = [sys.executable, str(SCRIPT), *map(str, paths), "--out", str(out)]
    return subprocess.run(command, capture_output=True, text=True, check=False)


def test_benches_of_one_zoo_share_a_plot_and_others_are_refused(token_zoo, tmp_path):
    first = bench(token_zoo, ["flat"], tmp_path / "first")
    later = bench(token_zoo, ["layer-stats"], tmp_path / "later", references=False)
    assert set(first["runs"]) == {"flat", "constant", "oracle"} and set(later["runs"]) == {"layer-stats"}

    done = plot(tmp_path / "first", tmp_path / "later" / "results.json", out=tmp_path / "curves.png")
    assert done.returncode == 0, done.stderr
    assert "4 rows (flat, constant, oracle, layer-stats), dashed: constant, oracle" in done.stdout
    with Image.open(tmp_path / "curves.png") as image:
        assert image.format == "PNG" and image.width > 300

    done = plot(tmp_path / "first", tmp_path / "first", out=tmp_path / "twice.png")
    assert done.returncode != 0 and "flat is in both" in done.stderr and "Traceback" not in done.stderr

    bench(token_zoo, ["layer-stats"], tmp_path / "longer", references=False, steps=6)
    done = plot(tmp_path / "first", tmp_path / "longer", out=tmp_path / "longer.png")
    assert done.returncode != 0 and "different emulation settings" in done.stderr
    assert not (tmp_path / "longer.png").exists() and not (tmp_path / "twice.png").exists()

    done = plot(tmp_path / "missing", out=tmp_path / "missing.png")
    assert (
        done.returncode != 0
        and "not a bench's results.json" in done.stderr
        and "Traceback" not in done.stderr
    )
