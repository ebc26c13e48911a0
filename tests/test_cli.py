"""`rnn-zoo info` and `rnn-zoo verify`, and one clear line for every bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

import rnn_zoo
from rnn_zoo.cli import main


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def assert_one_clear_line(code: int, output: str, *words: str) -> None:
    assert code == 1
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if line.strip()]
    assert len(lines) == 1, output
    for word in words:
        assert word in lines[0]


def flip_byte(path: Path, offset: int = -100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0xFF
    path.write_bytes(bytes(data))


def test_help_lists_the_commands() -> None:
    code, output = run("--help")
    assert code == 0 and "info" in output and "verify" in output


def test_info_summarises_splits_metrics_and_sizes(zoo_dir: Path) -> None:
    code, output = run("info", str(zoo_dir))
    assert code == 0, output
    assert "format   v1" in output
    assert "13,766 parameters" in output
    train = next(line for line in output.splitlines() if line.startswith("train "))
    assert train.split() == ["train", "5", "10", "10"]
    assert "performance" in output and "weights/" in output


def test_verify_passes_a_good_zoo(zoo_dir: Path) -> None:
    code, output = run("verify", str(zoo_dir))
    assert code == 0 and output.strip().endswith("verified")


@pytest.mark.parametrize(
    "kind", ["data/train-00001-of-00003.parquet", "weights/ood-00000-of-00001.safetensors"]
)
def test_verify_names_a_shard_with_a_flipped_byte(zoo_copy: Path, kind: str) -> None:
    flip_byte(zoo_copy / kind)
    code, output = run("verify", str(zoo_copy))
    assert_one_clear_line(code, output, kind, "sha256")


def test_verify_catches_weights_that_differ_between_parquet_and_safetensors(zoo_copy: Path) -> None:
    # Rewrite one safetensors shard with a changed weight and a matching sha256 in a resealed
    # index, so only the parquet-versus-safetensors comparison can notice.
    from safetensors import safe_open
    from safetensors.numpy import load_file, save_file

    from rnn_zoo.files import seal_json, sha256

    path = zoo_copy / "weights" / "validation-00000-of-00001.safetensors"
    with safe_open(str(path), framework="numpy") as handle:
        metadata = handle.metadata()
    tensors = load_file(path)
    tensors["head.bias"][1, 0] += 1.0
    save_file(tensors, str(path), metadata=metadata)
    index_path = zoo_copy / "weights" / "index.json"
    index = json.loads(index_path.read_text())
    index["splits"]["validation"]["shards"][0]["sha256"]["weights"] = sha256(path)
    index_path.write_text(seal_json(index))
    code, output = run("verify", str(zoo_copy))
    assert_one_clear_line(code, output, "head.bias", "differs")


def test_a_path_that_is_not_a_zoo(tmp_path: Path) -> None:
    assert_one_clear_line(*run("info", str(tmp_path)), "not an rnn-zoo zoo", "zoo.json")
    assert_one_clear_line(*run("verify", str(tmp_path / "missing")), "no zoo at")


def test_a_zoo_of_a_newer_format_version(zoo_copy: Path) -> None:
    manifest = json.loads((zoo_copy / "zoo.json").read_text())
    manifest["format_version"] = 3  # 2 is a zoo of several configs, which this rnn-zoo reads
    (zoo_copy / "zoo.json").write_text(json.dumps(manifest))
    assert_one_clear_line(*run("info", str(zoo_copy)), "format version 3", "upgrade rnn-zoo")
    with pytest.raises(rnn_zoo.ZooError, match="format version 3"):
        rnn_zoo.load_weights(zoo_copy, "train")


def test_a_missing_split(zoo_dir: Path) -> None:
    with pytest.raises(rnn_zoo.ZooError, match="no split 'test'; it has: train, validation, ood"):
        rnn_zoo.load_weights(zoo_dir, "test")
    with pytest.raises(rnn_zoo.ZooError, match="no split 'test'"):
        rnn_zoo.load_zoo(zoo_dir, split="test")


def test_an_unknown_zoo_name(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with pytest.raises(rnn_zoo.ZooError, match="no zoo at .no-such-zoo."):
        rnn_zoo.load_weights("no-such-zoo", "train")


def test_a_damaged_manifest(zoo_copy: Path) -> None:
    (zoo_copy / "zoo.json").write_text("{not json")
    assert_one_clear_line(*run("verify", str(zoo_copy)), "not valid JSON")


def test_info_and_verify_run_in_a_fresh_process(zoo_dir: Path) -> None:
    # A fresh interpreter: no module another test imported (pyarrow.compute, say) is loaded.
    for command in ("info", "verify"):
        done = subprocess.run(
            [sys.executable, "-m", "rnn_zoo", command, str(zoo_dir)], capture_output=True, text=True
        )
        assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert (
        "metrics at the last snapshot"
        in subprocess.run(
            [sys.executable, "-m", "rnn_zoo", "info", str(zoo_dir)], capture_output=True, text=True
        ).stdout
    )
