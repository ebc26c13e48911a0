import pytest
import torch

from rnn_zoo import Member, load_weights, load_zoo
from rnn_zoo.bench.probes import load_probes
from rnn_zoo.errors import ZooError


def test_token_probes_match_the_dataset_rows(token_zoo):
    probes = load_probes(token_zoo, "validation")
    rows = load_zoo(token_zoo, "validation")
    assert probes.kind == "tokens"
    assert probes.sequences.shape == (12, 4, 10) and probes.log_probs.shape == (12, 4, 9, 6)
    torch.testing.assert_close(probes.sequences, torch.stack([r.long() for r in rows["sequences"]]))
    torch.testing.assert_close(probes.log_probs, torch.stack([r.float() for r in rows["log_probs"]]))


@pytest.mark.parametrize("fixture", ["token_zoo", "real_zoo"])
def test_inputs_line_up_with_the_member_outputs(fixture, request):
    """Running member 3 as a plain torch module on ``inputs`` gives ``log_probs`` step for step."""
    zoo = request.getfixturevalue(fixture)
    weights = load_weights(zoo, "train")
    probes = load_probes(zoo, "train")
    member = Member(weights.spec)
    member.load_state_dict({name: tensor[3] for name, tensor in weights.params.items()})
    inputs = probes.inputs(weights.spec)[3]  # (s, t, i)
    with torch.no_grad():
        outputs, _ = member(inputs)
    torch.testing.assert_close(outputs.log_softmax(-1), probes.log_probs[3], atol=2e-2, rtol=2e-3)


def test_real_probes_keep_all_steps(real_zoo):
    probes = load_probes(real_zoo, "ood")
    assert probes.kind == "real"
    assert probes.inputs(load_weights(real_zoo, "ood").spec).shape == (2, 3, 5, 4)


def test_a_zoo_without_probes_is_refused(probeless_zoo):
    with pytest.raises(ZooError, match="has no probe data \\(sequences/log_probs\\); rebuild it"):
        load_probes(probeless_zoo, "train")
