import math

import pytest
import torch

from rnn_zoo.bench.statistics import bootstrap_ci
from rnn_zoo.errors import ZooError


def test_a_constant_sample_has_a_zero_width_interval():
    interval = bootstrap_ci([0.25] * 15)
    assert (interval.mean, interval.low, interval.high) == pytest.approx((0.25, 0.25, 0.25))


def test_two_values_bound_the_interval():
    # The mean of a resample of {0, 1} (size 2) is 0, 0.5 or 1 with probability 1/4, 1/2, 1/4:
    # the 2.5% and 97.5% quantiles are 0 and 1.
    interval = bootstrap_ci([0.0, 1.0], generator=torch.Generator().manual_seed(1))
    assert (interval.mean, interval.low, interval.high) == pytest.approx((0.5, 0.0, 1.0))


def test_a_large_sample_matches_the_normal_approximation():
    sample = torch.randn(400, generator=torch.Generator().manual_seed(0)) * 2 + 5
    interval = bootstrap_ci(sample.tolist(), generator=torch.Generator().manual_seed(2))
    half_width = 1.96 * sample.std(correction=0).item() / math.sqrt(len(sample))
    assert interval.mean == pytest.approx(sample.mean().item())
    assert interval.low == pytest.approx(interval.mean - half_width, abs=0.1 * half_width)
    assert interval.high == pytest.approx(interval.mean + half_width, abs=0.1 * half_width)


def test_the_generator_makes_it_repeatable():
    values = [0.1, 0.4, 0.35, 0.8]
    first = bootstrap_ci(values, generator=torch.Generator().manual_seed(5))
    assert first == bootstrap_ci(values, generator=torch.Generator().manual_seed(5))


@pytest.mark.parametrize(("values", "confidence"), [([], 0.95), ([1.0], 1.5)])
def test_bad_input_is_refused(values, confidence):
    with pytest.raises(ZooError):
        bootstrap_ci(values, confidence=confidence)
