import dataclasses

import numpy as np
import pyarrow as pa
import pytest
import torch
from torch import nn

from rnn_zoo.bench.downstream import DownstreamConfig, downstream_rows, evaluate_property, task_keys
from rnn_zoo.bench.properties import available_properties
from rnn_zoo.errors import ZooError
from rnn_zoo.tasks.formal_tasks import task_metrics
from rnn_zoo.tasks.mnist.properties import angle_metrics, angle_targets
from rnn_zoo.tasks.properties import regression_metrics
from rnn_zoo.tasks.registry import all_properties, get_family

CONFIG = DownstreamConfig(steps=150, supervised_steps=150, batch=64, lr=1e-2, supervised_lr=1e-2, hidden=32)


def make_tables(validation: int = 4, ood: int = 6) -> dict[str, pa.Table]:
    """Formal-language-like metadata: train 36 tasks, validation 4 and OOD 6 tasks, 2 rows per task.

    Train tasks cover every value of the first two differences, so a predictor can generalise.
    """
    tables = {}
    for split, tasks in (("train", 36), ("validation", validation), ("ood", ood)):
        differences = np.stack([np.arange(tasks) % 6, (np.arange(tasks) // 6 + 3 * len(tables)) % 6], 1) - 3
        third = (np.arange(tasks) + 2 * (np.arange(tasks) // 6) + len(tables)) % 6 - 3
        differences = np.concatenate([differences, third[:, None]], 1)
        task = np.repeat(np.concatenate([np.zeros((tasks, 1), dtype=np.int64), differences], 1), 2, axis=0)
        tables[split] = pa.table(
            {
                "run_id": pa.array(np.repeat(np.arange(tasks), 2)),
                "step": pa.array(np.tile([0, 100], tasks)),
                "task": pa.FixedSizeListArray.from_arrays(pa.array(task.ravel()), 4),
                "performance": pa.array(np.zeros(2 * tasks, dtype=np.float32)),
            }
        )
    return tables


def test_ood_rows_are_split_by_task_and_validation_is_never_fitted():
    data = downstream_rows(make_tables(), seed=3)
    keys = task_keys(data.table)
    fitted = {keys[row] for row in data.rows["fit"].tolist()}
    scored_ood = {keys[row] for row in data.rows["ood"].tolist()}
    assert len(scored_ood) == 3 and not fitted & scored_ood
    assert data.rows["validation"].tolist() == list(range(72, 80))
    assert set(data.rows["fit"].tolist()) >= set(range(72)) and len(data.rows["fit"]) == 72 + 6
    other = downstream_rows(make_tables(), seed=4)
    assert other.rows["ood"].tolist() != data.rows["ood"].tolist()  # the seed picks the halves


def make_leak_probe(seed: int = 0) -> tuple[torch.Tensor, dict, object]:
    """Performance = +x on fitted rows and -x on scored rows, x the first embedding coordinate.

    A predictor that never saw a scored row learns +x and scores R^2 near -3 on scored rows.
    There are as many scored rows as fitted ones, so a predictor that saw the validation or
    the OOD-test rows as well learns a much flatter slope and cannot be that wrong.
    """
    data = downstream_rows(make_tables(validation=36, ood=72), seed=seed)
    n = data.table.num_rows
    x = torch.randn(n, generator=torch.Generator().manual_seed(seed))
    sign = -torch.ones(n)
    sign[data.rows["fit"]] = 1
    table = data.table.set_column(3, "performance", pa.array((sign * x).numpy()))
    embeddings = torch.stack([x, torch.randn(n, generator=torch.Generator().manual_seed(seed + 1))], 1)
    params = {"weight": embeddings.unsqueeze(1)}  # a one-tensor "member" holding the same values
    return embeddings, params, dataclasses.replace(data, table=table)


class Flatten(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.linear = nn.Linear(2, 4)

    def forward(self, params):
        return self.linear(params["weight"].flatten(1))


@pytest.mark.parametrize("supervised", [False, True], ids=["frozen", "supervised"])
def test_scored_rows_never_reach_the_fit(supervised):
    embeddings, params, data = make_leak_probe()
    if supervised:
        scores = evaluate_property(params, data, "performance", CONFIG, encoder_factory=Flatten)
    else:
        scores = evaluate_property(embeddings, data, "performance", CONFIG)
    for split in ("validation", "ood"):
        assert scores[split]["r2"] < -2.0, (split, scores[split])


def test_a_learnable_task_is_learned():
    """Embeddings that hold the task differences give exact-task accuracy 1 on held-out rows."""
    data = downstream_rows(make_tables(), seed=0)
    task = torch.from_numpy(np.stack(data.table.column("task").to_numpy(zero_copy_only=False)))
    embeddings = nn.functional.one_hot(task[:, 1:] + 3, 6).flatten(1).float()
    scores = evaluate_property(embeddings, data, "task", CONFIG)
    assert scores["validation"]["exact_match"] == 1.0 and scores["ood"]["exact_match"] == 1.0


def test_a_missing_property_names_the_columns():
    data = downstream_rows(make_tables())
    with pytest.raises(
        ZooError, match="no property 'rotation' .*columns are: run_id, step, task\\[4\\], performance"
    ):
        evaluate_property(torch.zeros(data.table.num_rows, 2), data, "rotation", CONFIG)


def test_too_few_ood_tasks_is_refused():
    tables = make_tables()
    tables["ood"] = tables["ood"].slice(0, 2)  # one task
    with pytest.raises(ZooError, match="too few OOD tasks"):
        downstream_rows(tables)
    with pytest.raises(ZooError, match="no validation rows"):
        downstream_rows({**tables, "validation": tables["validation"].slice(0, 0)})


def test_properties_available_from_the_columns():
    formal, mnist_family = get_family("formal-languages"), get_family("mnist")
    assert available_properties(make_tables()["train"], formal) == ("task", "performance", "training-step")
    assert available_properties(make_tables()["train"]) == ("training-step",)  # a zoo of no known family
    mnist = pa.table({"step": [0], "task": [12.5], "eval_accuracy": [0.5], "generalization_gap": [0.1]})
    assert available_properties(mnist, formal) == ("training-step",)  # its task column is no formal task
    assert available_properties(mnist, mnist_family) == (
        "rotation",
        "accuracy",
        "training-step",
        "generalization-gap",
    )
    assert set(all_properties()) == {
        "task",
        "performance",
        "rotation",
        "accuracy",
        "training-step",
        "generalization-gap",
    }


def test_angle_error_wraps_around():
    predicted = angle_targets(np.array([350.0, 90.0]))
    target = angle_targets(np.array([10.0, 45.0]))
    assert angle_metrics(predicted, target)["angular_error_deg"] == pytest.approx((20 + 45) / 2, abs=1e-4)


def test_regression_metrics_by_hand():
    target = torch.tensor([[1.0], [2.0], [3.0]])
    predicted = torch.tensor([[1.0], [2.0], [5.0]])
    # SSE = 4, SST = 2: R^2 = 1 - 4/2 = -1; MAE = 2/3
    assert regression_metrics(predicted, target) == pytest.approx({"r2": -1.0, "mae": 2 / 3})


def test_exact_task_needs_all_three_differences():
    target = torch.tensor([[0, 1, 2], [3, 4, 5]])
    predicted = torch.tensor([[0, 1, 2], [3, 4, 0]])
    assert task_metrics(predicted, target) == pytest.approx(
        {"exact_match": 0.5, "difference_accuracy": 5 / 6}
    )


def test_r2_is_undefined_when_every_target_is_equal() -> None:
    import torch

    flat = regression_metrics(torch.tensor([0.1, 0.2, 0.3]), torch.zeros(3))
    assert flat["r2"] is None and abs(flat["mae"] - 0.2) < 1e-6
    # Hand-computed: targets 1, 2, 3 (SST 2), predictions 1, 2, 4 (SSE 1) -> R^2 = 0.5.
    assert (
        abs(regression_metrics(torch.tensor([1.0, 2.0, 4.0]), torch.tensor([1.0, 2.0, 3.0]))["r2"] - 0.5)
        < 1e-6
    )
