"""A task family added from this file alone: one class and its recipe, registered, then built,
verified and benchmarked at tiny size with no edit anywhere in rnn_zoo.

The toy task: a member reads a bit string (one real input per step) and predicts the parity
of the bits so far after every step (2 classes). A run's task is the density of ones in its
strings, a float in [0, 1); densities of 0.8 and more are ood.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from types import MappingProxyType
from typing import Any

import numpy as np
import pytest
import torch
from torch import Tensor

from rnn_zoo.bench.config import bench_config
from rnn_zoo.bench.run import run_bench
from rnn_zoo.build.builder import build_zoo
from rnn_zoo.build.recipe import load_recipe
from rnn_zoo.errors import ZooError
from rnn_zoo.member import functional
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.tasks import register_family, streams, unregister_family
from rnn_zoo.tasks.family import DataSources, Run, target_log_probs
from rnn_zoo.tasks.properties import TRAINING_STEP, scalar_property
from rnn_zoo.zoo.load import load_zoo
from rnn_zoo.zoo.schema import Column, ZooSchema
from rnn_zoo.zoo.verify import verify_zoo

LENGTH, PROBES, OOD_FROM = 6, 3, 0.8
RECIPE = """
task = "parity"
version = 1
runs = 12
seed = 0
cell = "lstm"
hidden_size = 4
num_layers = 1
batch_size = 8
snapshot_steps = [0, 3]
learning_rate = [[0, 0.01]]
weight_decay = [0.0]
runs_per_shard = 4

[presets.tiny]
"""


def parity_bits(densities: Tensor, seeds: Tensor, step: int | Tensor, count: int) -> Tensor:
    """(n, count, LENGTH) bits, each 1 with its member's density, from the member's own stream."""
    index = torch.arange(count * LENGTH, device=seeds.device).reshape(count, LENGTH)
    u = streams.uniform(seeds[:, None, None], 7, step, index)  # (n, count, LENGTH)
    return (u < densities[:, None, None]).long()


class Parity:
    """The toy family: running parity of a bit string, a density of ones per run."""

    name = "parity"
    title = "Parity"
    summary_metric = "accuracy"
    input_size, output_size = 1, 2
    input_kind, bos, accepts = "real", None, None
    properties = (
        scalar_property("density", "task", "density of ones in the member's strings"),
        TRAINING_STEP,
    )
    reference_emulation_loss: Mapping[str, float] = MappingProxyType({})
    probe_scheme = None
    build_record: Mapping[str, Any] = MappingProxyType({})
    description = "Members predict the running parity of bit strings whose density of ones is the run's task."

    def __init__(self, spec: MemberSpec) -> None:
        self.spec = spec

    @classmethod
    def recipe_text(cls) -> str:
        return RECIPE

    @classmethod
    def configure(cls, options: Mapping[str, Any], data: DataSources) -> Callable[[MemberSpec], Parity]:
        return cls

    @staticmethod
    def draw_tasks(count: int, seed: int) -> list[tuple[tuple[float, ...], str]]:
        regions = {"train": (0.0, 0.68), "validation": (0.68, OOD_FROM), "ood": (OOD_FROM, 1.0)}
        drawn = []
        for run in range(count):
            split = ("train", "validation", "ood")[run % 3]
            low, high = regions[split]
            u = float(streams.uniform(seed, 11, run))
            drawn.append(((round(low + u * (high - low), 6),), split))
        return drawn

    @staticmethod
    def oracle_features(columns: Mapping[str, Any]) -> Tensor | None:
        if "task" not in columns:
            return None
        return torch.from_numpy(np.array(columns["task"], dtype=np.float32)).reshape(-1, 1)

    def schema(self) -> ZooSchema:
        return ZooSchema(
            self.spec,
            metadata=(
                Column("task", "float32", (), "density of ones"),
                Column("accuracy", "float32", (), "last-step parity accuracy on the probes"),
            ),
            probes=(
                Column("sequences", "float16", (PROBES, LENGTH, 1), "bit strings"),
                Column("log_probs", "float16", (PROBES, LENGTH, 2), "member log-probabilities"),
            ),
        )

    def task_tensor(self, runs: Sequence[Run], device: torch.device) -> Tensor:
        return torch.tensor([run.task[0] for run in runs], dtype=torch.float32, device=device)

    def batch(
        self, tasks: Tensor, seeds: Tensor, step: int | Tensor, batch_size: int
    ) -> tuple[Tensor, Tensor]:
        bits = parity_bits(tasks, seeds, step, batch_size)
        return bits.unsqueeze(-1).float(), bits.cumsum(-1) % 2

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return -target_log_probs(outputs, targets).mean(dim=(1, 2))

    def member_bytes(self, batch_size: int) -> int:
        return 4 * batch_size * LENGTH * 16 * self.spec.hidden_size

    def snapshot_columns(
        self, params: Mapping[str, Tensor], runs: Sequence[Run], step: int, train_loss: Tensor
    ) -> dict[str, np.ndarray]:
        tasks = self.task_tensor(runs, train_loss.device)
        seeds = torch.tensor([run.seed for run in runs], device=train_loss.device)
        bits = parity_bits(tasks, seeds, 10_000 + step, PROBES)
        sequences = bits.unsqueeze(-1).half()
        outputs, _ = functional.forward(params, self.spec, sequences.float())
        correct = outputs[:, :, -1].argmax(-1) == bits.sum(-1) % 2
        return {
            "task": tasks.numpy(),
            "accuracy": correct.float().mean(1).numpy(),
            "sequences": sequences.numpy(),
            "log_probs": outputs.log_softmax(-1).numpy().astype(np.float16),
        }


@pytest.fixture
def parity_family():
    register_family(Parity)
    yield Parity
    unregister_family(Parity.name)


def test_a_family_registered_from_one_file_builds_verifies_and_benches(
    parity_family, tmp_path, encoder_builder
):
    recipe = load_recipe("parity", "tiny")
    build_zoo(recipe, tmp_path / "zoo", device=torch.device("cpu"))
    zoo = verify_zoo(tmp_path / "zoo")
    assert zoo.manifest["recipe"]["task"] == "parity" and zoo.manifest["pretty_name"] == "Parity LSTM zoo"
    rows = load_zoo(zoo, "train")[:]
    bits = rows["sequences"][..., 0].round().long()  # the stored strings are bits
    assert set(bits.unique().tolist()) <= {0, 1}

    config = bench_config("tiny", seeds=1, steps=2, emulation={"validate_every": 1}, downstream={"steps": 3})
    results = run_bench(zoo, ["flat"], config, tmp_path / "bench", encoder_builder=encoder_builder)
    assert results["zoo"]["family"] == "parity"
    assert results["properties"] == ["density", "training-step"]  # the family's own, as the zoo has them
    assert 0 <= results["runs"]["flat"]["0"]["cloned"]["agreement"] <= 1  # a real-valued family: agreement
    assert json.loads((tmp_path / "bench" / "results.json").read_text())["zoo"]["family"] == "parity"
    assert "**density** — r2" in (tmp_path / "bench" / "report.md").read_text()


def test_a_registered_family_is_gone_after_unregistering_and_names_must_be_new(parity_family):
    assert load_recipe("parity", "tiny").runs == 12
    with pytest.raises(ZooError, match="named 'parity' is registered already"):
        register_family(type("Parity", (Parity,), {}))
    unregister_family("parity")
    with pytest.raises(ZooError, match="unknown task 'parity'"):
        load_recipe("parity", "tiny")


def test_a_family_may_not_redefine_another_familys_property(parity_family):
    clash = type(
        "Clash", (Parity,), {"name": "clash", "properties": (scalar_property("rotation", "task", "x"),)}
    )
    with pytest.raises(ZooError, match="another family's property is named 'rotation'"):
        register_family(clash)
