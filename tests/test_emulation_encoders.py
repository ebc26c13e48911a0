"""Emulation trains with every registered encoder: the validation loss drops within a few steps."""

import pytest

from rnn_zoo.bench.config import PRESETS
from rnn_zoo.bench.pretraining import EmulationConfig, emulation_data, train_emulation
from rnn_zoo.bench.run import ENCODERS, build_encoder

# Narrow encoders: the point is that each one trains end to end, not its capacity.
SMALL = PRESETS["tiny"].encoders
SETTINGS = {"batch_members": 30, "batch_sequences": 4, "validation_sequences": 4, "lr": 3e-3, "clip": 1.0}


@pytest.fixture(scope="module")
def splits(bias_zoo):
    return emulation_data(bias_zoo, "train"), emulation_data(bias_zoo, "validation")


def test_every_registered_encoder_is_benchmarked() -> None:
    from rnn_zoo.encoders import ENCODERS as REGISTRY

    assert set(ENCODERS) == set(REGISTRY) == set(SMALL)


@pytest.mark.parametrize("name", ENCODERS)
def test_every_encoder_lowers_the_validation_loss(name, splits):
    train, validation = splits

    def train_for(steps: int) -> float:
        encoder = build_encoder(name, train.spec, input_kind="tokens", **SMALL[name])
        config = EmulationConfig(steps=steps, validate_every=min(steps, 20), emulator_hidden=32, **SETTINGS)
        return train_emulation(encoder, train, validation, config).best_validation_loss

    assert train_for(60) < 0.9 * train_for(1)
