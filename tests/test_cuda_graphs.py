"""A training step that cannot be captured as a CUDA graph is said and recorded, never silent;
running out of memory while capturing is an error; the stream is restored. Simulated on the CPU."""

from __future__ import annotations

import json
from contextlib import AbstractContextManager
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from rnn_zoo.build import cuda_graphs
from rnn_zoo.build import trainer as trainer_module
from rnn_zoo.build.builder import build_zoo
from rnn_zoo.build.recipe import load_recipe
from rnn_zoo.build.trainer import TrainConfig, train_population
from rnn_zoo.errors import ZooError
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.tasks.family import Run
from rnn_zoo.tasks.formal_languages import FormalLanguageOptions, FormalLanguages, draw_tasks

CPU = torch.device("cpu")
TINY = load_recipe("formal-languages", "tiny")
FAMILY = FormalLanguages(
    MemberSpec(6, 8, 1, 6), FormalLanguageOptions(performance_samples=4, probe_sequences=2)
)
CONFIG = TrainConfig(batch_size=4, snapshot_steps=(7,), learning_rate=((0, 0.01), (7, 0.003)))
REFUSAL = "operation not permitted when stream is capturing"


def make_runs() -> list[Run]:
    return [Run(k, 90 + k, split, task, 0.01) for k, (task, split) in enumerate(draw_tasks(2, seed=3))]


def capture_raising(error: BaseException):
    def capture(step, device):
        raise error  # a failed capture runs none of the step's kernels

    return capture


def train(events: list | None = None, graphs: bool = True) -> dict[str, torch.Tensor]:
    event = (lambda name, payload: events.append((name, dict(payload)))) if events is not None else None
    extra = {"event": event} if event else {}
    config = replace(CONFIG, graphs=graphs)
    return train_population(FAMILY, make_runs(), config, device=CPU, on_snapshot=lambda *_: None, **extra)


@pytest.fixture
def on_a_gpu(monkeypatch: pytest.MonkeyPatch) -> pytest.MonkeyPatch:
    """The trainer treats the CPU as a device whose steps are captured."""
    monkeypatch.setattr(trainer_module, "capturable", lambda device: True)
    return monkeypatch


def test_a_capture_that_raises_is_a_warning_and_an_event_and_the_step_runs_eagerly(on_a_gpu) -> None:
    expected = train(graphs=False)
    on_a_gpu.setattr(cuda_graphs, "capture", capture_raising(RuntimeError(REFUSAL)))
    events: list = []
    with pytest.warns(UserWarning, match=f"could not be captured as a CUDA graph .*{REFUSAL}"):
        got = train(events)
    assert [payload for name, payload in events if name == "capture"] == [
        {"captured": False, "reason": f"RuntimeError: {REFUSAL}"}
    ]
    # The failed capture did not run the step: the eager steps after it give the same members.
    for name, value in expected.items():
        torch.testing.assert_close(got[name], value, rtol=0, atol=0)


def test_a_failed_capture_is_recorded_in_the_zoos_build_record(on_a_gpu, tmp_path: Path) -> None:
    on_a_gpu.setattr(cuda_graphs, "capture", capture_raising(RuntimeError(REFUSAL)))
    with pytest.warns(UserWarning, match=REFUSAL):
        build_zoo(TINY, tmp_path / "zoo", device=CPU)
    record = json.loads((tmp_path / "zoo" / "zoo.json").read_text())["build"]["cuda_graph"]
    assert record.startswith("not captured in 1 of 1 populations") and REFUSAL in record


def test_a_captured_step_is_recorded_as_captured(on_a_gpu, tmp_path: Path) -> None:
    replays = []
    on_a_gpu.setattr(cuda_graphs, "capture", lambda step, device: lambda: (replays.append(1), step()))
    build_zoo(TINY, tmp_path / "zoo", device=CPU)
    assert json.loads((tmp_path / "zoo" / "zoo.json").read_text())["build"]["cuda_graph"] == "captured"
    assert len(replays) == TINY.train_config().steps - cuda_graphs.WARM_UP_STEPS


def test_a_cpu_build_records_nothing_about_graphs(tmp_path: Path) -> None:
    build_zoo(TINY, tmp_path / "zoo", device=CPU)
    assert "cuda_graph" not in json.loads((tmp_path / "zoo" / "zoo.json").read_text())["build"]


def out_of_memory_error(chained: bool) -> BaseException:
    out_of_memory = torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")
    if not chained:
        return out_of_memory
    # Ending the capture fails too, while the out-of-memory error is handled.
    error = RuntimeError("CUDA error: operation failed due to a previous error during capture")
    error.__context__ = out_of_memory
    return error


@pytest.mark.parametrize("chained", [False, True])
def test_running_out_of_memory_while_capturing_is_not_swallowed(
    on_a_gpu, tmp_path: Path, chained: bool
) -> None:
    def capture(step, device):
        raise out_of_memory_error(chained)

    on_a_gpu.setattr(cuda_graphs, "capture", capture)
    with pytest.raises(torch.OutOfMemoryError):
        train()
    with pytest.raises(ZooError, match="does not fit in the memory"):
        build_zoo(TINY, tmp_path / "zoo", device=CPU, population=6)


class FakeCuda:
    """torch.cuda's streams and graphs as far as a capture uses them; ending the capture raises."""

    def __init__(self) -> None:
        self.stream = "default"

    def current_stream(self, device=None) -> str:
        return self.stream

    def set_stream(self, stream: str) -> None:
        self.stream = stream

    def graph(self, graph: object) -> AbstractContextManager:
        fake = self

        class Capturing:
            def __enter__(self) -> None:
                fake.stream = "capture"  # as torch's graph context: its stream, then capture_begin

            def __exit__(self, *exc: object) -> None:
                raise RuntimeError("CUDA error: capture_end failed")  # before it restores the stream

        return Capturing()


def test_the_stream_is_restored_when_ending_the_capture_raises(monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakeCuda()
    for name in ("current_stream", "set_stream", "graph"):
        monkeypatch.setattr(torch.cuda, name, getattr(fake, name))
    monkeypatch.setattr(torch.cuda, "CUDAGraph", object)
    with pytest.raises(RuntimeError, match="capture_end failed"):
        cuda_graphs.capture(lambda: None, CPU)
    assert fake.stream == "default"
    events: list = []
    with pytest.warns(UserWarning, match="capture_end failed"):
        step = cuda_graphs.replayable(lambda: None, CPU, lambda name, payload: events.append(payload))
    assert fake.stream == "default" and events == [
        {"captured": False, "reason": "RuntimeError: CUDA error: capture_end failed"}
    ]
    assert step() is None
