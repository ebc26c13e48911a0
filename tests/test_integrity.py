"""A zoo is what its index says, or it does not load: damaged and hostile zoos, reader by reader."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import pyarrow.parquet as pq
import pytest
import torch
from click.testing import CliRunner
from safetensors.numpy import load_file

import rnn_zoo
from rnn_zoo.cli import main
from rnn_zoo.errors import ZooError
from rnn_zoo.files import seal_json, sha256
from rnn_zoo.publish.push import Release, push_zoo
from rnn_zoo.zoo import integrity
from rnn_zoo.zoo.index import card_sha256
from rnn_zoo.zoo.integrity import file_sha256
from rnn_zoo.zoo.verify import verify_zoo

TRAIN0 = "train-00000-of-00003"
DATA, WEIGHTS = f"data/{TRAIN0}.parquet", f"weights/{TRAIN0}.safetensors"


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def assert_one_line(code: int, output: str, *words: str) -> None:
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and "Traceback" not in output, output
    for word in words:
        assert word in lines[0], output


def flip_payload_byte(path: Path) -> None:
    """Flip a byte of a safetensors shard's tensor data (the last bytes: the last tensor)."""
    data = bytearray(path.read_bytes())
    data[-5] ^= 0x01
    path.write_bytes(bytes(data))


def edit_index(root: Path, change: Callable[[dict], None]) -> None:
    """Change weights/index.json and seal it again, so only the structure checks can object."""
    path = root / "weights" / "index.json"
    index = json.loads(path.read_text())
    change(index)
    path.write_text(seal_json(index))


def record_card(root: Path) -> None:
    """Record the card as it now is in a resealed index (as if the build had written it so)."""
    card = (root / "README.md").read_bytes()
    edit_index(root, lambda index: index["files"].update({"README.md": card_sha256(card, "synthetic")}))


def record_manifest(root: Path, manifest: object) -> None:
    text = json.dumps(manifest)
    (root / "zoo.json").write_text(text)
    digest = sha256(root / "zoo.json")
    edit_index(root, lambda index: index["files"].update({"zoo.json": digest}))


def every_reader(root: Path) -> list[Callable[[], object]]:
    return [
        lambda: rnn_zoo.load_weights(root, "train"),
        lambda: rnn_zoo.load_zoo(root, split="train"),
        lambda: rnn_zoo.load_zoo(root),
        lambda: verify_zoo(root),
        lambda: push_zoo(root, Release("someone/zoo"), token="hf_test", api=object()),
    ]


# 3. Paths are names.
@pytest.mark.parametrize("name", ["../../outside.parquet", "/etc/hostname", "data/../../x.parquet"])
def test_an_index_naming_files_outside_the_zoo_is_refused_by_every_reader(zoo_copy: Path, name: str) -> None:
    shutil.copy(zoo_copy / DATA, zoo_copy.parent / "outside.parquet")
    edit_index(zoo_copy, lambda index: index["splits"]["train"]["shards"][0].update({"data_file": name}))
    for read in every_reader(zoo_copy):
        with pytest.raises(ZooError, match="outside the zoo"):
            read()
    assert_one_line(*run("info", str(zoo_copy)), "outside the zoo", name)
    assert_one_line(*run("verify", str(zoo_copy)), "outside the zoo", name)


def test_an_index_naming_another_file_of_the_zoo_is_refused(zoo_copy: Path) -> None:
    edit_index(
        zoo_copy, lambda index: index["splits"]["train"]["shards"][0].update({"data_file": "zoo.json"})
    )
    assert_one_line(*run("verify", str(zoo_copy)), "index.json is damaged", "'zoo.json', not")


def test_a_shard_that_links_outside_the_zoo_is_refused(zoo_copy: Path, tmp_path: Path) -> None:
    outside = tmp_path / "elsewhere.parquet"
    shutil.move(zoo_copy / DATA, outside)
    (zoo_copy / DATA).symlink_to(outside)  # same bytes: only where they live is wrong
    for read in every_reader(zoo_copy):
        with pytest.raises(ZooError, match="links outside the zoo"):
            read()


def test_card_configs_that_glob_outside_the_zoo_are_refused(zoo_copy: Path) -> None:
    card = zoo_copy / "README.md"
    card.write_text(card.read_text().replace("path: data/train-*.parquet", "path: ../*/data/train-*.parquet"))
    record_card(zoo_copy)
    assert_one_line(*run("verify", str(zoo_copy)), "README.md", "outside the zoo")
    train = rnn_zoo.load_zoo(zoo_copy, split="train")  # the loader reads what the index names
    assert len(train) == 10


def test_card_configs_that_miss_a_shard_are_refused(zoo_copy: Path) -> None:
    card = zoo_copy / "README.md"
    card.write_text(card.read_text().replace("path: data/train-*.parquet", f"path: {DATA}"))
    record_card(zoo_copy)
    assert_one_line(*run("verify", str(zoo_copy)), "README.md", "split 'train'", "other files")


# 4. The loaders check what they read.
def test_a_flipped_weight_is_caught_by_load_weights_unless_verify_is_off(zoo_copy: Path) -> None:
    flip_payload_byte(zoo_copy / WEIGHTS)
    with pytest.raises(ZooError, match=f"{WEIGHTS}: sha256 does not match"):
        rnn_zoo.load_weights(zoo_copy, "train")
    unchecked = rnn_zoo.load_weights(zoo_copy, "train", verify=False)
    reference = load_file(zoo_copy / WEIGHTS)["head.bias"]  # the damaged bytes, read independently
    assert torch.equal(unchecked.params["head.bias"][: len(reference)], torch.from_numpy(reference))
    assert rnn_zoo.load_weights(zoo_copy, "validation").params  # other splits still load


def test_a_flipped_parquet_byte_is_caught_by_load_zoo(zoo_copy: Path) -> None:
    path = zoo_copy / DATA
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    for read in (lambda: rnn_zoo.load_zoo(zoo_copy, split="train"), lambda: rnn_zoo.load_zoo(zoo_copy)):
        with pytest.raises(ZooError, match=f"{DATA}: sha256 does not match"):
            read()
    assert_one_line(*run("info", str(zoo_copy)), DATA, "sha256")


def test_a_deleted_data_shard_is_named_never_fewer_rows(zoo_copy: Path) -> None:
    (zoo_copy / DATA).unlink()
    for read in (
        lambda: rnn_zoo.load_zoo(zoo_copy),
        lambda: rnn_zoo.load_zoo(zoo_copy, split="train", verify=False),
        lambda: rnn_zoo.load_weights(zoo_copy, "train"),
    ):
        with pytest.raises(ZooError, match=f"missing {DATA}"):
            read()
    assert len(rnn_zoo.load_zoo(zoo_copy, split="ood")) == 4  # a split without it still loads


def test_a_deleted_weights_shard_is_named(zoo_copy: Path) -> None:
    (zoo_copy / WEIGHTS).unlink()
    for verify in (True, False):
        with pytest.raises(ZooError, match=f"missing {WEIGHTS}"):
            rnn_zoo.load_weights(zoo_copy, "train", verify=verify)


def test_a_missing_weights_shard_in_bench_is_one_line(zoo_copy: Path, tmp_path: Path) -> None:
    (zoo_copy / WEIGHTS).unlink()
    args = ["bench", "--zoo", str(zoo_copy), "--encoder", "flat", "--preset", "tiny", "--out", str(tmp_path)]
    assert_one_line(*run(*args), WEIGHTS, "missing")


# 5. One error type at the API, one line at the CLI.
@pytest.mark.parametrize(
    ("manifest", "words"),
    [
        ([1, 2], ("zoo.json", "JSON list")),
        ({"format_version": 1, "name": "x"}, ("zoo.json", "no valid schema")),
    ],
)
def test_a_manifest_of_the_wrong_shape_is_one_line(zoo_copy: Path, manifest: object, words: tuple) -> None:
    record_manifest(zoo_copy, manifest)
    assert_one_line(*run("info", str(zoo_copy)), *words)
    with pytest.raises(ZooError, match=words[1]):
        rnn_zoo.load_weights(zoo_copy, "train")


@pytest.mark.parametrize("damage", ["empty", "footer"])
def test_a_damaged_parquet_footer_is_a_zoo_error_even_unverified(zoo_copy: Path, damage: str) -> None:
    path = zoo_copy / DATA
    path.write_bytes(b"" if damage == "empty" else path.read_bytes()[:-12] + b"\0" * 12)
    assert_one_line(*run("info", str(zoo_copy)), DATA)
    with pytest.raises(ZooError, match=f"{DATA} cannot be read"):
        rnn_zoo.load_weights(zoo_copy, "train", verify=False)
    with pytest.raises(ZooError, match="cannot be read"):
        rnn_zoo.load_zoo(zoo_copy, split="train", verify=False)


def test_an_unwritable_out_is_one_line() -> None:
    code, output = run("build", "--task", "formal-languages", "--preset", "tiny", "--out", "/proc/x")
    assert_one_line(code, output, "/proc/x", "cannot write")


def test_a_build_marker_that_is_a_list_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "build.json").write_text("[]")
    code, output = run("build", "--task", "formal-languages", "--preset", "tiny", "--out", str(tmp_path))
    assert_one_line(code, output, "build.json is damaged")
    assert (tmp_path / "build.json").read_text() == "[]"


# 6. Leftovers and modes.
def test_info_counts_only_the_indexed_files(zoo_copy: Path, zoo_dir: Path) -> None:
    (zoo_copy / "data" / ".ood-00000-of-00001.parquet.abcd1234.tmp").write_bytes(b"x" * 10**7)
    assert run("info", str(zoo_copy))[1].splitlines()[-1] == run("info", str(zoo_dir))[1].splitlines()[-1]


@pytest.mark.parametrize(("umask", "mode"), [(0o022, 0o644), (0o027, 0o640)])
def test_zoo_files_get_the_umasks_mode(tmp_path: Path, umask: int, mode: int) -> None:
    from hub_sandbox import make_small_zoo

    previous = os.umask(umask)
    try:
        zoo = make_small_zoo(tmp_path / "zoo")
    finally:
        os.umask(previous)
    files = [path for path in zoo.root.rglob("*") if path.is_file()]
    assert len(files) > 10 and {path.stat().st_mode & 0o777 for path in files} == {mode}


# 7. Which shards are extra or missing.
def test_an_extra_shard_is_named(zoo_copy: Path) -> None:
    for kind in ("data/{}.parquet", "weights/{}.safetensors"):
        shutil.copy(zoo_copy / kind.format(TRAIN0), zoo_copy / kind.format("train-00003-of-00003"))
    assert_one_line(*run("verify", str(zoo_copy)), "extra shards train-00003-of-00003")


def test_an_extra_split_is_named(zoo_copy: Path) -> None:
    shutil.copy(zoo_copy / DATA, zoo_copy / "data" / "test-00000-of-00001.parquet")
    shutil.copy(zoo_copy / WEIGHTS, zoo_copy / "weights" / "test-00000-of-00001.safetensors")
    assert_one_line(
        *run("verify", str(zoo_copy)), "extra shards of unknown splits: data/test-00000-of-00001.parquet"
    )


def test_a_missing_shard_is_named(zoo_copy: Path) -> None:
    (zoo_copy / "data" / "train-00001-of-00003.parquet").unlink()
    assert_one_line(*run("verify", str(zoo_copy)), "missing shards train-00001-of-00003")


# Hashes are cached per file while it stays the same file.
def test_the_hash_cache_sees_a_rewrite_that_keeps_size_and_mtime(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import time

    monkeypatch.setattr(integrity, "_RACY_NS", -(10**18))  # cache even a file written just now
    path = tmp_path / "file"
    path.write_bytes(b"a" * 1000)
    first = file_sha256(path)
    stat = path.stat()
    time.sleep(0.05)  # beyond a clock tick: file times are that coarse
    path.write_bytes(b"b" * 1000)
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert file_sha256(path) == sha256(path) != first


def test_a_file_hashed_right_after_it_was_written_is_not_cached(tmp_path: Path) -> None:
    path = tmp_path / "file"
    path.write_bytes(b"a" * 1000)
    file_sha256(path)
    assert all(key[1] != path.stat().st_ino for key in integrity._hashes)


def test_a_second_load_does_not_hash_again(zoo_copy: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(integrity, "_RACY_NS", -(10**18))  # cache even files written just now
    hashed: list[Path] = []
    hash_file = integrity.sha256
    monkeypatch.setattr(integrity, "sha256", lambda path: hashed.append(path) or hash_file(path))
    first = rnn_zoo.load_weights(zoo_copy, "train")
    assert sorted(path.name for path in hashed) == sorted(
        [f"train-0000{i}-of-00003.{kind}" for i in range(3) for kind in ("parquet", "safetensors")]
    )
    second = rnn_zoo.load_weights(zoo_copy, "train")
    assert len(hashed) == 6 and torch.equal(first.params["head.bias"], second.params["head.bias"])


def test_parquet_rows_read_independently_match_load_zoo(zoo_dir: Path) -> None:
    rows = rnn_zoo.load_zoo(zoo_dir, split="train")
    table = pq.read_table(zoo_dir / DATA)
    assert rows["model_id"][:4] == table.column("model_id").to_pylist()


def test_hashes_recorded_on_disk_serve_a_later_process_but_never_a_rewritten_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RNN_ZOO_CACHE", str(tmp_path / "cache"))
    monkeypatch.setenv(integrity.HASH_CACHE_ENV, "1")
    shard = tmp_path / "shard.bin"
    shard.write_bytes(b"a" * 4096)
    time.sleep(1.1)  # only files older than the clock's tick are recorded
    first = file_sha256(shard)
    monkeypatch.setattr(integrity, "_hashes", {})  # a new process
    hash_file = integrity.sha256
    monkeypatch.setattr(integrity, "sha256", lambda path: pytest.fail(f"{path} hashed again"))
    assert file_sha256(shard) == first == hashlib.sha256(b"a" * 4096).hexdigest()
    shard.write_bytes(b"b" * 4096)  # same size, same second: a new ctime all the same
    monkeypatch.setattr(integrity, "sha256", hash_file)
    assert file_sha256(shard) == hashlib.sha256(b"b" * 4096).hexdigest()
