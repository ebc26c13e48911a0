"""One encoder factory signature: ``(spec, *, input_kind, **options)``, and by name
``(name, spec, *, input_kind, **options)``, for built-in and plugin encoders alike."""

from __future__ import annotations

import inspect

import pytest
import torch

from rnn_zoo import encoders
from rnn_zoo.encoders import plugins
from rnn_zoo.member.spec import MemberSpec

SPEC = MemberSpec(16, 8, 1, 10)


def test_the_by_name_verbs_share_one_signature() -> None:
    ours = inspect.signature(encoders.build).parameters
    theirs = inspect.signature(plugins.make_encoder).parameters
    assert list(ours)[:3] == list(theirs)[:3] == ["name", "spec", "input_kind"]
    assert ours["input_kind"].kind is theirs["input_kind"].kind is inspect.Parameter.KEYWORD_ONLY


def test_input_kind_reaches_the_probing_encoders_and_is_ignored_by_the_others() -> None:
    probing = encoders.build("probing", SPEC, input_kind="real", reader_width=16, reader_layers=1)
    assert probing.config.input_kind == "real"
    flat = encoders.build("flat", SPEC, input_kind="real", widths=(8,))
    assert sum(p.numel() for p in flat.parameters()) == sum(
        p.numel() for p in encoders.build("flat", SPEC, widths=(8,)).parameters()
    )


@pytest.mark.parametrize("name", encoders.ENCODERS)
def test_a_built_in_made_through_the_plugin_factory_equals_one_built_by_name(name: str) -> None:
    torch.manual_seed(0)
    through_plugins = plugins.make_encoder(name, SPEC, input_kind="real")
    torch.manual_seed(0)
    by_name = encoders.build(name, SPEC, input_kind="real")
    for (key, mine), (other, theirs) in zip(
        through_plugins.state_dict().items(), by_name.state_dict().items(), strict=True
    ):
        assert key == other and torch.equal(mine, theirs)
