"""The LSTM layer's C loops against a float64 autograd reference, and how they are built.

Behaviour shared with the torch loops is tested for both in test_recurrence.py."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from rnn_zoo import native
from tests import test_recurrence as recurrence_tests

pytestmark = pytest.mark.skipif(native.library() is None, reason="no C compiler: the C loops cannot be built")

# (t, n, b, i, h): zoo sizes, and sizes that leave partial vectors in every loop
SHAPES = [(5, 3, 32, 6, 32), (4, 2, 3, 2, 5), (3, 2, 37, 16, 8), (6, 1, 33, 33, 17)]


def make_layer_inputs(t: int, n: int, b: int, i: int, h: int, seed: int) -> tuple[Tensor, ...]:
    """Random float32 (x (n, t, b, i), w_ih, w_hh, bias, h0, c0), all requiring grad."""
    return recurrence_tests.make_layer_inputs(t, n, b, i, h, seed, dtype=torch.float32, scale=0.7)


def reference_layer(
    x: Tensor, w_ih: Tensor, w_hh: Tensor, bias: Tensor, h: Tensor, c: Tensor
) -> tuple[Tensor, Tensor]:
    """The LSTM recurrence step by step with plain autograd ops (gates i, f, g, o as in nn.LSTM)."""
    hiddens = []
    for x_s in x.unbind(1):  # (n, b, i)
        gates = x_s @ w_ih.transpose(1, 2) + h @ w_hh.transpose(1, 2) + bias[:, None]
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        hiddens.append(h)
    return torch.stack(hiddens, dim=1), c


def outputs_and_gradients(layer, inputs: list[Tensor], seed: int) -> list[Tensor]:  # noqa: ANN001
    hiddens, cell = layer(*inputs)
    generator = torch.Generator().manual_seed(seed)
    weights = [torch.randn(out.shape, generator=generator).to(out.dtype) for out in (hiddens, cell)]
    loss = (hiddens * weights[0]).sum() + (cell * weights[1]).sum()
    return [hiddens.detach(), cell.detach(), *torch.autograd.grad(loss, inputs)]


@pytest.mark.parametrize("shape", SHAPES)
def test_outputs_and_gradients_match_float64_autograd(shape: tuple[int, ...]) -> None:
    inputs = make_layer_inputs(*shape, seed=0)
    as_float64 = [tensor.detach().double().requires_grad_() for tensor in inputs]
    got = outputs_and_gradients(native.LSTMLayer.apply, inputs, seed=1)
    expected = outputs_and_gradients(reference_layer, as_float64, seed=1)
    for mine, reference in zip(got, expected, strict=True):
        torch.testing.assert_close(mine, reference.float(), rtol=1e-4, atol=2e-5)


def test_graphs_alive_at_once_keep_their_own_buffers() -> None:
    first, second = make_layer_inputs(5, 3, 32, 6, 32, seed=3), make_layer_inputs(5, 3, 32, 6, 32, seed=4)
    alone = [outputs_and_gradients(native.LSTMLayer.apply, inputs, seed=5) for inputs in (first, second)]
    outs = [native.LSTMLayer.apply(*inputs) for inputs in (first, second)]  # both graphs alive
    for _ in range(3):  # more layers of the same shape run while those graphs wait
        outputs_and_gradients(native.LSTMLayer.apply, make_layer_inputs(5, 3, 32, 6, 32, seed=6), seed=7)
    for inputs, (hiddens, cell), expected in zip(
        (second, first), reversed(outs), reversed(alone), strict=True
    ):
        generator = torch.Generator().manual_seed(5)
        weights = [torch.randn(out.shape, generator=generator) for out in (hiddens, cell)]
        grads = torch.autograd.grad((hiddens * weights[0]).sum() + (cell * weights[1]).sum(), inputs)
        for mine, reference in zip([hiddens.detach(), cell.detach(), *grads], expected, strict=True):
            torch.testing.assert_close(mine, reference, rtol=0, atol=0)


@pytest.mark.parametrize("threads", [2, 3, 8])
def test_members_split_over_threads_give_the_same_numbers(
    threads: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    inputs = make_layer_inputs(3, 5, 4, 6, 17, seed=11)
    one = outputs_and_gradients(native.LSTMLayer.apply, inputs, seed=12)
    monkeypatch.setattr(native, "_threads", threads)
    shared = outputs_and_gradients(native.LSTMLayer.apply, inputs, seed=12)
    for a, b in zip(one, shared, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_small_activations_keep_their_relative_precision() -> None:
    # near 0, tanh(x) = 1 - 2 / (1 + e^2x) would lose most digits to cancellation
    inputs = [
        tensor.detach().mul(1e-3).requires_grad_() for tensor in make_layer_inputs(4, 2, 32, 6, 32, seed=10)
    ]
    hiddens, cell = native.LSTMLayer.apply(*inputs)
    expected = reference_layer(*(tensor.detach().double() for tensor in inputs))
    for mine, reference in zip((hiddens, cell), expected, strict=True):  # both about 1e-4
        torch.testing.assert_close(mine.detach(), reference.float(), rtol=1e-5, atol=1e-9)


@pytest.mark.parametrize(("n", "r", "h", "o"), [(3, 64, 32, 6), (2, 37, 17, 10), (1, 5, 3, 1)])
def test_head_matches_float64_autograd(n: int, r: int, h: int, o: int) -> None:
    generator = torch.Generator().manual_seed(14)
    inputs = [
        torch.randn(shape, generator=generator).requires_grad_() for shape in ((n, r, h), (n, o, h), (n, o))
    ]
    as_float64 = [tensor.detach().double().requires_grad_() for tensor in inputs]
    d_out = torch.randn(n, r, o, generator=generator)
    out = native.Head.apply(*inputs)
    expected = torch.baddbmm(as_float64[2].unsqueeze(1), as_float64[0], as_float64[1].transpose(1, 2))
    torch.testing.assert_close(out, expected.float(), rtol=1e-5, atol=1e-5)
    got = torch.autograd.grad(out, inputs, d_out)
    for mine, reference in zip(got, torch.autograd.grad(expected, as_float64, d_out.double()), strict=True):
        torch.testing.assert_close(mine, reference.float(), rtol=1e-5, atol=1e-5)


@pytest.fixture
def fresh_library(tmp_path, monkeypatch: pytest.MonkeyPatch):  # noqa: ANN001, ANN201
    """native.library() rebuilt from scratch into an empty cache under tmp_path."""
    monkeypatch.setenv("RNN_ZOO_CACHE", str(tmp_path / "cache"))
    native.library.cache_clear()
    yield tmp_path / "cache" / "kernels"
    native.library.cache_clear()


def test_the_library_is_built_once_into_the_cache(fresh_library) -> None:  # noqa: ANN001
    assert native.library() is not None
    (built,) = fresh_library.glob("recurrence-*.so")
    stamp = built.stat().st_mtime_ns
    native.library.cache_clear()
    assert native.library() is not None
    assert [path.name for path in fresh_library.iterdir()] == [built.name]  # no temporary left behind
    assert built.stat().st_mtime_ns == stamp


def test_without_a_compiler_it_warns_and_the_torch_loops_run(fresh_library, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv("CC", "/nonexistent/cc")
    monkeypatch.setattr(native.shutil, "which", lambda name: None)
    with pytest.warns(UserWarning, match="no C compiler"):
        assert native.library() is None
    assert not fresh_library.exists()


def test_a_compiler_that_fails_gives_a_warning(fresh_library, monkeypatch, tmp_path) -> None:  # noqa: ANN001
    failing = tmp_path / "failing-cc"
    failing.write_text("#!/bin/sh\nexit 1\n")
    failing.chmod(0o755)
    monkeypatch.setenv("CC", str(failing))
    with pytest.warns(UserWarning, match="could not build"):
        assert native.library() is None


def test_the_switch_turns_the_c_loops_off(fresh_library, monkeypatch) -> None:  # noqa: ANN001
    monkeypatch.setenv(native.NATIVE_ENV, "0")
    assert native.library() is None
    assert native.loops_for(torch.zeros(1)) is None


def test_only_float32_cpu_tensors_take_the_c_loops() -> None:
    assert native.loops_for(torch.zeros(1), torch.zeros(2)) is not None
    assert native.loops_for(torch.zeros(1), torch.zeros(2, dtype=torch.float64)) is None
    as_float64 = [tensor.detach().double() for tensor in make_layer_inputs(2, 1, 2, 3, 4, seed=13)]
    with pytest.raises(TypeError, match="float32 CPU tensors"):
        native.LSTMLayer.apply(*as_float64)
