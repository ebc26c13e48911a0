"""Downstream evaluation: predict member properties from embeddings.

Two ways, scored identically: a small MLP on frozen embeddings of a pre-trained encoder, and
the supervised baseline, the same encoder architecture trained end to end on the property.
Predictors are fitted on the train members plus the members of half of the OOD tasks
(chosen with a fixed seed, split by task) and scored on the validation members (in
distribution) and on the members of the other OOD tasks.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
from torch import Tensor, nn

from rnn_zoo.bench.config import DownstreamConfig
from rnn_zoo.bench.optimization import make_optimizer
from rnn_zoo.bench.properties import Property, column_values, get_property
from rnn_zoo.bench.seeding import seeded_init
from rnn_zoo.errors import ZooError
from rnn_zoo.member.spec import map_params

Inputs = Tensor | Mapping[str, Tensor]  # embeddings (n, e) or a parameter dict (n, ...)
EVALUATED = ("validation", "ood")


class TooFewTasks(ZooError):
    """The OOD split holds fewer than two tasks, so it cannot be halved by task."""

    def __init__(self, message: str, found: int) -> None:
        super().__init__(message)
        self.found = found


@dataclass(frozen=True)
class DownstreamRows:
    """The metadata of the train, validation and OOD splits, concatenated in that order, and
    which rows are fitted (``fit``) and which are scored (``validation``, ``ood``)."""

    table: Any
    rows: Mapping[str, Tensor]
    zoo: str = "zoo"


def task_keys(table: Any) -> list[Any]:
    """A hashable task per row: the ``task`` column's value, or the run when there is none."""
    name = "task" if "task" in table.column_names else "run_id"
    values = column_values(table, name)
    return [tuple(value) if np.ndim(value) else value.item() for value in values]


def downstream_rows(tables: Mapping[str, Any], seed: int = 0, zoo: str = "zoo") -> DownstreamRows:
    """Concatenate the splits' metadata and split the OOD rows by task into a fitted and a scored half."""
    import pyarrow as pa

    missing = [
        split for split in ("train", "validation", "ood") if split not in tables or not tables[split].num_rows
    ]
    if missing:
        raise ZooError(
            f"zoo {zoo} has too few members for downstream evaluation: no {', '.join(missing)} rows"
        )
    sizes = [tables[split].num_rows for split in ("train", "validation", "ood")]
    starts = np.cumsum([0, *sizes])
    ood_keys = task_keys(tables["ood"])
    distinct = sorted(set(ood_keys), key=repr)
    if len(distinct) < 2:
        raise TooFewTasks(
            f"zoo {zoo} has too few OOD tasks ({len(distinct)}) to fit on half and score the other half; "
            "build it with more runs (`rnn-zoo build ... --runs N`)",
            found=len(distinct),
        )
    order = torch.randperm(len(distinct), generator=torch.Generator().manual_seed(seed)).tolist()
    fitted = {distinct[index] for index in order[: len(distinct) // 2]}
    in_fit = torch.tensor([key in fitted for key in ood_keys])
    ood = torch.arange(starts[2], starts[3])
    rows = {
        "fit": torch.cat([torch.arange(starts[0], starts[1]), ood[in_fit]]),
        "validation": torch.arange(starts[1], starts[2]),
        "ood": ood[~in_fit],
    }
    table = pa.concat_tables([tables[split] for split in ("train", "validation", "ood")])
    return DownstreamRows(table, rows, zoo)


def take(inputs: Inputs, rows: Tensor) -> Inputs:
    """Rows of embeddings or of every tensor of a parameter dict."""
    if isinstance(inputs, Mapping):
        return map_params(lambda tensor: tensor[rows], inputs)
    return inputs[rows]


class Predictor(nn.Module):
    """An optional encoder, then an MLP head to the property's targets, with the fit set's scaling."""

    def __init__(self, head: nn.Module, encoder: nn.Module | None, shift: Tensor, scale: Tensor) -> None:
        super().__init__()
        self.encoder, self.head = encoder, head
        self.register_buffer("shift", shift)
        self.register_buffer("scale", scale)

    def forward(self, inputs: Inputs) -> Tensor:
        features = inputs if self.encoder is None else self.encoder(inputs)
        return self.head(features)


def property_targets(prop: Property, data: DownstreamRows) -> Tensor:
    """Targets (n, k) of every row, after checking that the zoo has the property."""
    from rnn_zoo.bench.properties import column_shapes

    prop.check(column_shapes(data.table), data.zoo)
    return prop.targets(column_values(data.table, prop.column))


@dataclass(frozen=True)
class FitData:
    """What a predictor learns from: every member's ``inputs`` (embeddings (n, e) or a parameter
    dict), every member's ``targets``, and the ``rows`` it may fit on."""

    inputs: Inputs
    targets: Tensor
    rows: Tensor


def fit_predictor(
    data: FitData,
    prop: Property,
    config: DownstreamConfig,
    *,
    encoder: nn.Module | None = None,
    seed: int = 0,
) -> Predictor:
    """Fit a predictor on ``data.rows`` only: an MLP on embeddings, or ``encoder`` + MLP end to end."""
    inputs, targets, rows = data.inputs, data.targets, data.rows
    generator = torch.Generator().manual_seed(seed)
    fitted = targets[rows]
    if prop.classification:
        shift, scale = torch.zeros(0), torch.ones(0)
        width_out = targets.shape[1] * (int(targets.max()) + 1)  # heads x classes of the vocabulary
    else:
        shift, scale = fitted.mean(0), fitted.std(0).nan_to_num(1.0).clamp_min(1e-6)
        width_out = targets.shape[1]
    with torch.no_grad():
        sample = take(inputs, rows[:1])
        width_in = (sample if encoder is None else encoder.eval()(sample)).shape[-1]
    with seeded_init(seed):
        head = nn.Sequential(
            nn.Linear(width_in, config.hidden), nn.ReLU(), nn.Linear(config.hidden, width_out)
        )
    model = Predictor(head, encoder, shift, scale).to(rows.device).train()
    steps, lr = (
        (config.steps, config.lr) if encoder is None else (config.supervised_steps, config.supervised_lr)
    )
    optimizer = make_optimizer(model, lr, config.weight_decay)
    for _ in range(steps):
        drawn = torch.randint(len(rows), (min(config.batch, len(rows)),), generator=generator)
        batch = rows[drawn.to(rows.device)]
        loss = _loss(model(take(inputs, batch)), targets[batch], model, prop)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
    return model.eval()


def _loss(output: Tensor, target: Tensor, model: Predictor, prop: Property) -> Tensor:
    if prop.classification:
        return nn.functional.cross_entropy(output.reshape(*target.shape, -1).flatten(0, 1), target.flatten())
    return nn.functional.mse_loss(output, (target - model.shift) / model.scale)


@torch.no_grad()
def predict(
    model: Predictor, inputs: Inputs, rows: Tensor, prop: Property, heads: int, batch: int = 1024
) -> Tensor:
    """Predictions in target space (class ids or real values) for ``rows``."""
    outputs = [model(take(inputs, rows[start : start + batch])) for start in range(0, len(rows), batch)]
    output = torch.cat(outputs)
    if prop.classification:
        return output.reshape(len(rows), heads, -1).argmax(-1)
    return output * model.scale + model.shift


def evaluate_property(
    inputs: Inputs,
    data: DownstreamRows,
    name: str,
    config: DownstreamConfig | None = None,
    *,
    encoder_factory: Callable[[], nn.Module] | None = None,
    seed: int = 0,
) -> dict[str, dict[str, float]]:
    """Metrics per scored split for property ``name``.

    With ``inputs`` = frozen embeddings (n, e) an MLP is fitted on them; with ``inputs`` = the
    members' parameter dict and an ``encoder_factory``, a fresh encoder plus MLP is trained end
    to end (the supervised baseline). Only ``data.rows['fit']`` rows are ever fitted.
    """
    config = config or DownstreamConfig()
    prop = get_property(name)
    device = next(iter(inputs.values())).device if isinstance(inputs, Mapping) else inputs.device
    targets = property_targets(prop, data).to(device)
    encoder = encoder_factory().to(device) if encoder_factory is not None else None
    fit = data.rows["fit"].to(device)
    model = fit_predictor(FitData(inputs, targets, fit), prop, config, encoder=encoder, seed=seed)
    scores = {}
    for split in EVALUATED:
        rows = data.rows[split].to(device)
        predicted = predict(model, inputs, rows, prop, targets.shape[1])
        scores[split] = prop.metrics(predicted, targets[rows])
    return scores


@torch.no_grad()
def embed(encoder: nn.Module, params: Mapping[str, Tensor], batch: int = 256) -> Tensor:
    """Embeddings (n, e) of every member, in eval mode, in batches."""
    encoder.eval()
    n = next(iter(params.values())).shape[0]
    pieces = [
        encoder(take(params, torch.arange(start, min(start + batch, n)))) for start in range(0, n, batch)
    ]
    return torch.cat(pieces)
