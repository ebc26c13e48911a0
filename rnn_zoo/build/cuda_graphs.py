"""A training step replayed as a CUDA graph: one launch per step instead of thousands.

A population step is a few thousand small kernels (a loop over time, forward and back, for
each layer); launched one by one from Python, a GPU would mostly wait for the launches.
Captured once as a CUDA graph, the whole step is replayed with one call. The step must
keep everything that changes between steps in device tensors and never read a value back
(see :class:`rnn_zoo.build.trainer.TrainStep`); then the replay computes exactly what the eager
step would.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any

import torch

from rnn_zoo.events import Event, ignore

# Eager steps before the capture, on a side stream: they let cuBLAS and the autograd engine
# set up their workspaces and streams, which must not happen while capturing.
WARM_UP_STEPS = 3


def capturable(device: torch.device) -> bool:
    """Whether steps on ``device`` are captured as CUDA graphs (on a GPU only)."""
    return device.type == "cuda"


@contextmanager
def warm_up_stream(device: torch.device, *, active: bool) -> Iterator[None]:
    """Run the body on a side stream when ``active`` on a GPU (the warm-up before a capture)."""
    if not active or device.type != "cuda":
        yield
        return
    stream = torch.cuda.Stream(device)
    stream.wait_stream(torch.cuda.current_stream(device))
    with torch.cuda.stream(stream):
        yield
    torch.cuda.current_stream(device).wait_stream(stream)


def capture(step: Callable[[], None], device: torch.device) -> Callable[[], None]:
    """The replay of a CUDA graph of ``step``; raises what the capture raised.

    The stream current before is current again afterwards, even when ending the capture
    raised (torch's ``graph`` context then leaves its capture stream current).
    """
    graph = torch.cuda.CUDAGraph()
    previous = torch.cuda.current_stream(device)
    try:
        with torch.cuda.graph(graph):
            step()
    finally:
        if torch.cuda.current_stream(device) != previous:
            torch.cuda.set_stream(previous)
    return graph.replay


def replayable(step: Callable[[], None], device: torch.device, event: Event = ignore) -> Callable[[], None]:
    """The replay of a CUDA graph of ``step``; ``step`` itself, said loudly, if it cannot be captured.

    Capturing records the step's kernels without running them, so a failed capture leaves
    the training state as it was and the eager step carries on from there. The outcome is
    the event ``capture`` {captured, reason}; a failure is also a warning with its reason.
    Running out of memory is not a failed capture: it is raised, like any other step's.
    """
    try:
        replay = capture(step, device)
    except Exception as error:
        out_of_memory = [cause for cause in causes(error) if isinstance(cause, torch.OutOfMemoryError)]
        if out_of_memory and out_of_memory[0] is error:
            raise
        if out_of_memory:  # ending the capture failed after it: still, the step does not fit
            raise out_of_memory[0] from error
        reason = "; ".join(f"{type(cause).__name__}: {cause}" for cause in reversed(causes(error)))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        warnings.warn(
            f"the training step could not be captured as a CUDA graph ({reason}); it runs eagerly "
            "(same numbers, slower)",
            stacklevel=2,
        )
        event("capture", {"captured": False, "reason": reason})
        return step
    event("capture", {"captured": True, "reason": ""})
    return replay


def causes(error: BaseException) -> list[BaseException]:
    """``error`` and the errors it was raised from or while handling, newest first."""
    chain: list[BaseException] = []
    while error is not None and error not in chain:
        chain.append(error)
        error = error.__cause__ or error.__context__
    return chain


class CaptureOutcomes:
    """An event callback that passes every event on and counts the ``capture`` ones, for a build's record."""

    def __init__(self, event: Event = ignore) -> None:
        self.event, self.captured, self.failures = event, 0, list[str]()

    def __call__(self, name: str, payload: Mapping[str, Any]) -> None:
        if name == "capture":
            if payload["captured"]:
                self.captured += 1
            else:
                self.failures.append(str(payload["reason"]))
        self.event(name, payload)

    def record(self) -> dict[str, str]:
        """``{"cuda_graph": ...}``: captured, or how many populations ran eagerly and why; {} without captures."""
        if not self.failures:
            return {"cuda_graph": "captured"} if self.captured else {}
        total = self.captured + len(self.failures)
        return {
            "cuda_graph": f"not captured in {len(self.failures)} of {total} populations, "
            f"which ran eagerly: {self.failures[0]}"
        }
