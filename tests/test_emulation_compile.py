"""A compiled emulation step computes what the eager one does; a failure to compile falls back."""

from __future__ import annotations

import warnings

import pytest
import torch
from torch import nn

from rnn_zoo.bench import pretraining
from rnn_zoo.bench.emulation_step import BatchLoss, CompiledLoss
from rnn_zoo.bench.emulator import Emulator, EmulatorConfig
from rnn_zoo.bench.pretraining import EmulationConfig, emulation_data, train_emulation


class Flatten(nn.Module):
    def __init__(self, spec) -> None:
        super().__init__()
        self.names = spec.parameter_names
        self.net = nn.Sequential(nn.Linear(spec.num_parameters, 16), nn.ReLU(), nn.Linear(16, 4))

    def forward(self, params):
        return self.net(torch.cat([params[name].flatten(1) for name in self.names], dim=1))


@pytest.fixture(scope="module")
def batch(bias_zoo):
    data = emulation_data(bias_zoo, "train")
    return data.spec, data.batch(
        torch.arange(6), torch.randint(0, 4, (6, 2), generator=torch.Generator().manual_seed(0))
    )


def make_loss(spec) -> BatchLoss:
    torch.manual_seed(0)
    return BatchLoss(
        Flatten(spec), Emulator(EmulatorConfig(spec.input_size, spec.output_size, 4, 8, 2)), "total-variation"
    )


def loss_and_grads(loss_fn, module, batch):
    module.zero_grad(set_to_none=True)
    value = loss_fn(*batch)
    value.backward()
    return value.detach(), [p.grad.clone() for p in module.parameters()]


def test_a_compiled_step_equals_an_eager_step(batch) -> None:
    spec, tensors = batch
    module = make_loss(spec)
    eager = loss_and_grads(module, module, tensors)
    step = CompiledLoss(module, backend="aot_eager")
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # no fallback to eager
        compiled = loss_and_grads(step, module, tensors)
    assert step.compiled is not None
    torch.testing.assert_close(compiled, eager)


def test_a_step_that_fails_to_compile_runs_eagerly_after_one_warning(batch) -> None:
    def failing(graph, inputs):
        raise RuntimeError("no compiler here")

    spec, tensors = batch
    module = make_loss(spec)
    step = CompiledLoss(module, backend=failing)
    with pytest.warns(RuntimeWarning, match="emulation runs eagerly: torch.compile failed") as caught:
        first = loss_and_grads(step, module, tensors)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        second = loss_and_grads(step, module, tensors)
    assert len([w for w in caught if issubclass(w.category, RuntimeWarning)]) == 1
    torch.testing.assert_close(first, loss_and_grads(module, module, tensors))
    torch.testing.assert_close(second, first)


def test_emulation_with_compiled_steps_follows_the_eager_curve(bias_zoo, monkeypatch) -> None:
    train, validation = emulation_data(bias_zoo, "train"), emulation_data(bias_zoo, "validation")
    config = EmulationConfig(steps=4, batch_members=8, validate_every=2, lr=1e-2, emulator_hidden=8)

    def run(compile_step: bool):
        torch.manual_seed(0)
        return train_emulation(
            Flatten(train.spec), train, validation, config, compile_step=compile_step
        ).curve

    eager = run(False)
    monkeypatch.setattr(pretraining, "CompiledLoss", lambda module: CompiledLoss(module, backend="aot_eager"))
    compiled = run(True)
    assert [point["step"] for point in compiled] == [2, 4]
    for ours, expected in zip(compiled, eager, strict=True):
        assert ours["validation_loss"] == pytest.approx(expected["validation_loss"], rel=1e-4)
