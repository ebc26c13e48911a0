"""A ref in the Hugging Face cache is read offline as it is: it must not lead a reader out of the cache."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from hub_sandbox import REPO_ID, isolate_hugging_face, make_small_zoo
from test_hub_load import MAIN, cache_repo

from rnn_zoo import load_weights, load_zoo
from rnn_zoo.cli import main
from rnn_zoo.errors import ZooError
from rnn_zoo.zoo.verify import verify_zoo

ESCAPES = ["../../../../outside/snap", "../../../../outside/snap/", "../" + MAIN]


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    return isolate_hugging_face(monkeypatch, tmp_path / "hf", offline=True)


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A whole, valid zoo at tmp_path/outside/snap: where ``../../../../outside/snap`` lands from a snapshot."""
    return make_small_zoo(tmp_path / "outside" / "snap").root


def point_main_at(cache: Path, commit: str) -> Path:
    ref = cache / ("datasets--" + REPO_ID.replace("/", "--")) / "refs" / "main"
    ref.write_text(commit)
    return ref


@pytest.mark.parametrize("commit", ESCAPES)
def test_a_ref_naming_a_folder_outside_the_cache_is_refused_by_every_reader(
    cache: Path, outside: Path, tmp_path: Path, commit: str
) -> None:
    cache_repo(cache, make_small_zoo(tmp_path / "cached"), MAIN, "main")
    storage = cache / ("datasets--" + REPO_ID.replace("/", "--"))
    if commit == "../" + MAIN:  # a copy of the real snapshot one level up: in the cache, not a snapshot
        shutil.copytree(storage / "snapshots" / MAIN, storage / MAIN, symlinks=True)
    point_main_at(cache, commit)
    readers = [lambda: load_weights(REPO_ID, "train"), lambda: load_zoo(REPO_ID), lambda: verify_zoo(REPO_ID)]
    for read in readers:
        with pytest.raises(ZooError, match="outside its folder.*delete .*refs/main") as error:
            read()
        assert "\n" not in str(error.value)
    for command in ("info", "verify"):
        result = CliRunner().invoke(main, [command, REPO_ID])
        lines = result.output.strip().splitlines()
        assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: "), result.output
        assert "outside its folder" in lines[0]


def test_a_ref_naming_a_cached_commit_still_reads(cache: Path, tmp_path: Path) -> None:
    zoo = make_small_zoo(tmp_path / "cached")
    cache_repo(cache, zoo, MAIN, "main")
    point_main_at(cache, MAIN)
    assert load_weights(REPO_ID, "train").metadata.equals(load_weights(zoo.root, "train").metadata)
