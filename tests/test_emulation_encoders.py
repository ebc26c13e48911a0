"""Emulation with every registered encoder (runs once rnn_zoo.encoders is installed)."""

import pytest

from rnn_zoo.bench import ENCODERS, build_encoder
from rnn_zoo.emulation import EmulationConfig, emulation_data, train_emulation

pytest.importorskip("rnn_zoo.encoders")


@pytest.fixture(scope="module")
def splits(bias_zoo):
    return emulation_data(bias_zoo, "train"), emulation_data(bias_zoo, "validation")


@pytest.mark.parametrize("name", ENCODERS)
def test_every_encoder_lowers_the_validation_loss(name, splits):
    train, validation = splits
    config = EmulationConfig(steps=60, batch_members=16, validate_every=10, lr=3e-3, emulator_hidden=32)
    before = train_emulation(
        build_encoder(name, train.spec, input_kind="tokens"),
        train,
        validation,
        EmulationConfig(steps=1, batch_members=16, validate_every=1, lr=3e-3, emulator_hidden=32),
    )
    after = train_emulation(build_encoder(name, train.spec, input_kind="tokens"), train, validation, config)
    assert after.best_validation_loss < 0.95 * before.best_validation_loss
