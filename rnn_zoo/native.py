"""The LSTM layer with its time loops in C (``recurrence.c``), compiled on first use and cached.

On a CPU, :func:`rnn_zoo.lstm.forward` runs each layer as this module's :class:`LSTMLayer`
when a C compiler is at hand ($CC, else Python's own compiler, else ``cc``): the shared
library is built once per source, compiler and CPU into ``<cache>/kernels`` and loaded with
ctypes (no Python extension, so nothing to build at install time). Its loops split the
members between :func:`set_threads` threads: unlike torch's intra-op threads, which at these
sizes mostly wait on each other, each thread runs whole members. Without a compiler, with
``RNN_ZOO_NATIVE=0``, or on a GPU, it runs :class:`rnn_zoo.recurrence.LSTMLayer`: the same
loops and arithmetic in torch, equal up to float rounding.
"""

from __future__ import annotations

import ctypes
import functools
import getpass
import hashlib
import os
import platform
import shlex
import shutil
import subprocess
import sysconfig
import tempfile
import warnings
import weakref
from importlib import resources
from pathlib import Path
from typing import Any

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from rnn_zoo.cache import cache_dir
from rnn_zoo.recurrence import fused_weights, split_weights

NATIVE_ENV = "RNN_ZOO_NATIVE"
FLAG_SETS = (["-O3", "-march=native"], ["-O3"])  # the second for compilers without -march=native
COMPILE_TIMEOUT_S = 120


@functools.cache
def library() -> ctypes.CDLL | None:
    """The compiled loops, or None (no compiler, or switched off by RNN_ZOO_NATIVE=0)."""
    if os.environ.get(NATIVE_ENV, "1") == "0":
        return None
    compiler = _compiler()
    if compiler is None:
        warnings.warn(
            "no C compiler found (set CC): LSTM layers on the CPU run torch's slower loops", stacklevel=2
        )
        return None
    source = resources.files("rnn_zoo").joinpath("recurrence.c").read_text(encoding="utf-8")
    for flags in FLAG_SETS:
        path = _built(source, compiler, flags)
        try:
            if path is not None:
                return _declare(ctypes.CDLL(str(path)))
        except OSError:  # built, but not loadable here (a foreign or damaged file)
            continue
    warnings.warn(
        f"{compiler[0]} could not build rnn_zoo/recurrence.c: LSTM layers run torch's loops", stacklevel=2
    )
    return None


_threads = 1


def set_threads(count: int) -> None:
    """Run the C loops on ``count`` threads (1 until set), members split between them; the numbers do not change."""
    global _threads
    _threads = max(1, int(count))


def loops_for(*tensors: Tensor) -> ctypes.CDLL | None:
    """The compiled loops if they can run on these tensors (all float32 on the CPU) and could be built."""
    runs_here = all(tensor.device.type == "cpu" and tensor.dtype == torch.float32 for tensor in tensors)
    return library() if runs_here else None


class LSTMLayer(torch.autograd.Function):
    """:class:`rnn_zoo.recurrence.LSTMLayer` with its loops in C: the same arguments and results.

    x (n, t, b, i), w_ih (n, g, i), w_hh (n, g, h), bias (n, g), h0 and c0 (n, b, h) ->
    hiddens (n, t, b, h) and the final cell (n, b, h); float32 on the CPU. x may be a strided
    view: the loops read it where it lies. Buffer layouts are in recurrence.c.
    """

    @staticmethod
    def forward(ctx: Any, x: Tensor, w_ih: Tensor, w_hh: Tensor, bias: Tensor, h0: Tensor, c0: Tensor) -> Any:
        if loops_for(x, w_ih, w_hh, bias, h0, c0) is None:
            raise TypeError("the C loops take float32 CPU tensors only, and need the compiled library")
        x = x if x.stride(3) == 1 else x.contiguous()
        n, t, b, i = x.shape
        h = w_hh.shape[2]
        weights = fused_weights(w_ih, w_hh, bias)  # (n, g, k)
        inputs, gates = _BUFFERS.take(n, t, b, h + i + 1), _BUFFERS.take(n, t, b, 4 * h)
        keep = any(ctx.needs_input_grad)
        to_cell, forget = (_BUFFERS.take(n, t, b, h), _BUFFERS.take(n, t, b, h)) if keep else (None, None)
        hiddens = x.new_empty(n, t, b, h)
        cell = c0.clone(memory_format=torch.contiguous_format)  # c_0 in, c_T out
        h0 = h0.contiguous()
        w_t = weights.transpose(1, 2).contiguous()
        tensors = (h0, w_t, inputs, cell, gates, hiddens, to_cell, forget)
        sizes = (t, n, h, i, b, _pointer(x), *x.stride()[:3])
        _check(library().lstm_forward(*sizes, *map(_pointer, tensors), _threads))
        ctx.input_size = i
        ctx.buffers = (gates, to_cell, forget, inputs, weights)  # backward only reads them
        ctx.lease = _BUFFERS.lease(gates, to_cell, forget, inputs)  # back to the pool with the graph
        return hiddens, cell

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, d_hiddens: Tensor, d_cell: Tensor) -> tuple[Tensor | None, ...]:
        local, to_cell, forget, inputs, weights = ctx.buffers
        n, t, b, g = local.shape
        h, i = g // 4, ctx.input_size
        d_x = inputs.new_empty(n, t, b, i) if ctx.needs_input_grad[0] else None
        d_c0 = d_cell.clone(memory_format=torch.contiguous_format)  # d c_T in, d c_0 out
        d_h0, d_weights_t = torch.empty_like(d_c0), weights.new_empty(n, h + i + 1, g)
        d_hiddens = d_hiddens.contiguous()
        tensors = (weights, inputs, local, to_cell, forget, d_hiddens, d_c0, d_h0, d_weights_t, d_x)
        _check(library().lstm_backward(t, n, h, i, b, *map(_pointer, tensors), _threads))
        return d_x, *split_weights(d_weights_t.transpose(1, 2), h, i), d_h0, d_c0


class Head(torch.autograd.Function):
    """The members' output layer, hidden (n, r, h) @ weight (n, o, h)^T + bias (n, o) -> (n, r, o).

    The same numbers as torch.baddbmm; its backward computes the hidden states' gradient,
    a product over only o = 6 or 10 outputs, with the C matmul (float32 CPU tensors).
    """

    @staticmethod
    def forward(ctx: Any, hidden: Tensor, weight: Tensor, bias: Tensor) -> Tensor:
        ctx.save_for_backward(hidden, weight)
        return torch.baddbmm(bias.unsqueeze(1), hidden, weight.transpose(1, 2))

    @staticmethod
    @once_differentiable
    def backward(ctx: Any, d_out: Tensor) -> tuple[Tensor | None, ...]:
        hidden, weight = ctx.saved_tensors
        d_out, weight = d_out.contiguous(), weight.contiguous()
        (n, r, o), h = d_out.shape, weight.shape[2]
        d_hidden = None
        if ctx.needs_input_grad[0]:
            d_hidden = d_out.new_empty(n, r, h)
            library().batched_matmul(n, r, h, o, *map(_pointer, (d_out, weight, d_hidden)))
        d_weight = torch.bmm(d_out.transpose(1, 2), hidden) if ctx.needs_input_grad[1] else None
        return d_hidden, d_weight, d_out.sum(dim=1) if ctx.needs_input_grad[2] else None


class _BufferPool:
    """Buffers of finished layers, for the next ones of the same shape.

    Fresh tensors of tens of megabytes come from new pages of memory, and touching those
    for the first time costs about as much as the loops that fill them. A layer's buffers
    come back when its autograd graph is freed (a training step's graph, when the next
    step's forward replaces it), so a training loop cycles through two sets.
    """

    def __init__(self, per_shape: int = 16) -> None:
        self.per_shape = per_shape
        self.free: dict[tuple[int, ...], list[Tensor]] = {}

    def take(self, *shape: int) -> Tensor:
        kept = self.free.get(shape)
        return kept.pop() if kept else torch.empty(shape)

    def lease(self, *buffers: Tensor | None) -> object:
        """A token whose end (garbage collection) gives the buffers back to the pool."""
        token = _Lease()
        weakref.finalize(token, self._give, *(buffer for buffer in buffers if buffer is not None))
        return token

    def _give(self, *buffers: Tensor) -> None:
        for buffer in buffers:
            kept = self.free.setdefault(tuple(buffer.shape), [])
            if len(kept) < self.per_shape:
                kept.append(buffer)


class _Lease:
    """Held by a layer's autograd context; see _BufferPool.lease."""


_BUFFERS = _BufferPool()


def _check(status: int) -> None:
    if status != 0:
        raise MemoryError("no memory for the LSTM layer's scratch space")


def _pointer(tensor: Tensor | None) -> int | None:
    """The address of a contiguous float32 CPU tensor's data (None for NULL)."""
    return None if tensor is None else tensor.data_ptr()


def _compiler() -> list[str] | None:
    command = os.environ.get("CC") or sysconfig.get_config_var("CC") or "cc"
    words = shlex.split(command)
    if words and shutil.which(words[0]):
        return words
    return ["cc"] if shutil.which("cc") else None


def _built(source: str, compiler: list[str], flags: list[str]) -> Path | None:
    """The shared library for this source, compiler, flags and CPU; built if not cached yet."""
    key = hashlib.sha256("\n".join([source, *compiler, *flags, _cpu()]).encode()).hexdigest()[:20]
    for folder in (
        cache_dir() / "kernels",
        Path(tempfile.gettempdir()) / f"rnn-zoo-kernels-{getpass.getuser()}",
    ):
        path = folder / f"recurrence-{key}.so"
        if path.exists():
            return path
        try:
            folder.mkdir(parents=True, exist_ok=True)
            with tempfile.TemporaryDirectory(dir=folder) as work:  # renamed into place when whole
                source_file, built = Path(work) / "recurrence.c", Path(work) / "recurrence.so"
                source_file.write_text(source, encoding="utf-8")
                command = [*compiler, *flags, "-std=gnu11", "-pthread", "-fPIC", "-shared", "-o", str(built)]
                command.append(str(source_file))
                subprocess.run(command, check=True, capture_output=True, timeout=COMPILE_TIMEOUT_S)
                os.replace(built, path)
            return path
        except subprocess.SubprocessError:
            return None  # these flags do not work with this compiler
        except OSError:
            continue  # an unwritable folder: try the next
    return None


def _cpu() -> str:
    """What -march=native depends on: the machine and, where Linux tells, the CPU's flags."""
    flags = ""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            flags = next((line for line in cpuinfo if line.startswith(("flags", "Features"))), "")
    except OSError:
        pass
    return f"{platform.machine()} {platform.processor()} {flags}"


def _declare(lib: ctypes.CDLL) -> ctypes.CDLL:
    sizes, address, stride, threads = [ctypes.c_int] * 5, ctypes.c_void_p, ctypes.c_int64, ctypes.c_int
    lib.lstm_forward.argtypes = [*sizes, address, stride, stride, stride, *[address] * 8, threads]
    lib.lstm_forward.restype = ctypes.c_int
    lib.lstm_backward.argtypes = [*sizes, *[address] * 10, threads]
    lib.lstm_backward.restype = ctypes.c_int
    lib.batched_matmul.argtypes = [*[ctypes.c_int] * 4, *[address] * 3]
    lib.batched_matmul.restype = None
    return lib
