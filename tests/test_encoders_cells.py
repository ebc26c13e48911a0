"""Every registered encoder on GRU and vanilla-RNN members: embeddings, gradients, invariance."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from rnn_zoo import encoders
from rnn_zoo.member import symmetry
from rnn_zoo.member.spec import MemberSpec
from tests.test_encoders import INVARIANT, NAMES, make_encoder, relative_change

CELLS = ["gru", "rnn"]


def make_spec(cell: str) -> MemberSpec:
    return MemberSpec(6, 8, 2, 6, cell=cell)


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("name", NAMES)
def test_every_encoder_embeds_members_of_every_cell(name: str, cell: str, make_params: Callable) -> None:
    spec = make_spec(cell)
    encoder = make_encoder(name, spec).train()
    embedding = encoder(make_params(spec, 3))
    assert embedding.shape == (3, 16) and torch.isfinite(embedding).all()
    embedding.square().sum().backward()
    for parameter_name, parameter in encoder.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, parameter_name


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("name", INVARIANT)
def test_invariant_encoders_ignore_hidden_unit_permutations_of_every_cell(
    name: str, cell: str, make_params: Callable
) -> None:
    spec = make_spec(cell)
    params = make_params(spec, 4)
    permuted = symmetry.permute(params, spec, symmetry.random_permutations(spec, 4, torch.Generator()))
    encoder = make_encoder(name, spec)
    with torch.no_grad():
        embedding = encoder(params)
        noise = relative_change(encoder(permuted), embedding)
        # Rows of the first hh weight permuted without their columns: not a symmetry of any cell.
        key = spec.key("weight_hh", 0)
        broken = {**params, key: params[key].roll(1, dims=1)}
        changed = relative_change(encoder(broken), embedding)
    assert noise < 1e-4
    if name != "layer-stats":  # statistics of a tensor do not see where its entries are
        assert changed > 100 * noise


def test_cli_counts_encoder_parameters_at_a_gru_member() -> None:
    from click.testing import CliRunner

    from rnn_zoo.cli import main

    result = CliRunner().invoke(main, ["encoders", "--member", "6", "8", "2", "6", "--cell", "gru"])
    assert result.exit_code == 0, result.output
    assert result.output.splitlines()[0] == "members: 2 x 8 GRU, 870 parameters each"
    lines = {line.split()[0]: line.split() for line in result.output.splitlines()[2:]}
    count = sum(p.numel() for p in encoders.build("flat", make_spec("gru")).parameters())
    assert lines["flat"][1] == f"{count:,}"
