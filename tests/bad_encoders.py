"""Encoder factories that break the contract of rnn_zoo.encoders.plugins, one way each."""

from __future__ import annotations

import torch
from torch import nn

from rnn_zoo.member.spec import MemberSpec


class Sized(nn.Module):
    """Embeds every member as ``shape(n)`` zeros, through a parameter."""

    def __init__(self, shape) -> None:
        super().__init__()
        self.shape, self.scale = shape, nn.Parameter(torch.ones(()))

    def forward(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        n = next(iter(params.values())).shape[0]
        return self.scale * torch.zeros(self.shape(n))


def returns_a_dict(spec: MemberSpec, *, input_kind: str) -> dict:
    return {"not": "a module"}


def embeds_one_number(spec: MemberSpec, *, input_kind: str) -> nn.Module:
    return Sized(lambda n: (n,))


def embeds_too_few_members(spec: MemberSpec, *, input_kind: str) -> nn.Module:
    return Sized(lambda n: (1, 16))


def raises(spec: MemberSpec, *, input_kind: str) -> nn.Module:
    raise RuntimeError("out of ideas\nsecond line")


class FailsInTraining(Sized):
    """Embeds well when evaluated, fails when trained."""

    def forward(self, params: dict[str, torch.Tensor]) -> torch.Tensor:
        if self.training:
            raise ValueError("no training today")
        return super().forward(params)


def fails_in_training(spec: MemberSpec, *, input_kind: str) -> nn.Module:
    return FailsInTraining(lambda n: (n, 4))


not_callable = 42
