"""Every cell family's member against its plain torch module (nn.LSTM, nn.GRU, nn.RNN + nn.Linear), one member at a time."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch import Tensor, nn

from rnn_zoo.member import functional
from rnn_zoo.member.cells import CELLS
from rnn_zoo.member.recurrence_gru import GRULayer
from rnn_zoo.member.recurrence_rnn import RNNLayer
from rnn_zoo.member.spec import Member, MemberSpec
from rnn_zoo.zoo.schema import ZooSchema

TORCH_MODULES = {
    "lstm": nn.LSTM,
    "gru": nn.GRU,
    "rnn": nn.RNN,
}  # written out here, not read from the registry
SIZES = [(6, 32, 2, 6), (3, 5, 3, 2), (16, 8, 1, 10)]


def make_torch_members(
    spec: MemberSpec, n: int, seed: int, dtype: torch.dtype = torch.float32
) -> list[tuple[nn.RNNBase, nn.Linear]]:
    """n members as the torch module of ``spec.cell`` and a linear head, torch's own initialisation."""
    with torch.random.fork_rng():
        torch.manual_seed(seed)  # torch's modules initialise from the global generator only
        return [
            (
                TORCH_MODULES[spec.cell](
                    spec.input_size, spec.hidden_size, spec.num_layers, batch_first=True
                ).to(dtype),
                nn.Linear(spec.hidden_size, spec.output_size).to(dtype),
            )
            for _ in range(n)
        ]


def stacked(members: list[tuple[nn.RNNBase, nn.Linear]], cell: str) -> dict[str, Tensor]:
    """The members' state dicts under the keys of a module named ``cell`` beside one named head, stacked."""
    states = [
        {
            **{f"{cell}.{k}": v for k, v in rnn.state_dict().items()},
            **{f"head.{k}": v for k, v in head.state_dict().items()},
        }
        for rnn, head in members
    ]
    return {name: torch.stack([state[name] for state in states]) for name in states[0]}


def torch_outputs(
    member: tuple[nn.RNNBase, nn.Linear], x: Tensor, state: functional.State | None, index: int, cell: str
) -> tuple[Tensor, Tensor, ...]:
    """Outputs (b, t, o) of one member and its final state tensors, each (layers, b, h)."""
    rnn, head = member
    initial = None
    if (
        state is not None
    ):  # ours: per layer (h[, c]), each (n, b, h); torch's: h or (h, c), each (layers, b, h)
        initial = tuple(torch.stack([layer[part][index] for layer in state]) for part in range(len(state[0])))
        initial = initial if cell == "lstm" else initial[0]
    hidden, final = rnn(x, initial)
    return head(hidden), *((final,) if cell != "lstm" else final)


def ours_by_part(state: functional.State) -> list[Tensor]:
    """Our final state as torch lays it out: one (n, layers, b, h) tensor per state part."""
    return [torch.stack([layer[part] for layer in state], dim=1) for part in range(len(state[0]))]


def random_state(
    spec: MemberSpec, n: int, b: int, generator: torch.Generator, dtype: torch.dtype
) -> functional.State:
    parts = len(CELLS[spec.cell].state)
    return tuple(
        tuple(torch.randn(n, b, spec.hidden_size, generator=generator, dtype=dtype) for _ in range(parts))
        for _ in range(spec.num_layers)
    )


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("sizes", SIZES, ids=str)
def test_parameter_names_and_shapes_are_the_torch_modules(cell: str, sizes: tuple[int, ...]) -> None:
    spec = MemberSpec(*sizes, cell=cell)
    reference = stacked(make_torch_members(spec, 1, seed=0), cell)
    expected = [(name, tuple(tensor.shape[1:])) for name, tensor in reference.items()]
    assert list(spec.parameter_shapes().items()) == expected
    assert list(Member(spec).state_dict()) == list(reference)
    assert spec.num_parameters == sum(tensor[0].numel() for tensor in reference.values())


def test_gates_per_cell() -> None:
    assert {name: cell.gates for name, cell in CELLS.items()} == {"lstm": 4, "gru": 3, "rnn": 1}


def test_an_old_spec_without_a_cell_is_an_lstm_and_reads_as_before() -> None:
    old = {"input_size": 6, "hidden_size": 32, "num_layers": 2, "output_size": 6}
    spec = MemberSpec.from_dict(old)
    assert spec.cell == "lstm" and spec.to_dict() == old
    assert spec.parameter_names[0] == "lstm.weight_ih_l0"


def test_an_lstm_zoos_record_of_its_members_is_unchanged(zoo_dir: Path) -> None:
    spec = json.loads((zoo_dir / "zoo.json").read_text())["schema"]["spec"]
    assert spec == {"input_size": 6, "hidden_size": 32, "num_layers": 2, "output_size": 6}
    assert ZooSchema.from_dict({"spec": spec}).spec == MemberSpec(6, 32, 2, 6, cell="lstm")


@pytest.mark.parametrize("cell", CELLS)
def test_zero_state_holds_the_cells_state_tensors(cell: str) -> None:
    state = functional.zero_state(MemberSpec(3, 5, 2, 2, cell=cell), 4, 6, like=torch.ones(()))
    parts = 2 if cell == "lstm" else 1  # nn.LSTM's (h, c); nn.GRU's and nn.RNN's h
    assert [[tuple(part.shape) for part in layer] for layer in state] == [[(4, 6, 5)] * parts] * 2
    assert all(not part.any() for layer in state for part in layer)


@pytest.mark.parametrize("cell", CELLS)
def test_to_dict_and_from_dict_are_inverse(cell: str) -> None:
    spec = MemberSpec(3, 5, 2, 2, cell=cell)
    assert MemberSpec.from_dict(spec.to_dict()) == spec


def test_an_unknown_cell_is_rejected_by_name() -> None:
    with pytest.raises(ValueError, match="MemberSpec.cell must be one of lstm, gru, rnn, got 'lstn'"):
        MemberSpec(3, 5, 2, 2, cell="lstn")


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("sizes", SIZES, ids=str)
@pytest.mark.parametrize(("dtype", "tolerance"), [(torch.float32, 1e-5), (torch.float64, 1e-12)], ids=str)
@pytest.mark.parametrize("b", [4, 1], ids=lambda b: f"b{b}")  # b = 1 takes the matrix-vector form
def test_whole_sequence_forward_equals_the_torch_module(
    cell: str, sizes: tuple[int, ...], dtype: torch.dtype, tolerance: float, b: int, device: torch.device
) -> None:
    spec = MemberSpec(*sizes, cell=cell)
    members = make_torch_members(spec, 3, seed=1, dtype=dtype)
    generator = torch.Generator().manual_seed(2)
    x = torch.randn(3, b, 7, spec.input_size, generator=generator, dtype=dtype)
    state = random_state(spec, 3, b, generator, dtype)
    params = {name: tensor.to(device) for name, tensor in stacked(members, cell).items()}
    on_device = tuple(tuple(part.to(device) for part in layer) for layer in state)
    with torch.no_grad():
        out, final = functional.forward(params, spec, x.to(device), on_device)
        for index, member in enumerate(members):
            expected, *expected_state = torch_outputs(member, x[index], state, index, cell)
            torch.testing.assert_close(out[index].cpu(), expected, rtol=tolerance, atol=tolerance)
            for ours, theirs in zip(ours_by_part(final), expected_state, strict=True):
                torch.testing.assert_close(ours[index].cpu(), theirs, rtol=tolerance, atol=tolerance)


@pytest.mark.parametrize("cell", CELLS)
def test_stepwise_forward_carrying_state_equals_the_torch_module(cell: str) -> None:
    spec = MemberSpec(3, 5, 2, 2, cell=cell)
    members = make_torch_members(spec, 3, seed=3)
    params = stacked(members, cell)
    x = torch.randn(3, 2, 6, spec.input_size, generator=torch.Generator().manual_seed(4))
    state, outputs = None, []
    with torch.no_grad():
        for time in range(x.shape[2]):
            out, state = functional.step(params, spec, x[:, :, time], state)
            outputs.append(out)
        for index, member in enumerate(members):
            expected, *expected_state = torch_outputs(member, x[index], None, index, cell)
            torch.testing.assert_close(torch.stack(outputs, dim=2)[index], expected, rtol=1e-5, atol=1e-5)
            for ours, theirs in zip(ours_by_part(state), expected_state, strict=True):
                torch.testing.assert_close(ours[index], theirs, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("sizes", SIZES[1:], ids=str)
@pytest.mark.parametrize("b", [3, 1], ids=lambda b: f"b{b}")  # b = 1: rows form, weight gradients at the end
def test_gradients_equal_autograd_through_the_torch_module_in_float64(
    cell: str, sizes: tuple[int, ...], b: int
) -> None:
    spec = MemberSpec(*sizes, cell=cell)
    members = make_torch_members(spec, 2, seed=5, dtype=torch.float64)
    generator = torch.Generator().manual_seed(6)
    x = torch.randn(2, b, 5, spec.input_size, generator=generator, dtype=torch.float64, requires_grad=True)
    state = random_state(spec, 2, b, generator, torch.float64)
    for layer in state:
        for part in layer:
            part.requires_grad_()
    params = {name: tensor.detach().requires_grad_() for name, tensor in stacked(members, cell).items()}
    out, final = functional.forward(params, spec, x, state)
    weights = [
        torch.randn(t.shape, generator=generator, dtype=torch.float64) for t in (out, *ours_by_part(final))
    ]
    initial = [part for layer in state for part in layer]
    ours = torch.autograd.grad(
        sum((a * w).sum() for a, w in zip((out, *ours_by_part(final)), weights, strict=True)),
        [x, *initial, *params.values()],
    )
    for index, (rnn, head) in enumerate(members):
        theirs_out = torch_outputs((rnn, head), x[index], state, index, cell)
        loss = sum((a * w[index]).sum() for a, w in zip(theirs_out, weights, strict=True))
        module_params = [*rnn.parameters(), *head.parameters()]
        theirs = torch.autograd.grad(loss, [x, *initial, *module_params])
        inputs = 1 + len(initial)  # x and the initial state: only member index's slice has a gradient
        for mine, reference in zip(ours[:inputs], theirs[:inputs], strict=True):
            torch.testing.assert_close(mine[index], reference[index], rtol=1e-10, atol=1e-10)
        for mine, reference in zip(ours[inputs:], theirs[inputs:], strict=True):
            torch.testing.assert_close(mine[index], reference, rtol=1e-10, atol=1e-10)


def make_layer_inputs(cell: str, t: int, n: int, b: int, i: int, h: int, seed: int) -> tuple[Tensor, ...]:
    """Random float64 inputs of the cell's population layer, all requiring grad."""
    g = CELLS[cell].gates * h
    biases = [(n, g), (n, g)] if cell == "gru" else [(n, g)]
    shapes = [(n, i, t, b), (n, g, i), (n, g, h), *biases, (n, h, b)]
    generator = torch.Generator().manual_seed(seed)
    return tuple(torch.randn(s, generator=generator, dtype=torch.float64).requires_grad_() for s in shapes)


LAYERS = {"gru": GRULayer, "rnn": RNNLayer}


@pytest.mark.parametrize("cell", LAYERS)
@pytest.mark.parametrize("b", [3, 1], ids=lambda b: f"b{b}")
@pytest.mark.parametrize("x_grad", [True, False], ids=["x-grad", "x-no-grad"])
def test_layer_gradients_pass_gradcheck(cell: str, b: int, x_grad: bool) -> None:
    x, *rest = make_layer_inputs(cell, t=4, n=2, b=b, i=2, h=3, seed=0)
    x = x if x_grad else x.detach()

    def layer(*args: Tensor) -> Tensor:
        return LAYERS[cell].apply(x, *args)

    assert torch.autograd.gradcheck(layer, rest, fast_mode=False)


@pytest.mark.parametrize("cell", LAYERS)
@pytest.mark.parametrize("b", [5, 1], ids=lambda b: f"b{b}")
def test_layer_inputs_without_grad_get_none_and_no_grad_changes_nothing(cell: str, b: int) -> None:
    inputs = make_layer_inputs(cell, t=3, n=2, b=b, i=3, h=4, seed=1)
    x = inputs[0].detach()
    hiddens = LAYERS[cell].apply(x, *inputs[1:])
    hiddens.square().sum().backward()
    assert x.grad is None and all(tensor.grad is not None for tensor in inputs[1:])
    with torch.no_grad():
        plain = LAYERS[cell].apply(*inputs)
    torch.testing.assert_close(plain, hiddens.detach(), rtol=0, atol=0)


@pytest.mark.parametrize("cell", LAYERS)
def test_a_retained_graph_gives_the_same_gradients_twice(cell: str) -> None:
    inputs = make_layer_inputs(cell, t=3, n=2, b=5, i=3, h=4, seed=2)
    loss = LAYERS[cell].apply(*inputs).square().sum()
    first = torch.autograd.grad(loss, inputs, retain_graph=True)
    second = torch.autograd.grad(loss, inputs)
    for a, b in zip(first, second, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
