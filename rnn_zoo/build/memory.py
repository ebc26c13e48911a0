"""How much memory a member takes while it trains and while a snapshot evaluates it, measured.

The peak bytes the allocator holds beyond what it held before, for one training step and for
one snapshot evaluation of a population: on the CPU from the profiler's record of every
allocation and free, on a GPU from ``torch.cuda.max_memory_allocated``. Measured for two
population sizes, the difference per member is what one more member costs, whatever the
population shares (images, the step's constants). Task families' ``member_bytes`` estimates
are checked against these measurements (tests/test_member_memory.py), and
``benchmarks/device_check.py`` measures them on a GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch

from rnn_zoo.build.trainer import TrainConfig, TrainStep, unflatten
from rnn_zoo.tasks.family import Run, TaskFamily


@dataclass(frozen=True)
class MemberMemory:
    """Bytes one more member adds to the peak of a training step and of a snapshot evaluation."""

    training: int
    evaluation: int

    @property
    def total(self) -> int:
        """Both: on a GPU the captured step's memory stays reserved while snapshots evaluate."""
        return self.training + self.evaluation


def peak_bytes(work: Callable[[], object], device: torch.device) -> int:
    """The most bytes allocated at once while ``work`` runs, beyond those allocated before it."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
        before = torch.cuda.memory_allocated(device)
        torch.cuda.reset_peak_memory_stats(device)
        work()
        torch.cuda.synchronize(device)
        return torch.cuda.max_memory_allocated(device) - before
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as recorded:
        work()
    changes = [event for event in recorded.profiler.kineto_results.events() if event.name() == "[memory]"]
    held = peak = 0
    for event in sorted(changes, key=lambda event: event.start_ns()):
        held += event.nbytes()
        peak = max(peak, held)
    return peak


def population_peaks(
    family: TaskFamily, runs: Sequence[Run], batch_size: int, device: torch.device
) -> tuple[int, int]:
    """Peak bytes of a training step (after a warm-up step) and of a snapshot of ``runs``."""
    config = TrainConfig(batch_size=batch_size, snapshot_steps=(1,), learning_rate=((0, 1e-3),))
    train_step = TrainStep(family, runs, config, device)
    train_step()
    training = peak_bytes(train_step, device)
    params = unflatten(train_step.population.params, family.spec)

    def snapshot() -> None:
        with torch.no_grad():
            family.snapshot_columns(params, runs, 1, train_step.loss_sum)

    snapshot()  # a first snapshot uploads what every later one shares (e.g. metric images)
    return training, peak_bytes(snapshot, device)


def member_memory(
    family: TaskFamily, runs: Sequence[Run], batch_size: int, device: torch.device
) -> MemberMemory:
    """What one member adds, from populations of all of ``runs`` and of half of them (at least 2 runs)."""
    half = len(runs) // 2
    small = population_peaks(family, runs[:half], batch_size, device)
    large = population_peaks(family, runs, batch_size, device)
    members = len(runs) - half
    training, evaluation = (
        max(0, -(-(big - little) // members)) for big, little in zip(large, small, strict=True)
    )
    return MemberMemory(training, evaluation)
