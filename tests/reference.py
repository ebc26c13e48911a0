"""The independent reference for the population trainer: one plain nn module, torch.optim.AdamW."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from rnn_zoo.build.trainer import TrainConfig
from rnn_zoo.member.spec import Member
from rnn_zoo.tasks.family import Run, TaskFamily


def train_alone_with_torch(
    member: Member,
    family: TaskFamily,
    run: Run,
    config: TrainConfig,
    loss: Callable[[Tensor, Tensor], Tensor],
) -> None:
    """Train ``member`` in place on ``run``'s batches with torch.optim.AdamW and the schedule.

    ``loss(outputs (b, t, o), targets)`` is the plain-torch loss of one member's batch. The
    inputs take the member's dtype: a float64 member is a reference free of float32 rounding,
    which AdamW's normalised steps amplify where a gradient is near 0.
    """
    optimizer = torch.optim.AdamW(member.parameters(), lr=config.lr(0), weight_decay=run.weight_decay)
    tasks, seeds = family.task_tensor([run], torch.device("cpu")), torch.tensor([run.seed])
    for step in range(config.steps):
        inputs, targets = family.batch(tasks, seeds, step, config.batch_size)
        outputs, _ = member(inputs[0].to(member.head.weight.dtype))
        for group in optimizer.param_groups:
            group["lr"] = config.lr(step)
        optimizer.zero_grad()
        loss(outputs, targets[0]).backward()
        optimizer.step()


def stack_members(members: list[Member]) -> dict[str, Tensor]:
    """State dicts of several plain modules -> one batched parameter dict (n, ...), detached."""
    params, _ = torch.func.stack_module_state(members)
    return {name: tensor.detach() for name, tensor in params.items()}
