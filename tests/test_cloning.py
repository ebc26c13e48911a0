import math

import numpy as np
import pytest
import torch

from rnn_zoo.bench.cloning import Generation, cloned_agreement, cloned_performance, sample_sequences
from rnn_zoo.bench.emulator import Emulator, EmulatorConfig
from rnn_zoo.bench.statistics import pearson

BOS = 4


def make_fixed_emulator(probabilities: list[float]) -> Emulator:
    """An emulator whose output distribution is ``probabilities`` whatever its input and embedding."""
    emulator = Emulator(EmulatorConfig(6, 6, 3, hidden_size=8, num_layers=1))
    with torch.no_grad():
        emulator.to_output.weight.zero_()
        emulator.to_output.bias.copy_(torch.tensor(probabilities).clamp_min(1e-30).log())
    return emulator


def test_samples_start_with_bos_and_follow_the_emulator():
    emulator = make_fixed_emulator([0, 0, 1, 0, 0, 0])
    drawn = sample_sequences(
        emulator, torch.randn(2, 3), bos=BOS, length=5, samples=3, generator=torch.Generator().manual_seed(0)
    )
    assert drawn.tolist() == [[[BOS, 2, 2, 2, 2]] * 3] * 2


def test_sample_frequencies_match_the_distribution():
    probabilities = [0.1, 0.2, 0.3, 0.4, 0.0, 0.0]
    emulator = make_fixed_emulator(probabilities)
    drawn = sample_sequences(
        emulator,
        torch.randn(1, 3),
        bos=BOS,
        length=3,
        samples=4000,
        generator=torch.Generator().manual_seed(0),
    )
    counts = torch.bincount(drawn[0, :, 1:].flatten(), minlength=6).float() / 8000
    torch.testing.assert_close(counts, torch.tensor(probabilities), atol=0.02, rtol=0)


def test_cloned_performance_is_the_accepted_fraction():
    # Accept a sequence when it never contains symbol 0: with p(0) = 0.3 at each of the 4
    # drawn positions, the expected fraction is 0.7 ** 4 = 0.2401 for every member.
    emulator = make_fixed_emulator([0.3, 0.7, 0, 0, 0, 0])

    def accept(samples, tasks):
        assert samples.shape[:2] == (len(tasks), 2000)
        return (samples != 0).all(-1)

    generation = Generation(BOS, 5, torch.Generator().manual_seed(1), samples=2000, batch=2)
    fractions = cloned_performance(emulator, torch.randn(3, 3), np.zeros(3), accept, generation)
    torch.testing.assert_close(fractions, torch.full((3,), 0.2401), atol=0.03, rtol=0)


def test_agreement_compares_last_step_classes():
    emulator = make_fixed_emulator([0, 0, 1, 0, 0, 0])  # always class 2
    member = torch.full((2, 3, 4, 6), -10.0)
    member[0, :, -1, 2] = 0  # member 0 always says 2 at the last step
    member[1, :2, -1, 5] = 0  # member 1 says 5 on two sequences, 2 on the third
    member[1, 2, -1, 2] = 0
    agreement = cloned_agreement(emulator, torch.randn(2, 3), torch.randn(2, 3, 4, 6), member)
    torch.testing.assert_close(agreement, torch.tensor([1.0, 1 / 3]))


def test_pearson_by_hand():
    # x = (1, 2, 3), y = (1, 3, 2): centred (-1, 0, 1) and (-1, 1, 0): r = 1 / (sqrt 2 sqrt 2) = 0.5
    assert pearson([1, 2, 3], [1, 3, 2]) == pytest.approx(0.5)
    assert math.isnan(pearson([1, 1, 1], [1, 2, 3]))
