"""The population trainer against plain torch: nn.LSTM + nn.Linear + torch.optim.AdamW."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch

from rnn_zoo.build.trainer import TrainConfig, TrainStep, init_members, train_population, unflatten
from rnn_zoo.member.spec import Member, MemberSpec
from rnn_zoo.tasks import streams
from rnn_zoo.tasks.family import Run, target_log_probs
from rnn_zoo.tasks.formal_languages import FormalLanguageOptions, FormalLanguages, draw_tasks
from tests.reference import train_alone_with_torch
from tests.replay import assert_replayable, snapshot_of

SPEC = MemberSpec(6, 32, 2, 6)
FAMILY = FormalLanguages(SPEC, FormalLanguageOptions(performance_samples=4, probe_sequences=2))
CPU = torch.device("cpu")
CONFIG = TrainConfig(
    batch_size=8, snapshot_steps=(0, 5, 19), learning_rate=((0, 0.01), (10, 0.003), (19, 0.0003))
)


def make_runs(decays: list[float]) -> list[Run]:
    tasks = draw_tasks(len(decays), seed=1)
    return [
        Run(k, 1000 + 17 * k, split, task, decay)
        for k, ((task, split), decay) in enumerate(zip(tasks, decays, strict=True))
    ]


def train(
    runs: list[Run], device: torch.device = CPU, *, graphs: bool = True, captures: list | None = None
) -> tuple[dict[str, torch.Tensor], list[tuple[int, torch.Tensor]]]:
    snapshots = []
    final = train_population(
        FAMILY,
        runs,
        replace(CONFIG, graphs=graphs),
        device=device,
        on_snapshot=lambda step, _, loss: snapshots.append((step, loss.cpu())),
        event=lambda name, payload: (
            captures.append(dict(payload)) if name == "capture" and captures is not None else None
        ),
    )
    return {name: value.cpu() for name, value in final.items()}, snapshots


def test_learning_rate_schedule_is_piecewise_linear() -> None:
    config = TrainConfig(32, (20000,), ((0, 0.01), (10000, 0.003), (20000, 0.0003)))
    expected = {0: 0.01, 5000: 0.0065, 10000: 0.003, 15000: 0.00165, 20000: 0.0003, 30000: 0.0003}
    for step, rate in expected.items():
        assert config.lr(step) == pytest.approx(rate, rel=1e-12)


def test_members_are_initialised_like_nn_lstm_from_their_own_seed() -> None:
    params = init_members(SPEC, [3, 4, 3])
    bound = 1 / 32**0.5
    assert params.shape == (3, 13_766)
    assert params.abs().max() <= bound and params.abs().max() > 0.99 * bound
    assert torch.equal(params[0], params[2]) and not torch.equal(params[0], params[1])
    assert torch.equal(init_members(SPEC, [4])[0], params[1])


def test_streams_mix_is_splitmix64() -> None:
    def reference(x: int) -> int:  # splitmix64's finaliser on Python integers
        mask = 2**64 - 1
        x = ((x ^ (x >> 30)) * 0xBF58476D1CE4E5B9) & mask
        x = ((x ^ (x >> 27)) * 0x94D049BB133111EB) & mask
        return x ^ (x >> 31)

    for value in (0, 1, 12345, 2**63 - 1, 2**64 - 5):
        signed = value - 2**64 if value >= 2**63 else value
        got = streams.mix(torch.tensor(signed, dtype=torch.int64)).item() % 2**64
        assert got == reference(value)


def test_streams_are_per_element_and_in_range() -> None:
    seeds = torch.tensor([5, 9, 11])
    together = streams.uniform(seeds[:, None], 1, 7, torch.arange(4))
    alone = streams.uniform(9, 1, 7, torch.arange(4))
    assert torch.equal(together[1], alone)
    assert ((together >= 0) & (together < 1)).all()
    drawn = streams.integers(torch.tensor(3), torch.tensor(9), 0, torch.arange(10_000))
    assert set(drawn.tolist()) == set(range(3, 9))


def test_population_members_match_the_same_members_trained_alone(device: torch.device) -> None:
    runs = make_runs([0.0, 1e-4, 0.1])
    together, _ = train(runs, device)
    for index, run in enumerate(runs):
        alone, _ = train([run], device)
        for name, value in alone.items():
            torch.testing.assert_close(together[name][index], value[0], rtol=1e-5, atol=1e-6)


def test_population_of_one_matches_nn_lstm_with_torch_adamw(device: torch.device) -> None:
    (run,) = make_runs([0.05])
    trained, _ = train([run], device)
    member = Member(SPEC)
    member.load_state_dict(
        {name: p[0] for name, p in unflatten(init_members(SPEC, [run.seed]), SPEC).items()}
    )

    def loss(outputs: torch.Tensor, strings: torch.Tensor) -> torch.Tensor:  # (b, 41, 6), (b, 42)
        return torch.nn.functional.cross_entropy(outputs.reshape(-1, 6), strings[:, 1:].reshape(-1))

    train_alone_with_torch(member.double(), FAMILY, run, CONFIG, loss)
    for name, value in member.state_dict().items():  # float32 training against a float64 reference
        torch.testing.assert_close(trained[name][0].double(), value, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(
        trained["head.weight"][0], init_members(SPEC, [run.seed])[0, -198:-6].view(6, 32)
    )


def test_snapshots_come_after_the_configured_steps_with_each_members_loss() -> None:
    _, snapshots = train(make_runs([1e-4, 1e-4]))
    assert [step for step, _ in snapshots] == [0, 5, 19]
    first, last = snapshots[0][1], snapshots[-1][1]
    assert first.shape == (2,) and (last < first).all()  # they learn


def test_a_step_counter_on_the_device_gives_the_batch_of_that_step() -> None:
    runs = make_runs([0.0, 0.0])
    tasks, seeds = FAMILY.task_tensor(runs, CPU), torch.tensor([run.seed for run in runs])
    for step in (0, 7, 19_999):
        by_int = FAMILY.batch(tasks, seeds, step, 8)
        by_tensor = FAMILY.batch(tasks, seeds, torch.tensor(step), 8)
        assert all(torch.equal(a, b) for a, b in zip(by_int, by_tensor, strict=True))


def test_a_training_step_is_replayable_as_a_cuda_graph(monkeypatch: pytest.MonkeyPatch) -> None:
    runs = make_runs([0.0, 0.1])
    train_step = TrainStep(FAMILY, runs, CONFIG, CPU)
    assert_replayable(train_step, monkeypatch, between=snapshot_of(train_step, runs))


def test_the_replayability_check_catches_a_read_back(monkeypatch: pytest.MonkeyPatch) -> None:
    train_step = TrainStep(FAMILY, make_runs([0.0]), CONFIG, CPU)
    with pytest.raises(AssertionError, match="reads a tensor's value back"):
        assert_replayable(lambda: train_step() if train_step.step.item() < 99 else None, monkeypatch)
    with pytest.raises(AssertionError, match="builds a tensor from host data"):
        assert_replayable(lambda: train_step.step.add_(torch.tensor(1)), monkeypatch)
    with pytest.raises(AssertionError, match="copies between host and device"):
        assert_replayable(lambda: train_step.step.add_(train_step.step.cpu()), monkeypatch)
    with pytest.raises(AssertionError, match="copies between host and device"):
        assert_replayable(
            lambda: train_step.step.add_(torch.ones((), dtype=torch.int64).to(CPU)), monkeypatch
        )
    assert_replayable(lambda: train_step.step.add_(train_step.step.to(torch.int64)), monkeypatch)  # no copy


@pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA GPU")
def test_the_replayed_cuda_graph_trains_exactly_like_the_eager_step() -> None:
    runs = make_runs([0.0, 0.1])
    cuda = torch.device("cuda")
    captures: list = []
    replayed, replayed_losses = train(runs, cuda, captures=captures)
    assert captures == [{"captured": True, "reason": ""}]  # a graph was captured and replayed
    eager, eager_losses = train(runs, cuda, graphs=False)
    assert all(torch.equal(replayed[name], eager[name]) for name in eager)
    assert all(torch.equal(a[1], b[1]) for a, b in zip(replayed_losses, eager_losses, strict=True))


@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_target_log_probs_equal_torch_cross_entropy_with_gradients(scale: float) -> None:
    generator = torch.Generator().manual_seed(0)
    logits = (torch.randn(3, 4, 5, 6, generator=generator) * scale).requires_grad_()
    targets = torch.randint(0, 6, (3, 4, 5), generator=generator)
    reference_logits = logits.detach().clone().requires_grad_()
    expected = -torch.nn.functional.cross_entropy(
        reference_logits.reshape(-1, 6), targets.reshape(-1), reduction="none"
    ).reshape(3, 4, 5)
    got = target_log_probs(logits, targets)
    torch.testing.assert_close(got, expected)
    weights = torch.randn(3, 4, 5, generator=generator)
    (got * weights).sum().backward()
    (expected * weights).sum().backward()
    torch.testing.assert_close(logits.grad, reference_logits.grad)
