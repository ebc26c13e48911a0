"""The population trainer for every cell family against plain torch: the cell's torch module + nn.Linear + torch.optim.AdamW."""

from __future__ import annotations

import pytest
import torch

from rnn_zoo.build.trainer import TrainConfig, TrainStep, init_members, train_population, unflatten
from rnn_zoo.member.cells import CELLS
from rnn_zoo.member.spec import Member, MemberSpec
from rnn_zoo.tasks.family import Run
from rnn_zoo.tasks.formal_languages import FormalLanguageOptions, FormalLanguages, draw_tasks
from tests.reference import train_alone_with_torch
from tests.replay import assert_replayable, snapshot_of

CONFIG = TrainConfig(batch_size=8, snapshot_steps=(0, 9), learning_rate=((0, 0.01), (9, 0.003)))
OPTIONS = FormalLanguageOptions(performance_samples=4, probe_sequences=2)


def make_family(cell: str) -> FormalLanguages:
    return FormalLanguages(MemberSpec(6, 16, 2, 6, cell=cell), OPTIONS)


def make_runs(decays: list[float]) -> list[Run]:
    tasks = draw_tasks(len(decays), seed=2)
    return [
        Run(k, 2000 + 13 * k, split, task, decay)
        for k, ((task, split), decay) in enumerate(zip(tasks, decays, strict=True))
    ]


def train(family: FormalLanguages, runs: list[Run], device: torch.device) -> dict[str, torch.Tensor]:
    final = train_population(family, runs, CONFIG, device=device, on_snapshot=lambda *_: None)
    return {name: value.cpu() for name, value in final.items()}


def cross_entropy(outputs: torch.Tensor, strings: torch.Tensor) -> torch.Tensor:  # (b, 41, 6), (b, 42)
    return torch.nn.functional.cross_entropy(outputs.reshape(-1, 6), strings[:, 1:].reshape(-1))


@pytest.mark.parametrize("cell", CELLS)
def test_members_are_initialised_within_torchs_bound(cell: str) -> None:
    spec = make_family(cell).spec
    params = init_members(spec, [3, 4])
    bound = 1 / spec.hidden_size**0.5  # nn.LSTM's, nn.GRU's and nn.RNN's, and nn.Linear's here
    assert params.shape == (2, sum(p.numel() for p in Member(spec).parameters()))
    assert bound * 0.99 < params.abs().max() <= bound


@pytest.mark.parametrize("cell", CELLS)
def test_a_population_of_one_matches_the_torch_module_with_torch_adamw(
    cell: str, device: torch.device
) -> None:
    family = make_family(cell)
    (run,) = make_runs([0.05])
    trained = train(family, [run], device)
    member = Member(family.spec)
    initial = unflatten(init_members(family.spec, [run.seed]), family.spec)
    member.load_state_dict({name: p[0] for name, p in initial.items()})
    train_alone_with_torch(member.double(), family, run, CONFIG, cross_entropy)
    for name, value in member.state_dict().items():  # float32 training against a float64 reference
        torch.testing.assert_close(trained[name][0].double(), value, rtol=1e-5, atol=1e-5)
        assert not torch.equal(trained[name][0], initial[name][0]), name


@pytest.mark.parametrize("cell", CELLS)
def test_population_members_match_the_same_members_trained_alone(cell: str, device: torch.device) -> None:
    family, runs = make_family(cell), make_runs([0.0, 1e-4, 0.1])
    together = train(family, runs, device)
    for index, run in enumerate(runs):
        alone = train(family, [run], device)
        for name, value in alone.items():
            torch.testing.assert_close(together[name][index], value[0], rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("cell", CELLS)
def test_a_training_step_is_replayable_as_a_cuda_graph(cell: str, monkeypatch: pytest.MonkeyPatch) -> None:
    runs = make_runs([0.0, 0.1])
    train_step = TrainStep(make_family(cell), runs, CONFIG, torch.device("cpu"))
    assert_replayable(train_step, monkeypatch, between=snapshot_of(train_step, runs))
