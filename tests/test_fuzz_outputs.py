"""Seeded generated damage to bench outputs and merge parts: always one ZooError naming the damage.

Each case truncates, flips a bit in, appends to, deletes or swaps in (from another build) one
file; the readers must refuse it with a ZooError (no other exception: no traceback) and never
accept it silently.
"""

from __future__ import annotations

import random
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from rnn_zoo import cli
from rnn_zoo.bench.output import gather_parts
from rnn_zoo.build.builder import build_zoo, resolve_device
from rnn_zoo.build.merge import merge_parts
from rnn_zoo.build.recipe import load_recipe
from rnn_zoo.errors import ZooError
from tests.conftest import MICRO_RECIPE

SEED = 23
BENCH_CASES, MERGE_CASES = 120, 80


def mutation(rng: random.Random) -> tuple[str, Callable[[Path], None]]:
    """One random change of a file's bytes (each changes them, or removes the file)."""
    kind = rng.choice(["truncate", "flip", "append", "delete", "empty"])
    salt = rng.random()

    def apply(path: Path) -> None:
        data = bytearray(path.read_bytes())
        if kind == "delete":
            path.unlink()
        elif kind == "truncate":
            path.write_bytes(bytes(data[: int(salt * len(data))]))
        elif kind == "flip":
            data[int(salt * len(data))] ^= 1 << int(salt * 8000) % 8
            path.write_bytes(bytes(data))
        elif kind == "append":
            path.write_bytes(bytes(data) + b"\x00}x")
        else:
            path.write_bytes(b"" if salt < 0.5 else b"[]")

    return kind, apply


def files_of(root: Path) -> list[str]:
    return sorted(
        p.relative_to(root).as_posix()
        for p in root.rglob("*")
        if p.is_file() and p.name != "lock" and not p.name.startswith(".")
    )


@pytest.fixture(scope="module")
def benches(token_zoo, tmp_path_factory: pytest.TempPathFactory, encoder_builder) -> dict[str, Path]:
    """A bench share (job files only) and the finished bench merged from it (indexed)."""
    root = tmp_path_factory.mktemp("fuzz-bench")
    arguments = ["bench", "--zoo", str(token_zoo.root), "--encoder", "flat,probing", "--preset", "tiny"]
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(cli.bench, "bench_encoder_builder", lambda: encoder_builder)
        run = CliRunner().invoke(
            cli.main,
            [*arguments, "--seeds", "1", "--steps", "2", "--out", str(root / "part"), "--shard", "0/1"],
        )
        assert run.exit_code == 0, run.output
        merged = CliRunner().invoke(
            cli.main, ["bench-merge", str(root / "part"), "--out", str(root / "done")]
        )
        assert merged.exit_code == 0, merged.output
    return {"part": root / "part", "done": root / "done"}


def bench_cases() -> list[tuple[str, int]]:
    return [(("part", "done")[index % 2], index) for index in range(BENCH_CASES)]


@pytest.mark.parametrize(("which", "index"), bench_cases())
def test_generated_damage_to_a_bench_output_is_refused(
    benches: dict[str, Path], tmp_path: Path, which: str, index: int
) -> None:
    rng = random.Random(SEED * 10_000 + index)
    out = Path(shutil.copytree(benches[which], tmp_path / which))
    name = rng.choice(files_of(out))
    kind, apply = mutation(rng)
    apply(out / name)
    with pytest.raises(ZooError) as error:
        gather_parts([out])
    assert Path(name).name in str(error.value), (name, kind, str(error.value))


@pytest.fixture(scope="module")
def build_parts(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Parts 0/2 and 1/2 of a micro build with seed 2, and both parts of seed 5 (the foreign files)."""
    root = tmp_path_factory.mktemp("fuzz-merge")
    device = resolve_device("cpu")
    made = {}
    for seed in (2, 5):
        recipe = load_recipe("formal-languages", "tiny", {**MICRO_RECIPE, "seed": seed})
        for index in range(2):
            made[f"s{seed}p{index}"] = root / f"s{seed}p{index}"
            build_zoo(recipe, made[f"s{seed}p{index}"], device=device, part=(index, 2))
    return made


@pytest.mark.parametrize("index", range(MERGE_CASES))
def test_generated_damage_to_a_merge_part_is_refused(
    build_parts: dict[str, Path], tmp_path: Path, index: int
) -> None:
    rng = random.Random(SEED * 20_000 + index)
    parts = [Path(shutil.copytree(build_parts[f"s2p{i}"], tmp_path / f"p{i}")) for i in range(2)]
    victim = rng.randrange(2)
    name = rng.choice(
        [*files_of(parts[victim]), *(f".build/{p.name}" for p in parts[victim].glob(".build/*.json"))]
    )
    foreign = build_parts[f"s5p{victim}"] / name
    if (
        rng.random() < 0.3
        and foreign.is_file()
        and foreign.read_bytes() != (parts[victim] / name).read_bytes()
    ):
        kind = "swapped in from seed 5"
        shutil.copyfile(foreign, parts[victim] / name)
    else:
        kind, apply = mutation(rng)
        apply(parts[victim] / name)
    with pytest.raises(ZooError):
        merge_parts(parts, tmp_path / "merged")
    assert not (tmp_path / "merged" / "zoo.json").exists(), (name, kind)
