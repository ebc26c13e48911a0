"""Shared fixtures: small real zoos written through the library's own store (random
members with their real outputs), random batched members, a symmetry-breaking edit, and a
stand-in encoder for the emulation and benchmark machinery."""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import torch
from torch import nn

from rnn_zoo import load_weights
from rnn_zoo.member import functional
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.zoo.load import ZooWeights
from rnn_zoo.zoo.manifest import Zoo, finalize_zoo
from rnn_zoo.zoo.schema import Column, ZooSchema
from rnn_zoo.zoo.shards import ShardId, ZooInfo, write_shard
from rnn_zoo.zoo.synthetic import synthetic_rows, synthetic_schema, write_synthetic_zoo

# The tests' tensors are tiny: a second intra-op thread only adds synchronisation, which on a
# busy 2-core machine costs up to a second per LSTM call. One thread keeps the suite fast.
torch.set_num_threads(1)
# Hashes are cached in memory only unless a test asks for the record on disk (rnn_zoo.zoo.integrity).
os.environ["RNN_ZOO_HASH_CACHE"] = "0"

# Settings of the caller's shell that change what the library does. Every test starts without
# them; a test that wants one sets it itself (hub_sandbox.isolate_hugging_face, monkeypatch).
CALLER_SETTINGS = (
    "HF_HUB_OFFLINE",
    "HF_DATASETS_OFFLINE",
    "TRANSFORMERS_OFFLINE",
    "HF_TOKEN",
    "RNN_ZOO_MNIST_DIR",
)


def clear_caller_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Unset CALLER_SETTINGS, and the copies huggingface_hub and datasets took of them at import."""
    import sys

    for name in CALLER_SETTINGS:
        monkeypatch.delenv(name, raising=False)
    for module, attributes in (
        ("huggingface_hub.constants", ("HF_HUB_OFFLINE",)),
        ("datasets.config", ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")),
    ):
        if module in sys.modules:  # a module imported later reads the cleared environment
            for attribute in attributes:
                monkeypatch.setattr(sys.modules[module], attribute, False)


@pytest.fixture(autouse=True)
def without_caller_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    """Tests do not depend on the caller's environment (e.g. HF_HUB_OFFLINE=1 on a cluster)."""
    clear_caller_settings(monkeypatch)


SPLIT_RUNS = {"train": 5, "validation": 2, "ood": 2}
DEVICES = [
    pytest.param("cpu"),
    pytest.param("cuda", marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")),
]


@pytest.fixture(params=DEVICES)
def device(request: pytest.FixtureRequest) -> torch.device:
    """Run a test on the CPU, then on a GPU where there is one (the trainer then replays CUDA graphs)."""
    return torch.device(request.param)


Params = dict[str, torch.Tensor]


@pytest.fixture(scope="session")
def zoo_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished zoo of random members (train in 3 shards); read-only, shared by tests."""
    root = tmp_path_factory.mktemp("zoo") / "synthetic"
    write_synthetic_zoo(root, SPLIT_RUNS, steps=(0, 100), rows_per_shard=4, seed=0)
    return root


# A formal-language recipe that builds in a fraction of a second: 3 runs of 2 steps, 1 run a shard.
MICRO_RECIPE = {
    "runs": 3,
    "snapshot_steps": [0, 2],
    "learning_rate": [[0, 0.01]],
    "runs_per_shard": 1,
    "task_options": {"performance_samples": 4, "probe_sequences": 4},
}
CONFIG_SPECS = (MemberSpec(6, 16, 1, 6), MemberSpec(6, 8, 2, 6))
CONFIG_RUNS = {"train": 3, "validation": 1, "ood": 1}


@pytest.fixture(scope="session")
def configs_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished zoo of two configs, lstm-1x16 and lstm-2x8 (train in 2 shards each); read-only."""
    root = tmp_path_factory.mktemp("configs-zoo") / "synthetic"
    write_synthetic_zoo(root, CONFIG_RUNS, steps=(0, 100), rows_per_shard=4, specs=CONFIG_SPECS, seed=4)
    return root


@pytest.fixture
def configs_copy(configs_zoo: Path, tmp_path: Path) -> Path:
    """A private copy of ``configs_zoo`` that a test may damage."""
    return Path(shutil.copytree(configs_zoo, tmp_path / "configs-zoo"))


@pytest.fixture
def zoo_copy(zoo_dir: Path, tmp_path: Path) -> Path:
    """A private copy of ``zoo_dir`` that a test may damage."""
    return Path(shutil.copytree(zoo_dir, tmp_path / "zoo"))


def random_params(spec: MemberSpec, n: int, seed: int = 0) -> Params:
    """n members of ``spec`` with normal weights of scale 0.5."""
    generator = torch.Generator().manual_seed(seed)
    return {
        name: 0.5 * torch.randn((n, *shape), generator=generator)
        for name, shape in spec.parameter_shapes().items()
    }


def shuffle_input_gate_rows(params: Params, spec: MemberSpec) -> Params:
    """Roll only the first gate's rows of layer 0's input weights: not a symmetry of the member."""
    h, name = spec.hidden_size, spec.key("weight_ih", 0)
    weight = params[name].clone()
    weight[:, :h] = weight[:, :h].roll(1, dims=1)
    return {**params, name: weight}


@pytest.fixture
def make_params() -> Callable[..., Params]:
    return random_params


@pytest.fixture
def break_symmetry() -> Callable[[Params, MemberSpec], Params]:
    return shuffle_input_gate_rows


@pytest.fixture(scope="session")
def tiny_zoo_weights(zoo_dir: Path) -> ZooWeights:
    """The train split of the shared synthetic zoo of paper-sized members."""
    return load_weights(zoo_dir, "train")


TINY_SPEC = MemberSpec(6, 8, 2, 6)
TINY_RUNS = {"train": 12, "validation": 4, "ood": 6}
TINY_STEPS = (0, 100, 200)


@pytest.fixture(scope="session")
def token_zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    """A token zoo of 2 x 8 members: 36 train, 12 validation, 18 OOD rows; 4 probes of 10 tokens."""
    schema = synthetic_schema(TINY_SPEC, probes=4, length=10)
    return write_synthetic_zoo(
        tmp_path_factory.mktemp("token-zoo"), TINY_RUNS, steps=TINY_STEPS, schema=schema, seed=1
    )


@pytest.fixture(scope="session")
def bias_zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    """A token zoo whose members output softmax(head.bias) at every step (their LSTM weights are 0).

    The biases share a common part, so the emulator alone lowers the loss with any encoder.

    What a member does is then visible in a few of its weights, so an encoder can learn it
    from a few dozen members: emulation on this zoo must generalise to validation members.
    """
    schema = synthetic_schema(TINY_SPEC, probes=4, length=10)
    root = tmp_path_factory.mktemp("bias-zoo")
    generator = torch.Generator().manual_seed(3)
    first = 0
    for split, runs in {"train": 30, "validation": 6, "ood": 6}.items():
        rows = synthetic_rows(schema, range(first, first + runs), TINY_STEPS, generator)
        first += runs
        params = {name: torch.from_numpy(rows[name]) for name in TINY_SPEC.parameter_names}
        params = {name: torch.zeros_like(t) if name.startswith("lstm.") else t for name, t in params.items()}
        # A shared preference (learnable by the emulator alone) plus each member's own part
        # (learnable only through the embedding).
        shared = torch.linspace(-2.0, 2.0, TINY_SPEC.output_size)
        params["head.bias"] = shared + 1.5 * torch.randn(params["head.bias"].shape, generator=generator)
        inputs = torch.nn.functional.one_hot(torch.from_numpy(rows["sequences"]).long()[:, :, :-1], 6).float()
        with torch.no_grad():
            outputs, _ = functional.forward(params, TINY_SPEC, inputs)
        rows.update({name: tensor.numpy() for name, tensor in params.items()})
        rows["log_probs"] = outputs.log_softmax(-1).half().numpy()
        write_shard(root, schema, ShardId(split, 0, 1), rows)
    return finalize_zoo(root, ZooInfo("bias", "Bias", "members that output softmax(head.bias)", schema))


@pytest.fixture(scope="session")
def real_zoo(tmp_path_factory: pytest.TempPathFactory) -> Zoo:
    """An MNIST-style zoo: real-valued inputs (3 probes x 5 steps x 4 inputs), 3 outputs per step."""
    spec = MemberSpec(4, 8, 1, 3)
    schema = ZooSchema(
        spec,
        metadata=(Column("task", "float32", (), "angle"),),
        probes=(
            Column("sequences", "float16", (3, 5, 4), "inputs"),
            Column("log_probs", "float16", (3, 5, 3), "member log-probabilities"),
        ),
    )
    root = tmp_path_factory.mktemp("real-zoo")
    generator = torch.Generator().manual_seed(2)
    for split, runs in (("train", 6), ("validation", 2), ("ood", 2)):
        params = {
            name: torch.randn((runs, *shape), generator=generator)
            for name, shape in spec.parameter_shapes().items()
        }
        sequences = torch.randn(runs, 3, 5, 4, generator=generator).half()
        with torch.no_grad():
            outputs, _ = functional.forward(params, spec, sequences.float())
        rows = {
            "model_id": np.array([f"{split}{run}" for run in range(runs)]),
            "run_id": np.arange(runs),
            "step": np.zeros(runs, dtype=np.int64),
            "task": torch.rand(runs, generator=generator).numpy() * 360,
            "sequences": sequences.numpy(),
            "log_probs": outputs.log_softmax(-1).half().numpy(),
            **{name: tensor.numpy() for name, tensor in params.items()},
        }
        write_shard(root, schema, ShardId(split, 0, 1), rows)
    recipe = {"task": "mnist", "version": 2}  # benched as an MNIST zoo: its task is an angle
    return finalize_zoo(root, ZooInfo("real", "Real", "real-valued inputs", schema, recipe=recipe))


@pytest.fixture(scope="session")
def probeless_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zoo with weights and metadata but no sequences/log_probs columns."""
    full = synthetic_schema(TINY_SPEC, probes=2, length=4)
    schema = ZooSchema(TINY_SPEC, metadata=full.metadata)
    root = tmp_path_factory.mktemp("probeless-zoo")
    rows = synthetic_rows(full, range(2), (0,), torch.Generator().manual_seed(0))
    rows = {name: value for name, value in rows.items() if name not in ("sequences", "log_probs")}
    write_shard(root, schema, ShardId("train", 0, 1), rows)
    finalize_zoo(root, ZooInfo("bare", "Bare", "no probes", schema))
    return root


class FlatLinear(nn.Module):
    """A stand-in encoder: flattened weights -> linear map to ``width`` dimensions."""

    def __init__(self, spec: MemberSpec, input_kind: str, width: int = 4) -> None:
        super().__init__()
        self.names, self.input_kind = spec.parameter_names, input_kind
        self.linear = nn.Linear(spec.num_parameters, width)

    def forward(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        return self.linear(torch.cat([params[name].flatten(1) for name in self.names], dim=1))


@pytest.fixture(scope="session")
def encoder_builder():
    """An encoder builder with the registry's signature, building a FlatLinear for any name."""
    return flat_linear_builder


def flat_linear_builder(name: str, spec: MemberSpec, *, input_kind: str, **options: Any) -> nn.Module:
    """An encoder builder with the registry's signature that builds FlatLinear whatever the name;
    of the options it takes ``width`` and ignores the real encoders' size options."""
    return FlatLinear(spec, input_kind, width=options.get("width", 4))
