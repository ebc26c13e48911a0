"""Zoos of several configs (one per member architecture): layout, loading, cards, integrity."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
import torch
import yaml
from bench_helpers import assert_one_line_error
from click.testing import CliRunner

import rnn_zoo
from rnn_zoo.cli import main
from rnn_zoo.errors import ZooError
from rnn_zoo.files import seal_json
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.zoo.load import locate_zoo, read_columns
from rnn_zoo.zoo.schema import spec_config_name
from tests.conftest import CONFIG_RUNS, CONFIG_SPECS

CONFIGS = ("lstm-1x16", "lstm-2x8")
SPLITS = tuple(CONFIG_RUNS)


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def test_config_names_come_from_the_spec() -> None:
    assert [spec_config_name(spec) for spec in CONFIG_SPECS] == list(CONFIGS)
    assert spec_config_name(MemberSpec(6, 32, 2, 6)) == "lstm-2x32"


def test_each_config_lies_under_its_own_name(configs_zoo: Path) -> None:
    manifest = json.loads((configs_zoo / "zoo.json").read_text())
    assert manifest["format_version"] == 2 and "schema" not in manifest
    assert list(manifest["configs"]) == list(CONFIGS)
    for config, spec in zip(CONFIGS, CONFIG_SPECS, strict=True):
        assert manifest["configs"][config]["schema"]["spec"] == spec.to_dict()
        assert manifest["configs"][config]["counts"]["train"] == {"runs": 3, "rows": 6}
        assert sorted(p.name for p in (configs_zoo / "data" / config).iterdir()) == [
            "ood-00000-of-00001.parquet",
            "train-00000-of-00002.parquet",
            "train-00001-of-00002.parquet",
            "validation-00000-of-00001.parquet",
        ]
        assert (configs_zoo / "weights" / config / "train-00001-of-00002.safetensors").is_file()
    assert not list((configs_zoo / "data").glob("*.parquet"))


@pytest.mark.parametrize("config", CONFIGS)
def test_load_dataset_by_config_gives_shaped_weights_equal_to_load_weights(
    configs_zoo: Path, config: str
) -> None:
    spec = CONFIG_SPECS[CONFIGS.index(config)]
    dataset = datasets.load_dataset(str(configs_zoo), config).with_format("torch")
    assert set(dataset) == set(SPLITS)
    for split in SPLITS:
        weights = rnn_zoo.load_weights(configs_zoo, split, config=config)
        assert weights.spec == spec and weights.config == config and len(weights) == dataset[split].num_rows
        rows = dataset[split]
        assert rows[0]["config"] == config and int(rows[0]["hidden_size"]) == spec.hidden_size
        for name, shape in spec.parameter_shapes().items():
            column = rows[name][:]
            assert tuple(column.shape) == (rows.num_rows, *shape)
            assert torch.equal(column.view(torch.int32), weights.params[name].view(torch.int32)), name


def test_a_member_of_each_config_runs_in_plain_torch(configs_zoo: Path) -> None:
    for config in CONFIGS:
        weights = rnn_zoo.load_weights(configs_zoo, "train", config=config)
        member = rnn_zoo.Member(weights.spec)
        member.load_state_dict({name: tensor[0] for name, tensor in weights.params.items()})
        assert member(torch.zeros(1, 3, 6))[0].shape == (1, 3, 6)


def test_loading_a_zoo_of_several_configs_without_one_is_one_clear_line(configs_zoo: Path) -> None:
    for load in (rnn_zoo.load_weights, rnn_zoo.load_zoo):
        with pytest.raises(ZooError, match="holds 2 configs.*lstm-1x16, lstm-2x8.*name one") as caught:
            load(configs_zoo, "train")
        assert "\n" not in str(caught.value)
    with pytest.raises(ZooError, match="no config 'lstm-9x9'; it has: lstm-1x16, lstm-2x8"):
        rnn_zoo.load_weights(configs_zoo, "train", config="lstm-9x9")
    with pytest.raises(ValueError, match="Config name is missing"):
        datasets.load_dataset(str(configs_zoo))


def test_load_zoo_and_read_columns_read_one_config(configs_zoo: Path) -> None:
    loaded = rnn_zoo.load_zoo(configs_zoo, "validation", config="lstm-2x8")
    assert loaded.num_rows == 2 and loaded[0]["lstm.weight_hh_l1"].shape == (32, 8)
    table = read_columns(locate_zoo(configs_zoo), "ood", ["model_id", "num_layers"], config="lstm-1x16")
    assert table.column("num_layers").to_pylist() == [1, 1]


def test_a_zoo_of_one_config_loads_with_or_without_its_name(zoo_dir: Path) -> None:
    plain = rnn_zoo.load_weights(zoo_dir, "validation")
    named = rnn_zoo.load_weights(zoo_dir, "validation", config="default")
    assert plain.config == "default" and torch.equal(plain.params["head.bias"], named.params["head.bias"])
    assert locate_zoo(zoo_dir).configs == ("default",)
    with pytest.raises(ZooError, match="no config 'lstm-2x32'; it has one config, default"):
        rnn_zoo.load_weights(zoo_dir, "train", config="lstm-2x32")


def test_card_has_a_config_per_architecture_and_keeps_the_citation(configs_zoo: Path) -> None:
    text = (configs_zoo / "README.md").read_text()
    front = yaml.safe_load(text.split("---")[1])
    assert [config["config_name"] for config in front["configs"]] == list(CONFIGS)
    assert front["configs"][1]["data_files"][0] == {"split": "train", "path": "data/lstm-2x8/train-*.parquet"}
    assert "| `lstm-1x16` | `torch.nn.LSTM(6, 16, num_layers=1, batch_first=True)`" in text
    assert "1,638 | 5 | 6 / 2 / 2 |" in text
    assert "herrmann2024learning" in text and "goes beyond it" in text
    assert 'load_dataset("rnn-zoo/synthetic", "lstm-1x16")' in text


def test_info_shows_a_row_per_config_and_verify_checks_them_all(configs_zoo: Path) -> None:
    code, output = run("info", str(configs_zoo))
    assert code == 0 and "format   v2" in output, output
    assert "lstm-1x16       LSTM 6 -> 1 x 16 -> 6              1,638       5        10" in output
    assert "config lstm-2x8" in output
    code, output = run("verify", str(configs_zoo))
    assert code == 0 and "20 rows in train, validation, ood of 2 configs" in output, output


@pytest.mark.parametrize("kind", ["data", "weights"])
def test_a_flipped_byte_in_a_configs_shard_is_named_by_verify_and_loaders(
    configs_copy: Path, kind: str
) -> None:
    suffix = "parquet" if kind == "data" else "safetensors"
    name = f"{kind}/lstm-2x8/train-00001-of-00002.{suffix}"
    data = bytearray((configs_copy / name).read_bytes())
    data[-100] ^= 0xFF
    (configs_copy / name).write_bytes(bytes(data))
    assert_one_line_error(*run("verify", str(configs_copy)), name, "sha256")
    with pytest.raises(ZooError, match=name):
        rnn_zoo.load_weights(configs_copy, "train", config="lstm-2x8")
    rnn_zoo.load_weights(configs_copy, "train", config="lstm-1x16")  # the other config is intact


def test_an_extra_file_in_a_config_folder_is_named(configs_copy: Path) -> None:
    extra = configs_copy / "data" / "lstm-1x16" / "notes" / "stray.parquet"
    extra.parent.mkdir()
    extra.write_bytes(b"x")
    assert_one_line_error(*run("verify", str(configs_copy)), "extra data/lstm-1x16/notes/stray.parquet")


def test_an_index_naming_another_configs_shard_is_refused(configs_copy: Path) -> None:
    path = configs_copy / "weights" / "index.json"
    index = json.loads(path.read_text())
    entry = index["configs"]["lstm-1x16"]["splits"]["ood"]["shards"][0]
    entry["data_file"] = "data/lstm-2x8/ood-00000-of-00001.parquet"
    path.write_text(seal_json(index))
    with pytest.raises(ZooError, match="not 'data/lstm-1x16/ood-00000-of-00001.parquet'"):
        rnn_zoo.load_weights(configs_copy, "ood", config="lstm-1x16")


@pytest.mark.parametrize("name", ["../outside", "Lstm-1x16", "a/b"])
def test_an_index_with_a_config_name_that_is_no_folder_name_is_refused(configs_copy: Path, name: str) -> None:
    path = configs_copy / "weights" / "index.json"
    index = json.loads(path.read_text())
    index["configs"][name] = index["configs"].pop("lstm-1x16")
    path.write_text(seal_json(index))
    with pytest.raises(ZooError, match="is not a lower-case name"):
        locate_zoo(configs_copy)


def test_a_manifest_whose_configs_differ_from_the_index_is_damaged(configs_copy: Path) -> None:
    path = configs_copy / "zoo.json"
    manifest = json.loads(path.read_text())
    del manifest["configs"]["lstm-2x8"]
    path.write_text(json.dumps(manifest))
    assert_one_line_error(*run("info", str(configs_copy)), "zoo.json")  # its sha256 no longer matches either


def test_bench_refuses_a_zoo_of_several_configs_in_one_line(configs_zoo: Path, tmp_path: Path) -> None:
    code, output = run(
        "bench", "--zoo", str(configs_zoo), "--preset", "tiny", "--out", str(tmp_path / "bench")
    )
    assert_one_line_error(code, output, "2 member architectures", "lstm-1x16", "--config")
