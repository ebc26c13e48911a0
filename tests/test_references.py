"""The bench's floor and ceiling: constant and oracle rows that read no weight, trained with the
encoders' seeds and batches; the oracle is n/a (and the bench goes on) where the metadata
lacks what it reads; --no-references; reserved names."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from bench_helpers import assert_one_line_error, bench_command

from rnn_zoo.bench import pretraining
from rnn_zoo.bench.config import bench_config, emulation_config
from rnn_zoo.bench.data import bench_data
from rnn_zoo.bench.job import seeded
from rnn_zoo.bench.properties import column_values
from rnn_zoo.bench.references import FEATURES, bench_references
from rnn_zoo.bench.run import run_bench
from rnn_zoo.errors import ZooError
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.tasks.formal_languages import FormalLanguages
from rnn_zoo.tasks.mnist.family import SequentialMnist
from rnn_zoo.zoo.manifest import finalize_zoo
from rnn_zoo.zoo.schema import ZooSchema
from rnn_zoo.zoo.shards import ShardId, ZooInfo, write_shard
from rnn_zoo.zoo.synthetic import synthetic_rows, synthetic_schema

TINY_SPEC = MemberSpec(6, 8, 2, 6)  # the token zoo's members


def make_config(**overrides):
    emulation = dict(steps=4, validate_every=2, batch_members=8, emulator_hidden=16)
    downstream = dict(steps=5, supervised_steps=3, batch=16, hidden=8)
    return bench_config("tiny", seeds=2, emulation=emulation, downstream=downstream, **overrides)


@pytest.fixture(scope="module")
def token_data(token_zoo):
    return bench_data(token_zoo, make_config())


def train(factory, data, seed=0):
    config = emulation_config(steps=6, validate_every=2, batch_members=8, emulator_hidden=16, seed=seed)
    return pretraining.train_emulation(
        seeded(factory, seed)(), data.splits["train"], data.splits["validation"], config
    )


def test_two_runs_of_the_oracle_with_one_seed_give_the_same_curve(token_data):
    oracle = bench_references(token_data)["oracle"]
    first, second = (train(oracle.factory, oracle.data) for _ in range(2))
    assert first.curve == second.curve and len(first.curve) == 3
    assert train(oracle.factory, oracle.data, seed=1).curve != first.curve


def expected_formal_features(table) -> torch.Tensor:
    """The oracle's features, computed here by hand from the metadata: one-hot occurrence
    differences, one-hot snapshot, standardized log step (the synthetic zoo has no weight decay)."""
    task, step = column_values(table, "task"), column_values(table, "step").astype(float)
    rows = []
    steps = sorted(set(step.tolist()))
    logs = np.log1p(step)
    for differences, value, log in zip(task, step, logs, strict=True):
        onehot = [1.0 if difference + 3 == k else 0.0 for difference in differences[1:] for k in range(6)]
        place = [1.0 if value == s else 0.0 for s in steps]
        rows.append(onehot + place + [(log - logs.mean()) / logs.std()])
    return torch.tensor(rows, dtype=torch.float32)


def test_the_oracle_reads_the_metadata_and_no_weight(token_data):
    oracle = bench_references(token_data)["oracle"]
    splits = oracle.data.splits
    assert all(set(split.params) == {FEATURES} for split in splits.values())
    features = torch.cat([splits[name].params[FEATURES] for name in ("train", "validation", "ood")])
    torch.testing.assert_close(features, expected_formal_features(token_data.rows.table))
    seen = []

    def recording():
        model = oracle.factory()
        model.register_forward_pre_hook(lambda module, args: seen.append(set(args[0])))
        return model

    train(recording, oracle.data)
    assert seen and all(keys == {FEATURES} for keys in seen)


def test_the_mnist_features_are_the_angle_the_snapshot_and_the_weight_decay():
    columns = {
        "task": np.array([0.0, 90.0, 180.0]),
        "step": np.array([0, 10, 10]),
        "weight_decay": np.array([1e-4, 1e-4, 1e-2]),
    }
    found = SequentialMnist.oracle_features(columns)
    decay = np.log10(columns["weight_decay"])
    expected = [
        [0.0, 1.0, 1.0, 0.0, -np.sqrt(2), (decay[0] - decay.mean()) / decay.std()],
        [1.0, 0.0, 0.0, 1.0, 1 / np.sqrt(2), (decay[1] - decay.mean()) / decay.std()],
        [0.0, -1.0, 0.0, 1.0, 1 / np.sqrt(2), (decay[2] - decay.mean()) / decay.std()],
    ]
    torch.testing.assert_close(found, torch.tensor(expected, dtype=torch.float32), atol=1e-6, rtol=0)
    assert SequentialMnist.oracle_features({"task": columns["task"]}) is None
    assert FormalLanguages.oracle_features(columns) is None  # a scalar task is not a formal language's


def test_the_references_draw_the_same_batches_as_an_encoder(token_data, monkeypatch, encoder_builder):
    drawn: list[list] = []
    original = pretraining.EmulationData.batch

    def recording(self, members, sequences):
        drawn[-1].append((members.tolist(), sequences.tolist()))
        return original(self, members, sequences)

    monkeypatch.setattr(pretraining.EmulationData, "batch", recording)
    references = bench_references(token_data)
    spec = token_data.splits["train"].spec
    runs = [
        (lambda: encoder_builder("flat", spec, input_kind="tokens"), token_data),
        (references["constant"].factory, references["constant"].data),
        (references["oracle"].factory, references["oracle"].data),
    ]
    for factory, data in runs:
        drawn.append([])
        train(factory, data)
    assert drawn[0] == drawn[1] == drawn[2] and len(drawn[0]) > 6


@pytest.fixture(scope="module")
def taskless_zoo(tmp_path_factory):
    """A token zoo whose metadata has no task column (a user's zoo): performance only."""
    full = synthetic_schema(TINY_SPEC, probes=4, length=10)
    schema = ZooSchema(
        TINY_SPEC, metadata=tuple(c for c in full.metadata if c.name != "task"), probes=full.probes
    )
    root = tmp_path_factory.mktemp("taskless")
    generator = torch.Generator().manual_seed(5)
    first = 0
    for split, runs in {"train": 6, "validation": 2, "ood": 2}.items():
        rows = synthetic_rows(full, range(first, first + runs), (0, 100), generator)
        first += runs
        write_shard(root, schema, ShardId(split, 0, 1), {k: v for k, v in rows.items() if k != "task"})
    return finalize_zoo(root, ZooInfo("taskless", "Taskless", "no task column", schema))


def test_without_task_columns_the_oracle_is_na_with_the_reason_and_the_bench_goes_on(
    taskless_zoo, tmp_path, encoder_builder
):
    results = run_bench(taskless_zoo, ["flat"], make_config(), tmp_path, encoder_builder=encoder_builder)
    assert set(results["runs"]) == {"flat", "constant"}
    assert results["references"]["oracle"]["status"] == "n/a"
    assert "no task column" in results["references"]["oracle"]["reason"]
    assert "headroom" not in results
    report = (tmp_path / "report.md").read_text()
    assert "The oracle row is n/a: the zoo's metadata has no task column" in report
    assert "| constant |" in report and "| oracle |" not in report


def test_no_references_runs_only_the_encoders_and_says_so(token_zoo, tmp_path, monkeypatch, encoder_builder):
    monkeypatch.setattr("rnn_zoo.cli.bench.bench_encoder_builder", lambda: encoder_builder)
    result = bench_command(token_zoo.root, tmp_path / "out", "flat", "--no-references")
    assert result.exit_code == 0, result.output
    results = json.loads((tmp_path / "out/results.json").read_text())
    assert list(results["runs"]) == ["flat"] and results["references"] == {}
    assert results["config"]["references"] is False
    assert "No floor or ceiling" in (tmp_path / "out/report.md").read_text()


@pytest.mark.parametrize("name", ["oracle", "constant"])
def test_an_encoder_named_like_a_reference_is_refused_in_one_line(token_zoo, tmp_path, name, encoder_builder):
    result = bench_command(token_zoo.root, tmp_path / "out", f"flat,{name}")
    assert_one_line_error(result.exit_code, result.output, f"encoder name {name!r} is reserved")
    assert not (tmp_path / "out").exists()
    with pytest.raises(ZooError, match="reserved"):
        run_bench(token_zoo, [name], make_config(), encoder_builder=encoder_builder)
