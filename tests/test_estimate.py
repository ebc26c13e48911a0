"""The bench's time estimate: a quick timing of a few emulation steps, checked against an
encoder whose forward pass takes a known time."""

from __future__ import annotations

import time

import torch
from torch import nn

from rnn_zoo.bench.config import emulation_config
from rnn_zoo.bench.estimate import time_steps
from rnn_zoo.bench.pretraining import emulation_data

PAUSE = 0.05  # seconds the slow encoder sleeps in every forward pass


class SlowEncoder(nn.Module):
    """One learned embedding for every member, after sleeping PAUSE seconds per call."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = nn.Parameter(torch.zeros(4))

    def forward(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        time.sleep(PAUSE)
        n = next(iter(params.values())).shape[0]
        return self.embedding.expand(n, -1)


def test_a_step_takes_at_least_the_encoders_pause_and_validation_is_per_member(token_zoo) -> None:
    train, validation = (emulation_data(token_zoo, split) for split in ("train", "validation"))
    config = emulation_config(batch_members=8, emulator_hidden=8)
    timing = time_steps(SlowEncoder, train, validation, config)
    # a step calls the encoder once; a validation of up to 8 members calls it once too
    assert PAUSE <= timing.step < PAUSE + 1.0
    members = min(len(validation), config.batch_members)
    assert PAUSE / members <= timing.validated_member < (PAUSE + 1.0) / members
