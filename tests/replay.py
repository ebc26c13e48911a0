"""What a CUDA graph cannot replay, caught on the CPU: a step that reads a value back, copies
between host and device, or builds tensors from host data."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode

# Tensor methods that copy to or from the host (on a GPU; on the CPU they are no-ops or views,
# so they are caught by name): any call of them inside the step fails.
HOST_COPIES = ("cpu", "cuda", "numpy", "tolist", "pin_memory")


class _ReadBacks(TorchDispatchMode):
    """Fails on every read of a tensor's value by the host (``.item()``, ``bool(t)``, ``.tolist()``)."""

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if func is torch.ops.aten._local_scalar_dense.default:
            raise AssertionError("the step reads a tensor's value back to the host")
        return func(*args, **(kwargs or {}))


def _moves_device(args: tuple, kwargs: dict) -> bool:
    """Whether ``Tensor.to(*args, **kwargs)`` names a device (a copy between devices on a GPU)."""
    return "device" in kwargs or any(isinstance(arg, (str, torch.device)) for arg in args)


@contextmanager
def _no_host_traffic(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """While active, these fail: torch.tensor / as_tensor / from_numpy of host data (a
    host-to-device upload on a GPU), the Tensor methods of HOST_COPIES, and ``Tensor.to`` with a device.

    Only these patches are undone on leaving, whatever else the test has patched.
    """
    with monkeypatch.context() as patch:
        for name in ("tensor", "as_tensor", "from_numpy"):
            original = getattr(torch, name)

            def checked(
                data: Any, *args: Any, _original: Callable = original, _name: str = name, **kwargs: Any
            ) -> Any:
                if not isinstance(data, torch.Tensor):
                    raise AssertionError(f"the step builds a tensor from host data: torch.{_name}({data!r})")
                return _original(data, *args, **kwargs)

            patch.setattr(torch, name, checked)
        for name in HOST_COPIES:

            def copies(self: torch.Tensor, *args: Any, _name: str = name, **kwargs: Any) -> Any:
                raise AssertionError(f"the step copies between host and device: Tensor.{_name}()")

            patch.setattr(torch.Tensor, name, copies)
        original_to = torch.Tensor.to

        def to(self: torch.Tensor, *args: Any, **kwargs: Any) -> Any:
            if _moves_device(args, kwargs):
                raise AssertionError(f"the step copies between host and device: Tensor.to({args}, {kwargs})")
            return original_to(self, *args, **kwargs)

        patch.setattr(torch.Tensor, "to", to)
        yield


def assert_replayable(
    step: Callable[[], None], monkeypatch: pytest.MonkeyPatch, between: Callable[[], None] | None = None
) -> None:
    """Run ``step`` once as warm-up, then ``between`` (e.g. a snapshot) and ``step`` under every check, twice."""
    step()
    for _ in range(2):
        if between is not None:
            between()
        with _no_host_traffic(monkeypatch), _ReadBacks():
            step()


def snapshot_of(train_step: Any, runs: Sequence[Any]) -> Callable[[], None]:
    """A snapshot of ``train_step``'s members, taken as the trainer takes one between two steps."""
    from rnn_zoo.build.trainer import unflatten

    def take() -> None:
        with torch.no_grad():
            params = unflatten(train_step.population.params, train_step.family.spec)
            train_step.family.snapshot_columns(params, runs, 0, train_step.loss_sum)

    return take
