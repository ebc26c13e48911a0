"""Generated damage of other kinds than flipped bytes (tests/test_fuzz.py): files truncated, deleted,
replaced by the same file of another zoo, or swapped with another file of the zoo. verify names
a damaged file in one line, push refuses, the loaders refuse or return exactly the intact zoo,
``rnn-zoo info`` answers or refuses in one line: never a traceback, never damage accepted.
"""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest
from click.testing import CliRunner
from hub_sandbox import make_small_zoo
from test_fuzz import assert_loaders_refuse_or_agree, assert_verify_names, zoo_files

import rnn_zoo
from rnn_zoo.cli import main
from rnn_zoo.errors import ZooError
from rnn_zoo.publish.push import Release, push_zoo

SPLITS = ("train", "validation", "ood")
CONFIGS = ("lstm-1x16", "lstm-2x8")
SMALL_FILES = [
    "README.md",
    "data/ood-00000-of-00001.parquet",
    "data/train-00000-of-00002.parquet",
    "data/train-00001-of-00002.parquet",
    "data/validation-00000-of-00001.parquet",
    "weights/index.json",
    "weights/ood-00000-of-00001.safetensors",
    "weights/train-00000-of-00002.safetensors",
    "weights/train-00001-of-00002.safetensors",
    "weights/validation-00000-of-00001.safetensors",
    "zoo.json",
]


def generated_cases() -> list[tuple[str, str, tuple[str, ...]]]:
    """(zoo, damage, files): every file truncated twice and deleted in both zoos, replaced from the
    other build, and every pair of files of one kind swapped."""
    rng = random.Random(2023)
    cases = []
    for name in SMALL_FILES:
        cases += [("small", f"truncate:{rng.random():.6f}", (name,)), ("small", "truncate:0", (name,))]
        cases += [("small", "delete", (name,)), ("small", "other-build", (name,))]
    for suffix in (".parquet", ".safetensors", ".json"):
        same_kind = [name for name in SMALL_FILES if name.endswith(suffix)]
        cases += [("small", "swap", pair) for pair in itertools.combinations(same_kind, 2)]
    cases.append(("small", "swap", ("README.md", "zoo.json")))
    for index in range(19):  # the zoo of two configs: its files by position, found when it is made
        cases += [
            ("configs", f"truncate:{rng.random():.6f}", (str(index),)),
            ("configs", "delete", (str(index),)),
        ]
    return cases


CASES = generated_cases()


@pytest.fixture(scope="module")
def zoos(tmp_path_factory: pytest.TempPathFactory, configs_zoo: Path) -> dict[str, Path]:
    import shutil

    root = tmp_path_factory.mktemp("fuzz-files")
    return {
        "small": make_small_zoo(root / "small").root,
        "other": make_small_zoo(root / "other", seed=1).root,
        "configs": Path(shutil.copytree(configs_zoo, root / "configs")),
    }


@pytest.fixture(scope="module")
def originals(zoos: dict[str, Path]) -> dict[str, dict[tuple, object]]:
    return {
        "small": {(None, split): rnn_zoo.load_weights(zoos["small"], split) for split in SPLITS},
        "configs": {
            (config, split): rnn_zoo.load_weights(zoos["configs"], split, config=config)
            for config in CONFIGS
            for split in SPLITS
        },
    }


def damage(root: Path, other: Path, kind: str, names: tuple[str, ...]) -> None:
    paths = [root / name for name in names]
    if kind.startswith("truncate:"):
        data = paths[0].read_bytes()
        paths[0].write_bytes(data[: int(float(kind.partition(":")[2]) * len(data))])
    elif kind == "delete":
        paths[0].unlink()
    elif kind == "other-build":
        paths[0].write_bytes((other / names[0]).read_bytes())
    else:
        first, second = (path.read_bytes() for path in paths)
        paths[0].write_bytes(second)
        paths[1].write_bytes(first)


def test_there_are_enough_cases_and_the_layout_is_the_one_named(zoos: dict[str, Path]) -> None:
    assert len(CASES) >= 90
    assert zoo_files(zoos["small"]) == SMALL_FILES and len(zoo_files(zoos["configs"])) == 19
    for name in SMALL_FILES:  # replacing a file by the other build's is a change of every one
        assert (zoos["small"] / name).read_bytes() != (zoos["other"] / name).read_bytes(), name


@pytest.mark.parametrize(("zoo", "kind", "names"), CASES)
def test_damage_is_refused_in_one_line_or_read_exactly(
    zoos: dict[str, Path], originals: dict, zoo: str, kind: str, names: tuple[str, ...]
) -> None:
    root = zoos[zoo]
    if zoo == "configs":
        names = (zoo_files(root)[int(names[0])],)
    intact = {name: (root / name).read_bytes() for name in zoo_files(root)}
    damage(root, zoos["other"], kind, names)
    try:
        assert_verify_names(root, names[0]) if len(names) == 1 else assert_verify_names_one_of(root, names)
        if kind == "delete" and names[0].endswith("README.md"):  # the loaders do not read the card
            assert_load_zoo_agrees(root, originals[zoo])
        else:
            for name in names:
                assert_loaders_refuse_or_agree(root, name, originals[zoo])
        with pytest.raises(ZooError):
            push_zoo(root, Release("someone/zoo"), token="hf_test", api=object())
        info = CliRunner().invoke(main, ["info", str(root)])
        lines = [line for line in info.output.splitlines() if line.strip()]
        assert isinstance(info.exception, SystemExit) or info.exception is None, info.exception
        assert info.exit_code == 0 or (info.exit_code == 1 and len(lines) == 1), info.output
    finally:
        for name, data in intact.items():
            (root / name).write_bytes(data)


def assert_verify_names_one_of(root: Path, names: tuple[str, ...]) -> None:
    result = CliRunner().invoke(main, ["verify", str(root)])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (names, result.exception)
    assert len(lines) == 1 and any(name in lines[0] for name in names), (names, result.output)


def assert_load_zoo_agrees(root: Path, originals: dict[tuple, object]) -> None:
    """load_zoo gives, column for column, the metadata and weights load_weights gave of the intact zoo."""
    for (config, split), original in originals.items():
        rows = rnn_zoo.load_zoo(root, split=split, config=config).with_format("arrow")[:]
        assert rows.select(original.metadata.column_names).equals(original.metadata), (config, split)
