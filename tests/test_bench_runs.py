"""`rnn-zoo bench` over time and machines: resume, shares (--shard) and bench-merge, and bad input."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from bench_helpers import assert_one_line_error, file_hashes, without_timings
from click.testing import CliRunner

from rnn_zoo import cli
from rnn_zoo.files import SEAL, seal_json

ENCODERS = "flat,probing"  # both built by the stand-in FlatLinear: fast, and seeded like the real ones
# the encoders, then the reference rows (rnn_zoo.bench.references), seeds in order
JOBS = [(name, seed) for name in ("flat", "probing", "constant", "oracle") for seed in (0, 1)]


@pytest.fixture(autouse=True)
def stand_in_encoders(monkeypatch: pytest.MonkeyPatch, encoder_builder) -> None:
    monkeypatch.setattr(cli.bench, "bench_encoder_builder", lambda: encoder_builder)


def bench(zoo: Path, out: Path, *extra: str) -> tuple[int, str]:
    arguments = ["bench", "--zoo", str(zoo), "--encoder", ENCODERS, "--preset", "tiny", "--seeds", "2"]
    result = CliRunner().invoke(cli.main, [*arguments, "--steps", "3", "--out", str(out), *extra])
    return result.exit_code, result.output


def results(out: Path) -> dict[str, Any]:
    return json.loads((out / "results.json").read_text())


@pytest.fixture(scope="module")
def runs(token_zoo, tmp_path_factory: pytest.TempPathFactory, encoder_builder) -> dict[str, Path]:
    """One bench in a single run, and the same bench as three parts merged."""
    root = tmp_path_factory.mktemp("bench-runs")
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli.bench, "bench_encoder_builder", lambda: encoder_builder)
        for name, extra in [("single", ()), *((f"part{i}", ("--shard", f"{i}/3")) for i in range(3))]:
            code, output = bench(token_zoo.root, root / name, *extra)
            assert code == 0, output
        parts = [str(root / f"part{i}") for i in range(3)]
        merged = CliRunner().invoke(cli.main, ["bench-merge", *parts, "--out", str(root / "merged")])
        assert merged.exit_code == 0, merged.output
    return {"root": root, "single": root / "single", "merged": root / "merged", "part0": root / "part0"}


def test_three_parts_merge_into_the_single_run(runs: dict[str, Path]) -> None:
    single, merged = results(runs["single"]), results(runs["merged"])
    assert without_timings(merged) == without_timings(single)
    assert [(name, int(seed)) for name, seeds in single["runs"].items() for seed in seeds] == JOBS
    assert (runs["merged"] / "report.md").read_text() == (runs["single"] / "report.md").read_text()
    weights = "checkpoints/{}/seed{}/encoder.safetensors"
    for name, seed in JOBS:  # each job's trained encoder, bit for bit, whichever part ran it
        path = weights.format(name, seed)
        assert (runs["merged"] / path).read_bytes() == (runs["single"] / path).read_bytes()


def test_a_part_holds_its_share_and_no_report(runs: dict[str, Path]) -> None:
    finished = sorted(
        path.relative_to(runs["part0"] / "runs") for path in runs["part0"].glob("runs/*/*.json")
    )
    # jobs 0, 3 and 6 of 8
    assert finished == [Path("flat/seed0.json"), Path("oracle/seed0.json"), Path("probing/seed1.json")]
    assert not (runs["part0"] / "results.json").exists()


def test_a_rerun_skips_every_finished_job_and_says_so(runs: dict[str, Path]) -> None:
    records = {path: path.stat().st_mtime_ns for path in runs["single"].glob("runs/*/*")}
    before = (runs["single"] / "results.json").read_bytes()
    code, output = bench(Path(results(runs["single"])["zoo"]["root"]), runs["single"])
    assert code == 0, output
    assert output.count("finished before, kept") == len(JOBS)
    assert {path: path.stat().st_mtime_ns for path in records} == records
    assert (runs["single"] / "results.json").read_bytes() == before


def test_a_stopped_bench_resumes_with_only_the_unfinished_job(runs: dict[str, Path], tmp_path: Path) -> None:
    out = Path(shutil.copytree(runs["single"], tmp_path / "stopped"))
    (out / "runs/probing/seed0.json").unlink()  # as if stopped during that job
    kept = {path: path.stat().st_mtime_ns for path in out.glob("runs/*/*.json")}
    code, output = bench(Path(results(out)["zoo"]["root"]), out)
    assert code == 0, output
    assert output.count("finished before, kept") == len(JOBS) - 1
    assert {path: path.stat().st_mtime_ns for path in kept} == kept
    assert without_timings(results(out)) == without_timings(results(runs["single"]))


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (("--seeds", "3"), ("holds another bench", "config.seeds: 3 asked now, 2 in")),
        (("--steps", "4"), ("config.emulation.steps: 4 asked now, 3 in",)),
        (("--encoder-option", "width=5"), ("encoder_options.flat.width: 5 asked now",)),
        (("--shard", "4/4"), ("--shard 4/4 is out of range",)),
        (("--shard", "0/9"), ("only 8 jobs",)),
        (("--shard", "half"), ("not of the form i/n",)),
    ],
)
def test_bad_bench_input_is_one_line_and_loses_nothing(
    runs: dict[str, Path], extra: tuple[str, ...], words: tuple[str, ...]
) -> None:
    before = file_hashes(runs["single"])
    code, output = bench(Path(results(runs["single"])["zoo"]["root"]), runs["single"], *extra)
    assert_one_line_error(code, output, *words)
    assert file_hashes(runs["single"]) == before


def test_a_directory_that_is_not_a_bench_is_left_alone(token_zoo, tmp_path: Path) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    code, output = bench(token_zoo.root, tmp_path)
    assert_one_line_error(code, output, "is not empty and holds no bench")
    assert [path.name for path in tmp_path.iterdir()] == ["notes.txt"]


def edit_claim(part: Path, target: Path, key: str, value: Any) -> Path:
    """A copy of ``part`` whose bench.json has ``key`` (dotted) set to ``value`` (and sealed again)."""
    copy = Path(shutil.copytree(part, target))
    claim = json.loads((copy / "bench.json").read_text())
    *path, last = key.split(".")
    node = claim
    for step in path:
        node = node[step]
    node[last] = value
    (copy / "bench.json").write_text(seal_json({k: v for k, v in claim.items() if k != SEAL}))
    return copy


@pytest.mark.parametrize(
    ("key", "value", "words"),
    [
        ("config.seeds", 3, ("parts of different benches", "config.seeds: 2 in")),
        ("zoo.fingerprint", "0" * 64, ("parts of different benches", "zoo.fingerprint")),
        ("encoders", ["flat"], ("parts of different benches", "encoders")),
    ],
)
def test_merging_parts_of_different_benches_is_refused(
    runs: dict[str, Path], tmp_path: Path, key: str, value: Any, words: tuple[str, ...]
) -> None:
    other = edit_claim(runs["root"] / "part1", tmp_path / "other", key, value)
    parts = [str(runs["part0"]), str(other), str(runs["root"] / "part2")]
    result = CliRunner().invoke(cli.main, ["bench-merge", *parts, "--out", str(tmp_path / "merged")])
    assert_one_line_error(result.exit_code, result.output, *words)
    assert not (tmp_path / "merged").exists()


def test_merging_without_every_job_names_the_missing_one(runs: dict[str, Path], tmp_path: Path) -> None:
    parts = [str(runs["part0"]), str(runs["root"] / "part2")]
    result = CliRunner().invoke(cli.main, ["bench-merge", *parts, "--out", str(tmp_path / "merged")])
    assert_one_line_error(result.exit_code, result.output, "no part holds a finished flat seed 1")
    assert not (tmp_path / "merged").exists()


def test_merging_against_another_zoo_is_refused(runs: dict[str, Path], zoo_dir: Path, tmp_path: Path) -> None:
    parts = [str(runs["root"] / f"part{i}") for i in range(3)]
    arguments = ["bench-merge", *parts, "--out", str(tmp_path / "merged"), "--zoo", str(zoo_dir)]
    result = CliRunner().invoke(cli.main, arguments)
    assert_one_line_error(result.exit_code, result.output, "not the parts' zoo")
    assert not (tmp_path / "merged").exists()
