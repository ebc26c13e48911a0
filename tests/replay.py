"""What a CUDA graph cannot replay, caught on the CPU: a step that reads a value back or builds tensors from host data."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import torch
from torch.utils._python_dispatch import TorchDispatchMode


class _ReadBacks(TorchDispatchMode):
    """Fails on every read of a tensor's value by the host (``.item()``, ``bool(t)``, ``.tolist()``)."""

    def __torch_dispatch__(self, func: Any, types: Any, args: tuple = (), kwargs: dict | None = None) -> Any:
        if func is torch.ops.aten._local_scalar_dense.default:
            raise AssertionError("the step reads a tensor's value back to the host")
        return func(*args, **(kwargs or {}))


@contextmanager
def _no_host_data(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """torch.tensor / as_tensor of Python data (a host-to-device copy on a GPU) fail while active.

    Only these two patches are undone on leaving, whatever else the test has patched.
    """
    with monkeypatch.context() as patch:
        for name in ("tensor", "as_tensor"):
            original = getattr(torch, name)

            def checked(
                data: Any, *args: Any, _original: Callable = original, _name: str = name, **kwargs: Any
            ) -> Any:
                if not isinstance(data, torch.Tensor):
                    raise AssertionError(f"the step builds a tensor from host data: torch.{_name}({data!r})")
                return _original(data, *args, **kwargs)

            patch.setattr(torch, name, checked)
        yield


def assert_replayable(step: Callable[[], None], monkeypatch: pytest.MonkeyPatch) -> None:
    """Run ``step`` once as warm-up, then once more under both checks."""
    step()
    with _no_host_data(monkeypatch), _ReadBacks():
        step()
