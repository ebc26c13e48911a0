"""The hand-written backprop through time of the LSTM layers against autograd and finite differences."""

from __future__ import annotations

import pytest
import torch
from torch import Tensor

from rnn_zoo.member import functional
from rnn_zoo.member.recurrence import LSTMLayer
from rnn_zoo.member.spec import MemberSpec, Params

SPECS = [MemberSpec(6, 32, 2, 6), MemberSpec(3, 5, 3, 2)]


def make_layer_inputs(
    t: int,
    n: int,
    b: int,
    i: int,
    h: int,
    seed: int,
    *,
    dtype: torch.dtype = torch.float64,
    scale: float = 1.0,
) -> tuple[Tensor, ...]:
    """Random (x (n, i, t, b), w_ih, w_hh, bias, h0 (n, h, b), c0) for an LSTM layer, all requiring grad."""
    generator = torch.Generator().manual_seed(seed)
    shapes = [(n, i, t, b), (n, 4 * h, i), (n, 4 * h, h), (n, 4 * h), (n, h, b), (n, h, b)]
    return tuple(
        torch.randn(shape, generator=generator, dtype=dtype).mul_(scale).requires_grad_() for shape in shapes
    )


def reference_forward(
    params: Params, spec: MemberSpec, x: Tensor, state: functional.State
) -> tuple[Tensor, ...]:
    """Outputs (n, b, t, o) and final state by functional.step, step by step: plain autograd ops only."""
    outputs = []
    for time in range(x.shape[2]):
        out, state = functional.step(params, spec, x[:, :, time], state)
        outputs.append(out)
    return torch.stack(outputs, dim=2), *(tensor for pair in state for tensor in pair)


@pytest.mark.parametrize("b", [3, 1], ids=lambda b: f"b{b}")  # b = 1: the matrix-vector form
@pytest.mark.parametrize("x_grad", [True, False], ids=["x-grad", "x-no-grad"])
def test_layer_gradients_pass_gradcheck(b: int, x_grad: bool) -> None:
    x, *rest = make_layer_inputs(t=4, n=2, b=b, i=2, h=3, seed=0)
    x = x if x_grad else x.detach()

    def layer(*args: Tensor) -> tuple[Tensor, Tensor]:
        return LSTMLayer.apply(x, *args)

    assert torch.autograd.gradcheck(layer, rest, fast_mode=False)


@pytest.mark.parametrize("spec", SPECS)
def test_forward_gradients_equal_autograd_through_the_stepwise_reference(spec: MemberSpec) -> None:
    generator = torch.Generator().manual_seed(1)
    n, b, t = 3, 4, 5
    params = {
        name: (torch.randn((n, *shape), generator=generator, dtype=torch.float64) * 0.5).requires_grad_()
        for name, shape in spec.parameter_shapes().items()
    }
    x = torch.randn(n, b, t, spec.input_size, generator=generator, dtype=torch.float64, requires_grad=True)
    state = tuple(
        tuple(torch.randn(n, b, spec.hidden_size, generator=generator, dtype=torch.float64) for _ in "hc")
        for _ in range(spec.num_layers)
    )
    out, new_state = functional.forward(params, spec, x, state)
    ours = (out, *(tensor for pair in new_state for tensor in pair))
    theirs = reference_forward(params, spec, x, state)
    weights = [torch.randn(tensor.shape, generator=generator, dtype=torch.float64) for tensor in theirs]
    leaves = [x, *params.values()]
    expected = torch.autograd.grad(sum((a * w).sum() for a, w in zip(theirs, weights, strict=True)), leaves)
    got = torch.autograd.grad(sum((a * w).sum() for a, w in zip(ours, weights, strict=True)), leaves)
    for mine, reference in zip(got, expected, strict=True):
        torch.testing.assert_close(mine, reference, rtol=1e-10, atol=1e-10)


def make_float32_inputs(seed: int) -> list[Tensor]:
    return [tensor.detach().float().requires_grad_() for tensor in make_layer_inputs(3, 2, 20, 3, 17, seed)]


def test_inputs_without_grad_get_none_and_the_rest_still_match() -> None:
    inputs = make_float32_inputs(seed=2)
    x = inputs[0].detach()
    hiddens, cell = LSTMLayer.apply(x, *inputs[1:])
    (hiddens.sum() + cell.sum()).backward()
    assert x.grad is None
    assert all(tensor.grad is not None for tensor in inputs[1:])


def test_a_retained_graph_gives_the_same_gradients_twice() -> None:
    inputs = make_float32_inputs(seed=3)
    hiddens, cell = LSTMLayer.apply(*inputs)
    loss = hiddens.square().sum() + cell.sum()
    first = torch.autograd.grad(loss, inputs, retain_graph=True)
    second = torch.autograd.grad(loss, inputs)
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_forward_without_grad_equals_forward_with_grad() -> None:
    inputs = make_float32_inputs(seed=4)
    with torch.no_grad():
        plain = LSTMLayer.apply(*inputs)
    tracked = LSTMLayer.apply(*inputs)
    for a, b in zip(plain, tracked, strict=True):
        torch.testing.assert_close(a, b.detach(), rtol=0, atol=0)


@pytest.mark.parametrize("cell", ["lstm", "gru", "rnn"])
@pytest.mark.parametrize("b", [3, 1], ids=lambda b: f"b{b}")
def test_members_as_data_give_the_inputs_gradients_and_no_weights_gradients(cell: str, b: int) -> None:
    """Members as an encoder reads them: weights without grad, the probes with it."""
    spec = MemberSpec(3, 5, 2, 2, cell=cell)
    generator = torch.Generator().manual_seed(5)
    n, t = 3, 6
    params = {
        name: torch.randn((n, *shape), generator=generator, dtype=torch.float64) * 0.5
        for name, shape in spec.parameter_shapes().items()
    }
    x = torch.randn(n, b, t, spec.input_size, generator=generator, dtype=torch.float64, requires_grad=True)
    state = functional.zero_state(spec, n, b, like=x)
    out = functional.forward(params, spec, x, state)[0]
    expected = reference_forward(params, spec, x, state)[0]
    weights = torch.randn(out.shape, generator=generator, dtype=torch.float64)
    (got,) = torch.autograd.grad((out * weights).sum(), x)
    (reference,) = torch.autograd.grad((expected * weights).sum(), x)
    torch.testing.assert_close(got, reference, rtol=1e-10, atol=1e-10)
    assert all(tensor.grad is None for tensor in params.values())
