"""Output folders of benches and builds: damage is one line naming the file, links and refusals leave
nothing behind, and merge checks every part against the plan."""

from __future__ import annotations

import json
import os
import shutil
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
import torch
from bench_helpers import assert_one_line_error
from click.testing import CliRunner
from safetensors.torch import save_file

from rnn_zoo import cli
from rnn_zoo.bench.output import Job, save_job
from rnn_zoo.build.builder import build_zoo, resolve_device
from rnn_zoo.build.merge import merge_parts
from rnn_zoo.build.recipe import Recipe, load_recipe
from rnn_zoo.errors import ZooError
from rnn_zoo.files import atomic_path, sha256
from rnn_zoo.zoo.verify import verify_zoo
from tests.conftest import MICRO_RECIPE

CPU = resolve_device("cpu")
RECORD, EMBEDDINGS = "runs/flat/seed0.json", "runs/flat/seed0.safetensors"
CHECKPOINT = "checkpoints/flat/seed0"


@pytest.fixture(autouse=True)
def stand_in_encoders(monkeypatch: pytest.MonkeyPatch, encoder_builder) -> None:
    monkeypatch.setattr(cli.bench, "bench_encoder_builder", lambda: encoder_builder)


def bench(zoo: Path, out: Path, *extra: str) -> tuple[int, str]:
    arguments = ["bench", "--zoo", str(zoo), "--encoder", "flat", "--preset", "tiny", "--seeds", "1"]
    result = CliRunner().invoke(cli.main, [*arguments, "--steps", "3", "--out", str(out), *extra])
    return result.exit_code, result.output


def bench_merge(parts: list[Path], out: Path) -> tuple[int, str]:
    result = CliRunner().invoke(cli.main, ["bench-merge", *map(str, parts), "--out", str(out)])
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def part(token_zoo, tmp_path_factory: pytest.TempPathFactory, encoder_builder) -> Path:
    """A bench of one job, run as the share 0/1: every job file, no report."""
    out = tmp_path_factory.mktemp("bench") / "part"
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli.bench, "bench_encoder_builder", lambda: encoder_builder)
        code, output = bench(token_zoo.root, out, "--shard", "0/1")
    assert code == 0, output
    return out


def truncate(size: int) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(path.read_bytes()[:size])


def replace_with(data: bytes) -> Callable[[Path], None]:
    return lambda path: path.write_bytes(data)


def flip_at(position: int) -> Callable[[Path], None]:
    def flip(path: Path) -> None:
        data = bytearray(path.read_bytes())
        data[position] ^= 0x01
        path.write_bytes(bytes(data))

    return flip


def edit_record(path: Path) -> None:
    record = json.loads(path.read_text())
    record["emulation"]["best_validation_loss"] = 0.0
    path.write_text(json.dumps(record, indent=2))


def without_config(path: Path) -> None:
    claim = json.loads(path.read_text())
    del claim["config"], claim["self_sha256"]
    path.write_text(json.dumps(claim))


DAMAGE = {  # issue's cases: (file, what is done to it)
    "bench.json truncated": ("bench.json", truncate(500)),
    "bench.json []": ("bench.json", replace_with(b"[]")),
    "bench.json binary": ("bench.json", replace_with(bytes(range(256)))),
    "bench.json without config": ("bench.json", without_config),
    "record truncated": (RECORD, truncate(40)),
    "record []": (RECORD, replace_with(b"[]")),
    "record binary": (RECORD, replace_with(b"\xff\xfe\x00binary")),
    "record value edited": (RECORD, edit_record),
    "embeddings truncated": (EMBEDDINGS, truncate(30)),
    "embeddings header byte flipped": (EMBEDDINGS, flip_at(12)),
    "embeddings byte flipped": (EMBEDDINGS, flip_at(-3)),
    "checkpoint truncated": (f"{CHECKPOINT}/encoder.safetensors", truncate(100)),
    "checkpoint config.json deleted": (f"{CHECKPOINT}/config.json", lambda path: path.unlink()),
    "checkpoint emulator deleted": (f"{CHECKPOINT}/emulator.safetensors", lambda path: path.unlink()),
}


@pytest.mark.parametrize("case", DAMAGE)
def test_damaged_bench_output_is_one_line_on_resume_and_on_merge(
    case: str, part: Path, token_zoo, tmp_path: Path
) -> None:
    name, damage = DAMAGE[case]
    out = Path(shutil.copytree(part, tmp_path / "out"))
    damage(out / name)
    damaged = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    code, output = bench_merge([out], tmp_path / "merged")
    assert_one_line_error(code, output, Path(name).name)
    assert not (tmp_path / "merged" / RECORD).exists()  # nothing damaged copied onward
    code, output = bench(token_zoo.root, out, "--shard", "0/1")
    assert_one_line_error(code, output, Path(name).name)
    if name != "bench.json":
        assert "delete" in output and RECORD in output  # what to do: delete that job to rerun it
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file() and p.name != "lock"} == {
        p: data for p, data in damaged.items() if p.name != "lock"
    }


def test_deleting_a_damaged_jobs_record_reruns_it(part: Path, token_zoo, tmp_path: Path) -> None:
    out = Path(shutil.copytree(part, tmp_path / "out"))
    flip_at(-3)(out / EMBEDDINGS)
    (out / RECORD).unlink()
    code, output = bench(token_zoo.root, out, "--shard", "0/1")
    assert code == 0, output
    assert (out / EMBEDDINGS).read_bytes() == (part / EMBEDDINGS).read_bytes()


def test_a_finished_bench_is_indexed_and_its_index_checked_on_merge(part: Path, tmp_path: Path) -> None:
    code, output = bench_merge([part], tmp_path / "merged")
    assert code == 0, output
    merged = tmp_path / "merged"
    index = json.loads((merged / "index.json").read_text())["files"]
    listed = {p.relative_to(merged).as_posix() for p in merged.rglob("*") if p.is_file()}
    assert set(index) == listed - {"index.json", ".bench/lock"}
    assert all(index[name] == sha256(merged / name) for name in index)
    (merged / "report.md").write_text("edited\n")
    code, output = bench_merge([merged], tmp_path / "again")
    assert_one_line_error(code, output, "report.md", "index.json")


def test_a_rerun_sweeps_temporaries_of_killed_bench_writes(part: Path, token_zoo, tmp_path: Path) -> None:
    out = Path(shutil.copytree(part, tmp_path / "out"))
    leftovers = [out / "runs/flat/.seed0.json.k1ll3d_x.tmp", out / CHECKPOINT / ".config.json.abcdefgh.tmp"]
    for path in leftovers:
        path.write_bytes(b"half a file")
    code, output = bench(token_zoo.root, out, "--shard", "0/1")
    assert code == 0, output
    assert not any(path.exists() for path in leftovers)


@pytest.mark.parametrize("mask", [0o022, 0o002, 0o077])
def test_bench_files_follow_the_umask(tmp_path: Path, mask: int) -> None:
    old = os.umask(mask)
    try:
        save_job(tmp_path, Job("flat", 0), {}, torch.zeros(2, 3))
        with atomic_path(tmp_path / "replaced.safetensors") as temporary:
            save_file({"x": torch.zeros(2)}, str(temporary))  # creates a new file in the temporary's place
    finally:
        os.umask(old)
    for path in (tmp_path / EMBEDDINGS, tmp_path / RECORD, tmp_path / "replaced.safetensors"):
        assert stat.S_IMODE(path.stat().st_mode) == 0o666 & ~mask, path


# Builds: refusals leave nothing, links are refused.


def micro(seed: int = 2) -> Recipe:
    """A formal-language recipe that builds in a fraction of a second: 3 runs of 2 steps, 3 shards."""
    return load_recipe("formal-languages", "tiny", {**MICRO_RECIPE, "seed": seed})


def test_a_refused_build_leaves_no_lock(tmp_path: Path) -> None:
    out = tmp_path / "out"
    out.mkdir()
    (out / "notes.txt").write_text("mine")
    with pytest.raises(ZooError, match="holds no rnn-zoo build"):
        build_zoo(micro(), out, device=CPU)
    assert sorted(p.name for p in out.rglob("*")) == ["notes.txt"]


def test_a_fresh_out_holding_a_linked_build_state_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    out = tmp_path / "out"
    out.mkdir()
    (out / ".build").symlink_to(outside)
    with pytest.raises(ZooError, match=r"\.build is a link"):
        build_zoo(micro(), out, device=CPU)
    assert list(outside.iterdir()) == []


def test_a_resumed_part_whose_data_is_a_link_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "part"
    build_zoo(micro(), out, device=CPU, part=(0, 2))
    outside = tmp_path / "outside"
    shutil.move(out / "data", outside)
    (out / "data").symlink_to(outside)
    before = sorted(p.name for p in outside.iterdir())
    for shard in out.glob(".build/*.json"):
        shard.unlink()  # as if stopped: the rerun would write the shards again
    with pytest.raises(ZooError, match="data is a link"):
        build_zoo(micro(), out, device=CPU, part=(0, 2))
    assert sorted(p.name for p in outside.iterdir()) == before


# Merge checks each part against the plan.
@pytest.fixture(scope="module")
def parts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Parts 0/2 and 1/2 of seed 2, part 1/2 of seed 5, and the single build of seed 2."""
    root = tmp_path_factory.mktemp("parts")
    made = {"single": root / "single", "p0": root / "p0", "p1": root / "p1", "p1_seed5": root / "p1s5"}
    build_zoo(micro(2), made["single"], device=CPU)
    build_zoo(micro(2), made["p0"], device=CPU, part=(0, 2))
    build_zoo(micro(2), made["p1"], device=CPU, part=(1, 2))
    build_zoo(micro(5), made["p1_seed5"], device=CPU, part=(1, 2))
    return made


def shard_files(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in [*root.glob("data/*"), *root.glob("weights/*.safetensors"), *root.glob(".build/*.json")]
    )


def copy_parts(parts: dict[str, Path], tmp_path: Path) -> tuple[Path, Path]:
    return tuple(Path(shutil.copytree(parts[name], tmp_path / name)) for name in ("p0", "p1"))  # type: ignore[return-value]


def test_a_shard_copied_in_from_another_seed_is_refused_naming_part_and_shard(
    parts: dict[str, Path], tmp_path: Path
) -> None:
    p0, p1 = copy_parts(parts, tmp_path)
    for name in shard_files(parts["p1_seed5"]):
        shutil.copyfile(parts["p1_seed5"] / name, p1 / name)
    with pytest.raises(ZooError) as error:
        merge_parts([p0, p1], tmp_path / "merged")
    assert str(p1) in str(error.value) and "validation-00000-of-00001" in str(error.value)
    assert not (tmp_path / "merged").exists()


def test_a_shard_with_a_forged_record_is_refused(parts: dict[str, Path], tmp_path: Path) -> None:
    p0, p1 = copy_parts(parts, tmp_path)
    for name in shard_files(parts["p1_seed5"]):
        if name.startswith(("data/", "weights/")):
            shutil.copyfile(parts["p1_seed5"] / name, p1 / name)
    for record in p1.glob(".build/*-of-*.json"):  # forged to match the swapped files
        stem = record.stem
        record.write_text(
            json.dumps(
                {
                    "data": sha256(p1 / f"data/{stem}.parquet"),
                    "weights": sha256(p1 / f"weights/{stem}.safetensors"),
                }
            )
        )
    with pytest.raises(ZooError, match=f"{p1}.*validation-00000-of-00001.*does not hold the runs"):
        merge_parts([p0, p1], tmp_path / "merged")


def test_a_part_holding_a_shard_it_does_not_own_is_refused(parts: dict[str, Path], tmp_path: Path) -> None:
    p0, p1 = copy_parts(parts, tmp_path)
    for name in shard_files(p1):
        shutil.copyfile(p1 / name, p0 / name)
    with pytest.raises(ZooError, match=f"part {p0} \\(--shard 0/2\\) holds .*validation-00000-of-00001"):
        merge_parts([p0, p1], tmp_path / "merged")


def test_a_damaged_or_missing_shard_names_the_part_that_owns_it(
    parts: dict[str, Path], tmp_path: Path
) -> None:
    p0, p1 = copy_parts(parts, tmp_path)
    flip_at(-5)(p1 / "data/validation-00000-of-00001.parquet")
    with pytest.raises(ZooError, match=f"no part holds shard validation-00000-of-00001.*belongs to {p1}"):
        merge_parts([p0, p1], tmp_path / "merged")
    with pytest.raises(ZooError, match="no part holds shard validation-00000-of-00001.*none of the parts"):
        merge_parts([p0], tmp_path / "merged")


def test_a_merge_differs_from_the_single_build_only_in_its_build_record(
    parts: dict[str, Path], tmp_path: Path
) -> None:
    merged = merge_parts([parts["p0"], parts["p1"]], tmp_path / "merged").root
    verify_zoo(merged)
    single = parts["single"]
    for name in shard_files(single):  # every shard and its record, byte for byte
        assert (merged / name).read_bytes() == (single / name).read_bytes(), name
    ours, theirs = (
        json.loads((merged / "zoo.json").read_text()),
        json.loads((single / "zoo.json").read_text()),
    )
    assert ours["build"] == {"merged_parts": 2} and theirs["build"] == {"device": "cpu"}
    assert {**ours, "build": None} == {**theirs, "build": None}
    assert "merged_parts" in (Path(__file__).parents[1] / "README.md").read_text()
