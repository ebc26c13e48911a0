"""Zoos of random, untrained members: for tests, benchmarks and trying the format.

The probe data is real for these members: ``log_probs`` are the members' own
log-probabilities on random token sequences, computed with the functional forward.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from rnn_zoo.member import functional
from rnn_zoo.member.spec import MemberSpec, map_params
from rnn_zoo.zoo.manifest import Zoo, finalize_zoo
from rnn_zoo.zoo.schema import (
    Column,
    ZooSchema,
    architecture_values,
    model_id,
    spec_config_name,
    with_architecture,
)
from rnn_zoo.zoo.shards import ShardId, ZooInfo, write_shard

SYMBOLS = 6


def synthetic_schema(spec: MemberSpec | None = None, *, probes: int = 8, length: int = 12) -> ZooSchema:
    """A token-sequence zoo schema (like formal languages) with ``probes`` sequences per member."""
    spec = spec or MemberSpec(SYMBOLS, 32, 2, SYMBOLS)
    return ZooSchema(
        spec,
        metadata=(
            Column("task", "int64", (4,), "made-up task vector"),
            Column("performance", "float32", (), "made-up metric"),
        ),
        probes=(
            Column("sequences", "uint8", (probes, length), "random token sequences"),
            Column(
                "log_probs", "float16", (probes, length - 1, spec.output_size), "member log-probabilities"
            ),
        ),
    )


def synthetic_rows(
    schema: ZooSchema, run_ids: Sequence[int], steps: Sequence[int], generator: torch.Generator
) -> dict[str, np.ndarray]:
    """Columnar rows for every (run, step) pair, run-major; weights are random normal * 0.3."""
    spec = schema.spec
    pairs = [(run, step) for run in run_ids for step in steps]
    n = len(pairs)
    params = {
        name: 0.3 * torch.randn((n, *shape), generator=generator)
        for name, shape in spec.parameter_shapes().items()
    }
    probes, length = dict((c.name, c.shape) for c in schema.probes)["sequences"]
    sequences = torch.randint(0, spec.input_size, (n, probes, length), generator=generator)
    inputs = torch.nn.functional.one_hot(sequences[:, :, :-1], spec.input_size).float()
    with torch.no_grad():
        outputs, _ = functional.forward(params, spec, inputs)
    rows: dict[str, np.ndarray] = {
        "model_id": np.array([model_id(run, step) for run, step in pairs]),
        "run_id": np.array([run for run, _ in pairs], dtype=np.int64),
        "step": np.array([step for _, step in pairs], dtype=np.int64),
        "task": torch.randint(-3, 3, (n, 4), generator=generator).numpy(),
        "performance": torch.rand(n, generator=generator).numpy(),
        "sequences": sequences.numpy().astype(np.uint8),
        "log_probs": outputs.log_softmax(-1).numpy().astype(np.float16),
    }
    rows["task"][:, 0] = 0
    rows.update(map_params(Tensor.numpy, params))
    return rows


def write_synthetic_zoo(
    root: str | Path,
    runs: Mapping[str, int],
    *,
    steps: Sequence[int] = (0, 100),
    rows_per_shard: int = 1000,
    schema: ZooSchema | None = None,
    specs: Sequence[MemberSpec] = (),
    config_runs: Sequence[Mapping[str, int]] = (),
    seed: int = 0,
) -> Zoo:
    """Write a finished zoo with ``runs[split]`` random runs per split, ``len(steps)`` rows each.

    With ``specs``, a zoo of several configs: one per spec (its name from the spec, its rows
    with architecture columns), each with ``runs[split]`` runs per split, or ``config_runs``'s
    entry for it where given (at most ``runs[split]`` each; a split left out is not written);
    else one config of ``schema``.
    """
    generator = torch.Generator().manual_seed(seed)
    if not specs:
        schema = schema or synthetic_schema()
        layout = Layout(steps, rows_per_shard, generator)
        _write_config(Path(root), schema, None, runs, 0, layout)
        return finalize_zoo(root, _synthetic_info(schema, steps, seed))
    schemas, layout = {}, Layout(steps, rows_per_shard, generator)
    for number, spec in enumerate(specs):
        name = spec_config_name(spec)
        schemas[name] = with_architecture(synthetic_schema(spec), ARCHITECTURE)
        first_run = number * sum(runs.values())
        own = config_runs[number] if config_runs else runs
        _write_config(Path(root), schemas[name], name, own, first_run, layout)
    return finalize_zoo(root, _synthetic_info(schemas, steps, seed))


ARCHITECTURE = ("hidden_size", "num_layers")  # the spec fields a synthetic zoo of several configs varies


@dataclass(frozen=True)
class Layout:
    """How a synthetic zoo's rows are made and cut: the snapshot steps of every run, the rows
    per shard, and the generator of the random weights and sequences."""

    steps: Sequence[int]
    rows_per_shard: int
    generator: torch.Generator


def _write_config(
    root: Path, schema: ZooSchema, config: str | None, runs: Mapping[str, int], first_run: int, layout: Layout
) -> None:
    steps, rows_per_shard = layout.steps, layout.rows_per_shard
    for split, count in runs.items():
        rows = synthetic_rows(schema, range(first_run, first_run + count), steps, layout.generator)
        if config is not None:
            total = len(rows["model_id"])
            rows.update(
                {k: np.full(total, v) for k, v in architecture_values(schema.spec, ARCHITECTURE).items()}
            )
        first_run += count
        total = len(rows["model_id"])
        shard_count = -(-total // rows_per_shard)
        for index in range(shard_count):
            part = slice(index * rows_per_shard, (index + 1) * rows_per_shard)
            shard = ShardId(split, index, shard_count, config)
            write_shard(root, schema, shard, {k: v[part] for k, v in rows.items()})


def _synthetic_info(schema: ZooSchema | Mapping[str, ZooSchema], steps: Sequence[int], seed: int) -> ZooInfo:
    from rnn_zoo.zoo.card_configs import network as in_words

    network = in_words(schema.values() if isinstance(schema, Mapping) else [schema])
    return ZooInfo(
        name="synthetic",
        pretty_name=f"Synthetic {network} zoo",
        description=f"Random, untrained {network}s with their outputs on random token sequences.",
        schema=schema,
        # its columns are the formal-language family's (task vectors, performance, token probes)
        recipe={"kind": "synthetic", "task": "formal-languages", "steps": list(steps)},
        build={"seed": seed},
    )
