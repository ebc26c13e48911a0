"""The batched functional forward against torch.nn.LSTM + nn.Linear, one member at a time."""

from __future__ import annotations

import pytest
import torch

from rnn_zoo.member import functional
from rnn_zoo.member.spec import Member, MemberSpec, check_params
from tests.reference import stack_members

SPECS = [MemberSpec(6, 32, 2, 6), MemberSpec(16, 8, 1, 10), MemberSpec(3, 5, 3, 2)]


def make_members(spec: MemberSpec, n: int, seed: int) -> list[Member]:
    with torch.random.fork_rng():
        torch.manual_seed(seed)  # nn.LSTM initialises from the global generator only
        return [Member(spec) for _ in range(n)]


@pytest.mark.parametrize(
    ("spec", "parameters"), [(MemberSpec(6, 32, 2, 6), 13_766), (MemberSpec(16, 32, 2, 10), 15_178)]
)
def test_parameter_count_matches_the_paper(spec: MemberSpec, parameters: int) -> None:
    assert spec.num_parameters == parameters


@pytest.mark.parametrize("spec", SPECS)
def test_parameter_names_and_shapes_are_the_modules_state_dict(spec: MemberSpec) -> None:
    reference = {name: tuple(t.shape) for name, t in Member(spec).state_dict().items()}
    assert list(spec.parameter_shapes().items()) == list(reference.items())
    assert sum(t.numel() for t in Member(spec).parameters()) == spec.num_parameters


@pytest.mark.parametrize("spec", SPECS)
def test_whole_sequence_forward_equals_nn_lstm(spec: MemberSpec, device: torch.device) -> None:
    members = make_members(spec, 4, seed=1)
    params = {name: p.to(device) for name, p in stack_members(members).items()}
    x = torch.randn(4, 3, 7, spec.input_size)
    out, state = functional.forward(params, spec, x.to(device))
    for index, member in enumerate(members):
        expected, (h, c) = member(x[index])
        torch.testing.assert_close(out[index].cpu(), expected, rtol=1e-5, atol=1e-5)
        for layer, (h_layer, c_layer) in enumerate(state):
            torch.testing.assert_close(h_layer[index].cpu(), h[layer], rtol=1e-5, atol=1e-5)
            torch.testing.assert_close(c_layer[index].cpu(), c[layer], rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("spec", SPECS)
def test_stepwise_forward_carrying_state_equals_nn_lstm(spec: MemberSpec) -> None:
    members = make_members(spec, 3, seed=2)
    params = stack_members(members)
    x = torch.randn(3, 2, 6, spec.input_size)
    state = None
    outputs = []
    for time in range(x.shape[2]):
        out, state = functional.step(params, spec, x[:, :, time], state)
        outputs.append(out)
    stepped = torch.stack(outputs, dim=2)
    for index, member in enumerate(members):
        expected, _ = member(x[index])
        torch.testing.assert_close(stepped[index], expected, rtol=1e-5, atol=1e-5)


def test_forward_continues_from_a_given_state(device: torch.device) -> None:
    spec = MemberSpec(4, 6, 2, 3)
    members = make_members(spec, 2, seed=3)
    params = {name: p.to(device) for name, p in stack_members(members).items()}
    x = torch.randn(2, 5, 8, spec.input_size)
    _, state = functional.forward(params, spec, x[:, :, :3].to(device))
    second, _ = functional.forward(params, spec, x[:, :, 3:].to(device), state)
    for index, member in enumerate(members):
        expected, _ = member(x[index])
        torch.testing.assert_close(second[index].cpu(), expected[:, 3:], rtol=1e-5, atol=1e-5)


def test_forward_is_differentiable_with_respect_to_the_members(device: torch.device) -> None:
    spec = MemberSpec(3, 4, 2, 2)
    members = stack_members(make_members(spec, 2, seed=4))
    params = {k: v.to(device).requires_grad_() for k, v in members.items()}
    out, _ = functional.forward(params, spec, torch.randn(2, 1, 3, 3, device=device))
    out.sum().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in params.values())


def test_check_params_names_the_bad_tensor() -> None:
    spec = MemberSpec(3, 4, 1, 2)
    params = stack_members(make_members(spec, 2, seed=5))
    params["lstm.weight_hh_l0"] = params["lstm.weight_hh_l0"][:, :, :3]
    with pytest.raises(ValueError, match="lstm.weight_hh_l0"):
        check_params(params, spec)
    del params["head.bias"]
    with pytest.raises(ValueError, match="missing head.bias"):
        check_params(params, spec)


@pytest.mark.parametrize("bad", [{"input_size": 0}, {"hidden_size": -1}, {"num_layers": 1.5}])
def test_member_spec_rejects_bad_sizes(bad: dict) -> None:
    fields = {"input_size": 2, "hidden_size": 2, "num_layers": 1, "output_size": 2, **bad}
    with pytest.raises(ValueError, match=next(iter(bad))):
        MemberSpec(**fields)
