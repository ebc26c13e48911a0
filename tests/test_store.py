"""Format v1 round trips: store -> datasets / safetensors -> the canonical torch module."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
import yaml
from safetensors.numpy import load_file

import rnn_zoo
from rnn_zoo.files import atomic_path
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.zoo.schema import Column, ZooSchema
from rnn_zoo.zoo.shards import ShardId, read_table, write_shard
from rnn_zoo.zoo.synthetic import synthetic_rows, synthetic_schema
from tests.conftest import SPLIT_RUNS


def read_front_matter(readme: Path) -> dict:
    text = readme.read_text(encoding="utf-8")
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("---\n")[1])


def test_load_dataset_gives_correctly_shaped_weights_that_run_in_plain_torch(zoo_dir: Path) -> None:
    loaded = datasets.load_dataset(str(zoo_dir))
    assert set(loaded) == set(SPLIT_RUNS)
    rows = loaded["train"].with_format("torch")
    spec = rnn_zoo.load_weights(zoo_dir, "train").spec
    for index in (0, len(rows) - 1):
        row = rows[index]
        member = rnn_zoo.Member(spec)
        member.load_state_dict({name: row[name] for name in spec.parameter_names})
        tokens = row["sequences"][:, :-1]
        inputs = torch.nn.functional.one_hot(tokens, spec.input_size).float()
        with torch.no_grad():
            outputs, _ = member(inputs)
        # The stored log-probabilities were computed by the functional forward (float16).
        torch.testing.assert_close(outputs.log_softmax(-1), row["log_probs"].float(), atol=2e-2, rtol=1e-2)


def test_rows_hold_every_schema_column_with_its_shape(zoo_dir: Path) -> None:
    schema = rnn_zoo.zoo.load.open_zoo(zoo_dir).schema
    row = datasets.load_dataset(str(zoo_dir), split="validation").with_format("torch")[0]
    assert list(row) == list(schema.names)
    for column in schema.columns:
        if column.dtype != "string":
            assert tuple(torch.as_tensor(row[column.name]).shape) == column.shape, column.name


@pytest.mark.parametrize("split", list(SPLIT_RUNS))
def test_load_weights_equals_parquet_weights_bit_for_bit(zoo_dir: Path, split: str) -> None:
    weights = rnn_zoo.load_weights(zoo_dir, split)
    rows = datasets.load_dataset(str(zoo_dir), split=split).with_format("torch")
    assert len(weights) == len(rows) == SPLIT_RUNS[split] * 2
    for name, stacked in weights.params.items():
        assert torch.equal(stacked.view(torch.int32), rows[name][:].view(torch.int32)), name
    assert weights.metadata.column("model_id").to_pylist() == rows["model_id"][:]


def test_load_weights_matches_safetensors_reference_reader(zoo_dir: Path) -> None:
    weights = rnn_zoo.load_weights(zoo_dir, "train")
    files = sorted((zoo_dir / "weights").glob("train-*.safetensors"))
    assert len(files) == 3
    reference = [load_file(path) for path in files]
    for name, stacked in weights.params.items():
        np.testing.assert_array_equal(stacked.numpy(), np.concatenate([r[name] for r in reference]))


def test_load_zoo_returns_torch_formatted_datasets(zoo_dir: Path) -> None:
    whole = rnn_zoo.load_zoo(zoo_dir)
    assert isinstance(whole, datasets.DatasetDict) and set(whole) == set(SPLIT_RUNS)
    ood = rnn_zoo.load_zoo(zoo_dir, split="ood")
    assert isinstance(ood, datasets.Dataset)
    assert isinstance(ood[0]["lstm.weight_ih_l0"], torch.Tensor)


def test_card_yaml_parses_and_its_configs_drive_load_dataset(zoo_dir: Path) -> None:
    meta = read_front_matter(zoo_dir / "README.md")
    assert meta["license"] and meta["pretty_name"] and meta["tags"] and meta["task_categories"]
    assert meta["size_categories"] == ["n<1K"]
    files = {entry["split"]: entry["path"] for entry in meta["configs"][0]["data_files"]}
    assert files == {split: f"data/{split}-*.parquet" for split in SPLIT_RUNS}
    loaded = datasets.load_dataset(str(zoo_dir))
    assert {split: len(ds) for split, ds in loaded.items()} == {s: r * 2 for s, r in SPLIT_RUNS.items()}


def test_card_lists_every_column_with_dtype_and_shape(zoo_dir: Path) -> None:
    card = (zoo_dir / "README.md").read_text(encoding="utf-8")
    assert "| `lstm.weight_ih_l0` | `float32[128, 6]` |" in card
    assert "| `log_probs` | `float16[8, 11, 6]` |" in card
    assert "Learning Useful Representations of Recurrent Neural Network Weight Matrices" in card


def test_manifest_records_format_spec_counts_and_versions(zoo_dir: Path) -> None:
    manifest = json.loads((zoo_dir / "zoo.json").read_text())
    assert manifest["format_version"] == 1
    assert manifest["schema"]["spec"] == {
        "input_size": 6,
        "hidden_size": 32,
        "num_layers": 2,
        "output_size": 6,
    }
    assert manifest["counts"]["train"] == {"rows": 10, "runs": 5}
    assert {"torch", "datasets", "safetensors", "pyarrow"} <= set(manifest["versions"])


def test_index_maps_model_ids_to_their_rows(zoo_dir: Path) -> None:
    index = json.loads((zoo_dir / "weights" / "index.json").read_text())
    weights = rnn_zoo.load_weights(zoo_dir, "train")
    ids = weights.metadata.column("model_id").to_pylist()
    split, shard, row = index["model_ids"][ids[5]]
    assert (split, shard, row) == ("train", 1, 1)  # 4 rows per shard
    assert [entry["rows"] for entry in index["splits"]["train"]["shards"]] == [[0, 4], [4, 8], [8, 10]]


def test_parquet_row_groups_are_bounded(zoo_dir: Path) -> None:
    parquet = pq.ParquetFile(zoo_dir / "data" / "train-00000-of-00003.parquet")
    assert parquet.metadata.num_rows == 4
    assert parquet.metadata.row_group(0).total_byte_size < 300 * 2**20


def test_write_shard_rejects_rows_that_do_not_fit_the_schema(tmp_path: Path) -> None:
    schema = synthetic_schema(MemberSpec(6, 4, 1, 6), probes=2, length=5)
    rows = synthetic_rows(schema, [0], [0], torch.Generator().manual_seed(0))
    rows["head.bias"] = rows["head.bias"][:, :3]
    with pytest.raises(ValueError, match="head.bias"):
        write_shard(tmp_path, schema, ShardId("train", 0, 1), rows)
    assert not list(tmp_path.rglob("*"))


def test_an_interrupted_atomic_write_leaves_nothing(tmp_path: Path) -> None:
    target = tmp_path / "data" / "file.parquet"
    with pytest.raises(RuntimeError), atomic_path(target) as temporary:
        temporary.write_bytes(b"half")
        raise RuntimeError("killed")
    assert not target.exists() and not list(target.parent.iterdir())


def test_schema_rejects_a_column_named_twice() -> None:
    with pytest.raises(ValueError, match="step"):
        ZooSchema(MemberSpec(2, 2, 1, 2), metadata=(Column("step", "int64"),))


def test_read_table_gives_what_pyarrow_reads(zoo_dir: Path) -> None:
    for path in zoo_dir.glob("data/*.parquet"):
        assert read_table(path).equals(pq.read_table(path))
        assert read_table(path, columns=["step", "run_id"]).equals(
            pq.read_table(path, columns=["step", "run_id"])
        )
