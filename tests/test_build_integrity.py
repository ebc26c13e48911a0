"""Builds and merges that cannot mix, re-record or keep damage: the lock, shard records, sweeping."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import socket
from contextlib import AbstractContextManager
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from rnn_zoo.build.builder import build_zoo, resolve_device
from rnn_zoo.build.merge import merge_parts
from rnn_zoo.build.output import build_folder
from rnn_zoo.build.recipe import Recipe, load_recipe
from rnn_zoo.cli import main
from rnn_zoo.errors import ZooError
from rnn_zoo.files import sha256
from rnn_zoo.zoo.manifest import finalize_zoo, open_zoo
from rnn_zoo.zoo.shards import ZooInfo
from rnn_zoo.zoo.verify import verify_zoo
from tests.conftest import MICRO_RECIPE

CPU = resolve_device("cpu")


def micro(seed: int = 0) -> Recipe:
    """A formal-language recipe that builds in a fraction of a second: 3 runs of 2 steps, 1 run a shard."""
    return load_recipe("formal-languages", "tiny", {**MICRO_RECIPE, "seed": seed})


def zoo_hashes(root: Path) -> dict[str, str]:
    """sha256 of every shard, by name."""
    files = [*root.glob("data/*.parquet"), *root.glob("weights/*.safetensors")]
    return {str(path.relative_to(root)): sha256(path) for path in sorted(files)}


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[int, Path]:
    """The micro zoo built once with seed 0 and once with seed 1: the references."""
    roots = {seed: tmp_path_factory.mktemp(f"seed{seed}") / "zoo" for seed in (0, 1)}
    for seed, root in roots.items():
        build_zoo(micro(seed), root, device=CPU)
    return roots


@pytest.fixture
def zoo(built: dict[int, Path], tmp_path: Path) -> Path:
    """A private copy of the seed-0 micro zoo."""
    return Path(shutil.copytree(built[0], tmp_path / "zoo", symlinks=True))


def output_lock(out: Path) -> AbstractContextManager[None]:
    """Hold the write lock of the build directory ``out``, as a build does."""
    return build_folder(out).writing(lambda: None)


def flip(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))


# 1. One writer at a time.
def test_a_second_build_into_a_locked_directory_is_one_line_naming_the_holder(tmp_path: Path) -> None:
    out = tmp_path / "zoo"
    args = ["build", "--task", "formal-languages", "--preset", "tiny", "--runs", "3", "--out", str(out)]
    with output_lock(out):
        result = CliRunner().invoke(main, args)
    lines = result.output.strip().splitlines()
    assert result.exit_code == 1 and len(lines) == 1, result.output
    assert f"pid {os.getpid()} on host {socket.gethostname()}" in lines[0]
    assert sorted(path.name for path in out.rglob("*")) == []  # nothing written, nothing left


def test_a_build_racing_a_writer_that_has_not_written_its_claim_yet_is_told_of_the_writer(
    tmp_path: Path,
) -> None:
    # The writer holds the lock and has written a shard's file but, for a moment, no readable
    # claim: the folder looks like someone else's, but it is being written, and that is the answer.
    out = tmp_path / "zoo"
    with output_lock(out):
        (out / "data").mkdir()
        (out / "data" / "train-00000-of-00001.parquet").write_bytes(b"being written")
        with pytest.raises(ZooError, match="being written by another rnn-zoo build"):
            build_zoo(micro(0), out, device=CPU)


def test_the_lock_is_free_again_after_the_holder_fails(tmp_path: Path) -> None:
    with pytest.raises(RuntimeError), output_lock(tmp_path):
        raise RuntimeError("killed")
    with output_lock(tmp_path):
        pass


def race(seed: int, outs: list[str], barrier: object, results: object) -> None:
    """One of two builders: at each barrier, build ``micro(seed)`` into the next directory."""
    torch.set_num_threads(1)
    for out in outs:
        barrier.wait(timeout=60)
        try:
            build_zoo(micro(seed), Path(out), device=CPU)
            results.put((out, seed, "built"))
        except Exception as error:  # a ZooError is the expected refusal; anything else fails the test
            results.put((out, seed, f"{type(error).__name__}: {error}"))


@pytest.mark.slow
def test_two_builds_started_at_once_never_mix(built: dict[int, Path], tmp_path: Path) -> None:
    outs = [str(tmp_path / f"race{attempt}") for attempt in range(20)]
    context = multiprocessing.get_context("spawn")
    barrier, results = context.Barrier(2), context.Queue()
    workers = [context.Process(target=race, args=(seed, outs, barrier, results)) for seed in (0, 1)]
    for worker in workers:
        worker.start()
    outcomes = [results.get(timeout=120) for _ in range(2 * len(outs))]
    for worker in workers:
        worker.join(timeout=30)
    references = {seed: zoo_hashes(root) for seed, root in built.items()}
    for out in outs:
        mine = [(seed, message) for where, seed, message in outcomes if where == out]
        winners = [seed for seed, message in mine if message == "built"]
        assert len(winners) == 1, mine
        verify_zoo(out)
        assert zoo_hashes(Path(out)) == references[winners[0]]
        (loser,) = [message for seed, message in mine if message != "built"]
        assert "being written by another rnn-zoo build" in loser or "another recipe" in loser


# 2. A rerun checks finished shards against their records.
def test_a_rerun_build_rebuilds_a_flipped_shard_instead_of_recording_it(
    built: dict[int, Path], zoo: Path
) -> None:
    shard = next(zoo.glob("weights/*.safetensors"))
    flip(shard)
    report = build_zoo(micro(0), zoo, device=CPU)
    assert report.runs_trained == 1  # the damaged shard's run, and only it
    verify_zoo(zoo)
    assert zoo_hashes(zoo) == zoo_hashes(built[0])


def test_a_rerun_merge_refuses_a_part_whose_shard_was_flipped(tmp_path: Path) -> None:
    parts = [tmp_path / f"part{index}" for index in range(2)]
    for index, part in enumerate(parts):
        build_zoo(micro(0), part, device=CPU, part=(index, 2))
    flip(next(parts[0].glob("data/*.parquet")))
    with pytest.raises(ZooError, match="no part holds shard"):
        merge_parts(parts, tmp_path / "merged")


def test_a_rerun_merge_recopies_a_flipped_shard_of_the_merged_zoo(
    built: dict[int, Path], tmp_path: Path
) -> None:
    parts = [tmp_path / f"part{index}" for index in range(2)]
    for index, part in enumerate(parts):
        build_zoo(micro(0), part, device=CPU, part=(index, 2))
    merged = merge_parts(parts, tmp_path / "merged").root
    flip(next(merged.glob("data/*.parquet")))
    merge_parts(parts, merged)
    assert zoo_hashes(merged) == zoo_hashes(built[0])


def test_finalising_refuses_a_shard_that_no_longer_matches_its_record(zoo_copy: Path) -> None:
    before = (zoo_copy / "weights" / "index.json").read_bytes()
    opened = open_zoo(zoo_copy)
    flip(zoo_copy / "weights" / "ood-00000-of-00001.safetensors")
    info = ZooInfo(opened.name, "x", "y", opened.schema, opened.manifest["recipe"], opened.manifest["build"])
    with pytest.raises(
        ZooError, match="ood-00000-of-00001.safetensors: sha256 does not match the one recorded"
    ):
        finalize_zoo(zoo_copy, info)
    assert (zoo_copy / "weights" / "index.json").read_bytes() == before


# 6. Leftovers of killed writes.
def test_a_build_sweeps_the_temporary_files_of_killed_writes(built: dict[int, Path], zoo: Path) -> None:
    leftovers = [zoo / "data" / ".ood-00000-of-00001.parquet.k1ll3d_x.tmp", zoo / ".zoo.json.abcdefgh.tmp"]
    for path in leftovers:
        path.write_bytes(b"half a file")
    assert build_zoo(micro(0), zoo, device=CPU).runs_trained == 0
    assert not any(path.exists() for path in leftovers)
    assert zoo_hashes(zoo) == zoo_hashes(built[0])
