import math

import pytest
import torch

from rnn_zoo.bench.losses import LOSSES, get_loss, reverse_kl, total_variation
from rnn_zoo.errors import ZooError


def make_pair() -> tuple[torch.Tensor, torch.Tensor]:
    """Two positions of three outputs: q (emulator) and p (member), as log-probabilities."""
    q = torch.tensor([[0.5, 0.25, 0.25], [1.0, 0.0, 0.0]])
    p = torch.tensor([[0.25, 0.25, 0.5], [0.5, 0.5, 0.0]])
    return q.log(), p.log()


def test_total_variation_by_hand():
    q, p = make_pair()
    # position 1: 0.5 * (0.25 + 0 + 0.25) = 0.25; position 2: 0.5 * (0.5 + 0.5 + 0) = 0.5
    assert total_variation(q, p).item() == pytest.approx((0.25 + 0.5) / 2)


def test_reverse_kl_by_hand():
    q, p = make_pair()
    q, p = q[:1], p[:1]  # the first position only
    # KL(q||p) = 0.5 ln(0.5/0.25) + 0.25 ln(1) + 0.25 ln(0.25/0.5) = 0.25 ln 2
    assert reverse_kl(q, p).item() == pytest.approx(0.25 * math.log(2))


def test_reverse_kl_ignores_outputs_the_emulator_never_gives():
    # q puts no mass where p has mass: those terms are 0 * (...) = 0; KL = 1 * ln(1 / 0.5)
    q = torch.tensor([[1.0, 0.0]]).log()
    p = torch.tensor([[0.5, 0.5]]).log()
    assert reverse_kl(q, p).item() == pytest.approx(math.log(2))


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_identical_distributions_cost_nothing_and_different_ones_do(name):
    p = torch.randn(4, 3, 5, generator=torch.Generator().manual_seed(0)).log_softmax(-1)
    loss = get_loss(name)
    assert loss(p, p).item() == pytest.approx(0.0, abs=1e-6)
    assert loss(p.flip(-1), p).item() > 0.01


def test_unknown_loss_is_named():
    with pytest.raises(ZooError, match="unknown emulation loss 'l2'"):
        get_loss("l2")
