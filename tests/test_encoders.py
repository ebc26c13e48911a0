"""Every registered encoder: shapes, gradients, invariance where promised, other member sizes."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import torch

from rnn_zoo import encoders
from rnn_zoo.errors import ZooError
from rnn_zoo.member import functional, symmetry
from rnn_zoo.member.spec import MemberSpec

NAMES = list(encoders.ENCODERS)
INVARIANT = ["layer-stats", "dws", "probing-noninteractive", "probing"]
PROBING = ["probing-noninteractive", "probing"]
SMALL_PROBING = {"reader_width": 16, "widths": (24,), "probe_length": 6, "probes": 2}
# Small configs: the tests check behaviour, not the default sizes.
SMALL: dict[str, dict] = {
    "layer-stats": {"widths": (32, 32)},
    "flat": {"widths": (32, 32)},
    "param-transformer": {"width": 16, "layers": 1, "heads": 2},
    "dws": {"layers": 2, "channels": 6, "widths": (24,)},
    "probing-noninteractive": SMALL_PROBING,
    "probing": SMALL_PROBING,
}
SPEC = MemberSpec(6, 8, 2, 6)
TOLERANCE = 1e-4  # relative change of an embedding that counts as "the same"
OTHER_SPECS = [MemberSpec(6, 16, 1, 6), MemberSpec(6, 8, 3, 6), MemberSpec(3, 5, 2, 4)]


def make_encoder(name: str, spec: MemberSpec = SPEC, **overrides) -> encoders.Encoder:
    with torch.random.fork_rng():  # a fixed initialisation that leaves the global generator alone
        torch.manual_seed(0)
        return encoders.build(name, spec, **{**SMALL[name], **overrides}).eval()


def relative_change(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_registry_has_the_six_encoders() -> None:
    assert set(NAMES) == {"layer-stats", "flat", "param-transformer", "dws", *PROBING}
    assert [name for name in NAMES if encoders.ENCODERS[name].invariant] == INVARIANT


@pytest.mark.parametrize("name", NAMES)
def test_default_encoder_embeds_a_real_zoo(name: str, tiny_zoo_weights) -> None:
    encoder = encoders.build(name, tiny_zoo_weights.spec).eval()
    with torch.no_grad():
        embedding = encoder(tiny_zoo_weights.params)
    assert embedding.shape == (len(tiny_zoo_weights), 16)
    assert torch.isfinite(embedding).all()


@pytest.mark.parametrize("name", NAMES)
def test_gradients_reach_every_encoder_parameter(name: str, make_params: Callable) -> None:
    encoder = make_encoder(name).train()
    encoder(make_params(SPEC, 3)).square().sum().backward()
    for parameter_name, parameter in encoder.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, parameter_name


@pytest.mark.parametrize("name", INVARIANT)
def test_invariant_encoders_ignore_hidden_unit_permutations(name: str, make_params: Callable) -> None:
    params = make_params(SPEC, 4)
    permuted = symmetry.permute(params, SPEC, symmetry.random_permutations(SPEC, 4, torch.Generator()))
    encoder = make_encoder(name)
    with torch.no_grad():
        assert relative_change(encoder(permuted), encoder(params)) < TOLERANCE


@pytest.mark.parametrize("name", ["dws", *PROBING])
def test_breaking_the_symmetry_changes_the_embedding(
    name: str, make_params: Callable, break_symmetry: Callable
) -> None:
    params = make_params(SPEC, 4)
    permuted = symmetry.permute(params, SPEC, symmetry.random_permutations(SPEC, 4, torch.Generator()))
    encoder = make_encoder(name)
    with torch.no_grad():
        embedding = encoder(params)
        noise = relative_change(encoder(permuted), embedding)  # float rounding only
        broken = relative_change(encoder(break_symmetry(params, SPEC)), embedding)
    assert broken > TOLERANCE and broken > 100 * noise


def test_layer_stats_is_blind_to_a_broken_gate_block(make_params: Callable, break_symmetry: Callable) -> None:
    params = make_params(SPEC, 4)
    encoder = make_encoder("layer-stats")
    with torch.no_grad():
        assert relative_change(encoder(break_symmetry(params, SPEC)), encoder(params)) < 1e-6


@pytest.mark.parametrize("sets", ["tensors", "axes"])
def test_dws_sees_hh_columns_permuted_without_their_rows(sets: str, make_params: Callable) -> None:
    params = make_params(SPEC, 4)
    columns_only = {**params, "lstm.weight_hh_l0": params["lstm.weight_hh_l0"].roll(1, dims=2)}
    encoder = make_encoder("dws", sets=sets)
    with torch.no_grad():
        assert relative_change(encoder(columns_only), encoder(params)) > 1e-3


def test_dws_earlier_layout_is_invariant_and_sees_a_broken_gate_block(
    make_params: Callable, break_symmetry: Callable
) -> None:
    params = make_params(SPEC, 4)
    permuted = symmetry.permute(params, SPEC, symmetry.random_permutations(SPEC, 4, torch.Generator()))
    encoder = make_encoder("dws", sets="axes")
    with torch.no_grad():
        embedding = encoder(params)
        assert relative_change(encoder(permuted), embedding) < TOLERANCE
        assert relative_change(encoder(break_symmetry(params, SPEC)), embedding) > 1e-3


@pytest.mark.parametrize(("name", "dim"), [("lstm.weight_ih_l0", 2), ("head.weight", 1), ("head.bias", 1)])
def test_dws_position_embeddings_tell_member_inputs_and_outputs_apart(
    name: str, dim: int, make_params: Callable
) -> None:
    params = make_params(SPEC, 4)
    shuffled = {**params, name: params[name].roll(1, dims=dim)}  # no symmetry of the member
    encoder = make_encoder("dws")
    with torch.no_grad():  # small (the embeddings outweigh the weights at init), but no rounding
        assert relative_change(encoder(shuffled), encoder(params)) > TOLERANCE


@pytest.mark.parametrize("name", ["flat", "param-transformer"])
def test_weight_readers_see_permutations_and_train_on_them(name: str, make_params: Callable) -> None:
    params = make_params(SPEC, 4)
    permuted = symmetry.permute(params, SPEC, symmetry.random_permutations(SPEC, 4, torch.Generator()))
    encoder = make_encoder(name)
    with torch.no_grad():
        assert relative_change(encoder(permuted), encoder(params)) > 1e-3  # not invariant by construction
        assert torch.equal(encoder(params), encoder(params))  # eval: no augmentation
        encoder.train()
        assert not torch.equal(encoder(params), encoder(params))  # train: fresh shuffles each call


@pytest.mark.parametrize("name", PROBING)
def test_probing_backpropagates_through_the_member(name: str, make_params: Callable) -> None:
    params = {key: value.requires_grad_() for key, value in make_params(SPEC, 2).items()}
    make_encoder(name)(params).sum().backward()
    for key, value in params.items():
        assert value.grad is not None and value.grad.abs().sum() > 0, key


def test_interactive_probes_depend_on_the_members_answers(
    make_params: Callable, monkeypatch: pytest.MonkeyPatch
) -> None:
    probes: list[torch.Tensor] = []
    member_step = functional.step

    def recording_step(params, spec, x, state=None):
        probes.append(x.detach().clone())
        return member_step(params, spec, x, state)

    encoder = make_encoder("probing")
    monkeypatch.setattr(functional, "step", recording_step)
    with torch.no_grad():
        encoder(make_params(SPEC, 2))
    assert torch.equal(probes[0][0], probes[0][1])  # nothing answered yet: the same first probe
    assert not torch.allclose(probes[1][0], probes[1][1])  # then each member's answers steer
    torch.testing.assert_close(probes[3].sum(-1), torch.ones(2, 2))  # token probes are distributions


@pytest.mark.parametrize("spec", OTHER_SPECS, ids=str)
@pytest.mark.parametrize("name", NAMES)
def test_encoders_take_members_of_other_sizes(name: str, spec: MemberSpec, make_params: Callable) -> None:
    with torch.no_grad():
        embedding = make_encoder(name, spec, embedding_size=5)(make_params(spec, 3))
    assert embedding.shape == (3, 5)
    assert torch.isfinite(embedding).all()


@pytest.mark.parametrize("name", PROBING)
def test_real_valued_probes_for_mnist_members(name: str, make_params: Callable) -> None:
    spec = MemberSpec(16, 8, 2, 10)
    encoder = make_encoder(name, spec, input_kind="real", probe_length=0)
    assert encoder.config.probe_length == 50
    with torch.no_grad():
        assert encoder(make_params(spec, 2)).shape == (2, 16)


@pytest.mark.parametrize("name", NAMES)
def test_missing_or_misshapen_tensors_are_named(name: str, make_params: Callable) -> None:
    encoder = make_encoder(name)
    params = make_params(SPEC, 2)
    with pytest.raises(ZooError, match="lstm.bias_hh_l1"):
        encoder({key: value for key, value in params.items() if key != "lstm.bias_hh_l1"})
    with pytest.raises(ZooError, match=r"head.weight has shape \(2, 6, 9\)"):
        encoder({**params, "head.weight": torch.zeros(2, 6, 9)})


@pytest.mark.parametrize(
    ("name", "config", "match"),
    [
        ("probin", {}, "unknown encoder 'probin'"),
        ("dws", {"chanels": 4}, "no option chanels"),
        ("probing", {"probes": 0}, "option probes must be"),
        ("probing", {"input_kind": "pixels"}, "option input_kind must be one of tokens, real"),
        ("param-transformer", {"width": 15, "heads": 2}, "width"),
    ],
)
def test_bad_encoder_names_and_options_are_named(name: str, config: dict, match: str) -> None:
    with pytest.raises(ZooError, match=match):
        encoders.build(name, SPEC, **config)


@pytest.mark.parametrize("name", PROBING)
def test_token_probes_need_at_least_two_symbols(name: str) -> None:
    with pytest.raises(ZooError, match="input_kind='tokens' needs members with input_size >= 2"):
        encoders.build(name, MemberSpec(1, 8, 2, 3))


def test_cli_lists_every_encoder_with_its_size_and_invariance() -> None:
    from click.testing import CliRunner

    from rnn_zoo.cli import main

    result = CliRunner().invoke(main, ["encoders", "--member", "6", "8", "2", "6"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split() for line in result.output.splitlines()[2:]}
    assert list(lines) == NAMES
    for name, cls in encoders.ENCODERS.items():
        count = sum(p.numel() for p in encoders.build(name, SPEC).parameters())
        assert lines[name][1:3] == [f"{count:,}", "yes" if cls.invariant else "no"]


def test_cli_names_a_bad_member_size_in_one_line() -> None:
    from click.testing import CliRunner

    from rnn_zoo.cli import main

    result = CliRunner().invoke(main, ["encoders", "--member", "6", "0", "2", "6"])
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [
        "Error: Invalid value for '--member': 0 is not in the range 1<=x<=1024 (see `main encoders --help`)"
    ]
