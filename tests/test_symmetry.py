"""The hidden-unit symmetry: permuted members compute the same function, broken ones do not."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from rnn_zoo.member import symmetry
from rnn_zoo.member.cells import CELLS
from rnn_zoo.member.spec import MemberSpec, member_from_params

SIZES = [(6, 8, 2, 6), (3, 5, 3, 2), (4, 7, 1, 3)]
SPECS = [MemberSpec(*sizes, cell=cell) for cell in CELLS for sizes in SIZES]


def member_outputs(params: dict[str, torch.Tensor], spec: MemberSpec, x: torch.Tensor) -> torch.Tensor:
    """Outputs of every member, each run alone through the canonical module (nn.LSTM, nn.GRU or nn.RNN)."""
    n = x.shape[0]
    with torch.no_grad():
        return torch.stack([member_from_params(params, spec, k)(x[k])[0] for k in range(n)])


def member_inputs(spec: MemberSpec, n: int) -> torch.Tensor:
    return torch.randn(n, 3, 7, spec.input_size, generator=torch.Generator().manual_seed(1))


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_permuted_members_compute_the_same_function(spec: MemberSpec, make_params: Callable) -> None:
    params = make_params(spec, 4)
    perms = symmetry.random_permutations(spec, 4, torch.Generator().manual_seed(2))
    permuted = symmetry.permute(params, spec, perms)
    x = member_inputs(spec, 4)
    torch.testing.assert_close(member_outputs(permuted, spec, x), member_outputs(params, spec, x))


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_permutation_really_moves_every_hidden_tensor(spec: MemberSpec, make_params: Callable) -> None:
    params = make_params(spec, 3)
    perms = symmetry.random_permutations(spec, 3, torch.Generator().manual_seed(3))
    permuted = symmetry.permute(params, spec, perms)
    for name in spec.parameter_names:
        moved = not torch.equal(permuted[name], params[name])
        assert moved == (name != "head.bias"), name


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_permute_then_invert_is_identity(spec: MemberSpec, make_params: Callable) -> None:
    params = make_params(spec, 5)
    perms = symmetry.random_permutations(spec, 5, torch.Generator().manual_seed(4))
    restored = symmetry.permute(symmetry.permute(params, spec, perms), spec, symmetry.invert(perms))
    for name in spec.parameter_names:
        assert torch.equal(restored[name], params[name]), name


@pytest.mark.parametrize("cell", CELLS)
def test_permute_matches_hand_indexing_of_one_member(cell: str, make_params: Callable) -> None:
    spec = MemberSpec(2, 3, 2, 2, cell=cell)
    params = make_params(spec, 1)
    perm0, perm1 = torch.tensor([2, 0, 1]), torch.tensor([1, 2, 0])
    permuted = symmetry.permute(params, spec, (perm0[None], perm1[None]))
    rows0, rows1 = gate_rows(perm0, spec.gates), gate_rows(perm1, spec.gates)
    assert torch.equal(permuted[f"{cell}.weight_ih_l0"][0], params[f"{cell}.weight_ih_l0"][0][rows0])
    assert torch.equal(
        permuted[f"{cell}.weight_hh_l0"][0], params[f"{cell}.weight_hh_l0"][0][rows0][:, perm0]
    )
    assert torch.equal(
        permuted[f"{cell}.weight_ih_l1"][0], params[f"{cell}.weight_ih_l1"][0][rows1][:, perm0]
    )
    assert torch.equal(permuted[f"{cell}.bias_hh_l1"][0], params[f"{cell}.bias_hh_l1"][0][rows1])
    assert torch.equal(permuted["head.weight"][0], params["head.weight"][0][:, perm1])


def gate_rows(perm: torch.Tensor, gates: int) -> torch.Tensor:
    """Row index of ``gates`` blocks of h rows, each permuted by perm (h,)."""
    h = len(perm)
    return torch.cat([perm + h * gate for gate in range(gates)])


def permute_one_layer_by_hand(
    params: dict[str, torch.Tensor], cell: str, rows: torch.Tensor, columns: torch.Tensor
) -> dict[str, torch.Tensor]:
    """A one-layer member with its gate rows taken in ``rows`` order and its hidden columns in ``columns`` order."""
    moved = {name: params[name][:, rows] for name in params if name.startswith(f"{cell}.")}
    moved[f"{cell}.weight_hh_l0"] = moved[f"{cell}.weight_hh_l0"][:, :, columns]
    return {**params, **moved, "head.weight": params["head.weight"][:, :, columns]}


WRONG_PERMUTATIONS = ["one gate block left in place", "rows but not columns"]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("wrong", WRONG_PERMUTATIONS)
def test_a_permutation_that_breaks_the_symmetry_changes_the_function(
    cell: str, wrong: str, make_params: Callable
) -> None:
    spec = MemberSpec(4, 6, 1, 3, cell=cell)
    if wrong == "one gate block left in place" and spec.gates == 1:
        pytest.skip("a vanilla RNN has a single gate block")
    params, x = make_params(spec, 2), member_inputs(spec, 2)
    perm = torch.tensor([1, 2, 3, 4, 5, 0])
    right = permute_one_layer_by_hand(params, cell, gate_rows(perm, spec.gates), perm)
    torch.testing.assert_close(member_outputs(right, spec, x), member_outputs(params, spec, x))
    if wrong == "one gate block left in place":  # the last one
        rows, columns = (
            torch.cat([gate_rows(perm, spec.gates - 1), gate_rows(torch.arange(6), spec.gates)[-6:]]),
            perm,
        )
    else:
        rows, columns = gate_rows(perm, spec.gates), torch.arange(6)
    broken = member_outputs(permute_one_layer_by_hand(params, cell, rows, columns), spec, x)
    assert (broken - member_outputs(params, spec, x)).abs().max() > 1e-3


def test_identity_permutations_change_nothing(make_params: Callable) -> None:
    spec = SPECS[0]
    params = make_params(spec, 2)
    same = symmetry.permute(params, spec, symmetry.identity_permutations(spec, 2))
    assert all(torch.equal(same[name], params[name]) for name in spec.parameter_names)


@pytest.mark.parametrize("cell", CELLS)
def test_breaking_one_gate_block_changes_the_function(
    cell: str, make_params: Callable, break_symmetry: Callable
) -> None:
    spec = MemberSpec(*SIZES[0], cell=cell)
    params = make_params(spec, 2)
    x = member_inputs(spec, 2)
    broken = member_outputs(break_symmetry(params, spec), spec, x)
    assert (broken - member_outputs(params, spec, x)).abs().max() > 1e-3


def test_random_permutations_follow_the_generator() -> None:
    spec = SPECS[0]
    first = symmetry.random_permutations(spec, 3, torch.Generator().manual_seed(7))
    again = symmetry.random_permutations(spec, 3, torch.Generator().manual_seed(7))
    other = symmetry.random_permutations(spec, 3, torch.Generator().manual_seed(8))
    assert all(torch.equal(a, b) for a, b in zip(first, again, strict=True))
    assert not all(torch.equal(a, b) for a, b in zip(first, other, strict=True))
    for perm in first:
        assert torch.equal(perm.sort(dim=-1).values, torch.arange(spec.hidden_size).expand(3, -1))


def test_wrong_number_of_permutations_is_rejected(make_params: Callable) -> None:
    spec = SPECS[0]
    with pytest.raises(ValueError, match="expected 2 permutations"):
        symmetry.permute(make_params(spec, 1), spec, symmetry.identity_permutations(spec, 1)[:1])
