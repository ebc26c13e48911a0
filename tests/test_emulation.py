import json

import pytest
import torch
from torch import nn

from rnn_zoo.bench.config import emulation_config
from rnn_zoo.bench.losses import get_loss
from rnn_zoo.bench.pretraining import (
    EmulationConfig,
    build_emulator,
    clip_gradients,
    emulation_data,
    load_checkpoint,
    train_emulation,
    validation_loss,
    validation_subset,
)
from rnn_zoo.errors import ZooError


class FlatMLP(nn.Module):
    """A small real encoder for the tests: flattened weights -> MLP -> (n, e)."""

    def __init__(self, spec, width: int = 32, embedding: int = 8, seed: int = 0) -> None:
        super().__init__()
        torch.manual_seed(seed)  # only the test's module initialisation
        self.names = spec.parameter_names
        self.net = nn.Sequential(
            nn.Linear(spec.num_parameters, width), nn.ReLU(), nn.Linear(width, embedding)
        )

    def forward(self, params):
        return self.net(torch.cat([params[name].flatten(1) for name in self.names], dim=1))


def make_config(**overrides) -> EmulationConfig:
    values = dict(steps=60, batch_members=16, validate_every=10, lr=2e-2, emulator_hidden=32, seed=0)
    return EmulationConfig(**{**values, **overrides})


@pytest.fixture(scope="module")
def splits(bias_zoo):
    return emulation_data(bias_zoo, "train"), emulation_data(bias_zoo, "validation")


@pytest.fixture(scope="module")
def trained(splits, tmp_path_factory):
    train, validation = splits
    directory = tmp_path_factory.mktemp("checkpoint")
    encoder = FlatMLP(train.spec)
    events = []
    result = train_emulation(
        encoder,
        train,
        validation,
        make_config(),
        checkpoint=directory,
        encoder_config={"name": "flat-mlp"},
        event=lambda _, payload: events.append(
            (payload["step"], {k: v for k, v in payload.items() if k != "step"})
        ),
    )
    return result, directory, events


def test_validation_loss_drops(trained, splits):
    result, _, _ = trained
    untrained = train_emulation(FlatMLP(splits[0].spec), *splits, make_config(steps=1, validate_every=1))
    assert [point["step"] for point in result.curve] == [10, 20, 30, 40, 50, 60]
    assert result.best_validation_loss < 0.9 * untrained.best_validation_loss
    assert result.best_validation_loss == min(point["validation_loss"] for point in result.curve)


def test_callback_sees_every_step_and_every_validation(trained):
    _, _, events = trained
    assert [step for step, values in events if "loss" in values] == list(range(1, 61))
    assert [step for step, values in events if "validation_loss" in values] == [10, 20, 30, 40, 50, 60]


def test_checkpoint_reloads_to_the_same_emulator_outputs(trained, splits):
    result, directory, _ = trained
    meta = json.loads((directory / "config.json").read_text())
    assert meta["step"] == result.best_step and meta["encoder"] == {"name": "flat-mlp"}
    encoder = FlatMLP(splits[0].spec, seed=123)
    emulator, _ = load_checkpoint(directory, encoder)
    params, inputs, _ = splits[1].batch(torch.arange(5), torch.zeros(5, 1, dtype=torch.long))
    with torch.no_grad():
        expected = result.emulator(result.encoder(params), inputs)
        torch.testing.assert_close(emulator(encoder(params), inputs), expected)
    assert not list(directory.glob("*.tmp"))


def test_emulation_runs_on_real_valued_inputs(real_zoo):
    train, validation = emulation_data(real_zoo, "train"), emulation_data(real_zoo, "validation")
    result = train_emulation(FlatMLP(train.spec), train, validation, make_config(steps=3, validate_every=1))
    assert len(result.curve) == 3 and all(0 <= p["validation_loss"] <= 1 for p in result.curve)


def test_augmentation_sees_every_batch(splits):
    seen = []

    def augment(params, generator):
        seen.append(next(iter(params.values())).shape[0])
        return {name: tensor.flip(0) for name, tensor in params.items()}

    train_emulation(FlatMLP(splits[0].spec), *splits, make_config(steps=3, batch_members=5), augment=augment)
    assert seen == [5, 5, 5]


def test_presets_resolve_with_precedence():
    assert emulation_config().steps == 100_000
    assert emulation_config("tiny").steps == 100
    assert emulation_config("tiny", steps=7).steps == 7
    assert emulation_config("tiny", steps=None).steps == 100


@pytest.mark.parametrize(
    ("preset", "overrides", "message"),
    [
        ("huge", {}, "unknown bench preset 'huge'"),
        (None, {"stepz": 1}, "unknown EmulationConfig option"),
    ],
)
def test_bad_config_is_named(preset, overrides, message):
    with pytest.raises(ZooError, match=message):
        emulation_config(preset, **overrides)


def test_validation_subset_is_fixed_random_distinct_and_population_free(splits):
    validation = splits[1]
    stored = validation.probes.log_probs.shape[1]
    subset = validation_subset(validation, make_config(validation_sequences=3))
    assert subset.shape == (len(validation), 3)
    assert all(len(set(row.tolist())) == 3 for row in subset)
    assert len({tuple(row.tolist()) for row in subset}) > 1  # members get different sequences
    assert not torch.equal(subset, torch.arange(3).expand_as(subset))  # not the first ones
    assert torch.equal(validation_subset(validation, make_config(validation_sequences=3)), subset)
    fewer = validation_subset(validation, make_config(validation_sequences=3, validation_members=4))
    assert torch.equal(fewer, subset[:4])
    every = validation_subset(validation, make_config(validation_sequences=10 * stored))
    assert torch.equal(every.sort(dim=1).values, torch.arange(stored).expand(len(validation), -1))


def test_validation_loss_is_the_mean_over_members_of_their_subsets(splits):
    train, validation = splits
    config = make_config(validation_sequences=4, batch_members=3)  # several batches, the last partial
    encoder = FlatMLP(train.spec)
    emulator = build_emulator(encoder, train, config)
    subset = validation_subset(validation, config)
    expected = []
    with torch.no_grad():
        for member, sequences in enumerate(subset):
            params, inputs, targets = validation.batch(torch.tensor([member]), sequences[None])
            embedding = encoder(params).expand(len(sequences), -1)
            expected.append(get_loss(config.loss)(emulator(embedding, inputs), targets).item())
    value = validation_loss(encoder, emulator, validation, config)
    assert value == pytest.approx(sum(expected) / len(expected), rel=1e-5)


def test_encoder_and_emulator_gradients_are_clipped_separately():
    modules = nn.ModuleDict({"encoder": nn.Linear(3, 2), "emulator": nn.Linear(4, 4)})
    small, large = torch.full((2, 3), 0.01), torch.full((4, 4), 5.0)
    modules["encoder"].weight.grad, modules["emulator"].weight.grad = small.clone(), large.clone()
    modules["encoder"].bias.grad, modules["emulator"].bias.grad = torch.zeros(2), torch.zeros(4)
    clip_gradients(modules, 0.1)
    torch.testing.assert_close(modules["encoder"].weight.grad, small)  # under the limit: untouched
    assert modules["emulator"].weight.grad.norm().item() == pytest.approx(0.1, rel=1e-4)
    torch.testing.assert_close(modules["emulator"].weight.grad, large * 0.1 / large.norm(), rtol=1e-4, atol=0)


def test_the_paper_preset_validates_on_one_sequence_per_member_and_the_default_on_ten():
    assert emulation_config("paper").validation_sequences == 1
    assert emulation_config().validation_sequences == 10
    assert emulation_config("paper").clip == 0.1
