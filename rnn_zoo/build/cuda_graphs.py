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
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import torch

# Eager steps before the capture, on a side stream: they let cuBLAS and the autograd engine
# set up their workspaces and streams, which must not happen while capturing.
WARM_UP_STEPS = 3


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


def replayable(step: Callable[[], None], device: torch.device) -> Callable[[], None]:
    """The replay of a CUDA graph of ``step``; ``step`` itself, with one warning, if it cannot be captured.

    Capturing records the step's kernels without running them, so a failed capture leaves
    the training state as it was and the eager step carries on from there.
    """
    graph = torch.cuda.CUDAGraph()
    try:
        with torch.cuda.graph(graph):
            step()
    except Exception as error:  # any failure to capture means: run the step eagerly
        torch.cuda.synchronize(device)
        warnings.warn(
            f"the training step could not be captured as a CUDA graph ({error}); it runs eagerly "
            "(same numbers, slower)",
            stacklevel=2,
        )
        return step
    return graph.replay
