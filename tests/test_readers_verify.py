"""What the README and the card say about which readers verify, checked: rnn_zoo's readers refuse a
swapped shard, a plain ``datasets.load_dataset`` reads it as it is."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import datasets
import pytest

import rnn_zoo
from rnn_zoo.errors import ZooError

FIRST, SECOND = "data/train-00000-of-00003.parquet", "data/train-00001-of-00003.parquet"
README = Path(__file__).resolve().parents[1] / "README.md"


def swap(root: Path, first: str, second: str) -> None:
    shutil.move(root / first, root / "swapping")
    shutil.move(root / second, root / first)
    shutil.move(root / "swapping", root / second)


def test_the_card_and_the_readme_say_which_readers_verify(zoo_dir: Path) -> None:
    card = " ".join((zoo_dir / "README.md").read_text().split())
    readme = " ".join(README.read_text().split())
    for text in (card, readme):
        assert "`rnn_zoo.load_weights`, `rnn_zoo.load_zoo` and `rnn-zoo verify`" in text
        assert "A plain `datasets.load_dataset" in text and "reads the parquet files as they are" in text


def test_swapped_shards_are_refused_by_rnn_zoo_and_read_as_they_are_by_datasets(
    zoo_copy: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def plain_load() -> list[str]:  # in a fresh cache each time: a move keeps the files' mtimes
        monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", Path(tempfile.mkdtemp(dir=tmp_path)))
        return list(datasets.load_dataset(str(zoo_copy), split="train")["model_id"])

    intact = plain_load()
    swap(zoo_copy, FIRST, SECOND)
    swapped = plain_load()
    assert sorted(swapped) == sorted(intact) and swapped != intact  # other rows in order, no error
    for read in (lambda: rnn_zoo.load_zoo(zoo_copy, split="train"), lambda: rnn_zoo.verify_zoo(zoo_copy)):
        with pytest.raises(ZooError, match="train-0000[01]-of-00003"):
            read()
