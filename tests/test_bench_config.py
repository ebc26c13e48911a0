"""The bench's settings resolve one way in every config: defaults < preset < what is given."""

from __future__ import annotations

import pytest

from rnn_zoo.bench.config import PRESETS, bench_config, config_from_record, config_record, encoder_options
from rnn_zoo.errors import ZooError


def test_every_config_takes_the_default_then_the_preset_then_what_is_given() -> None:
    default, tiny = bench_config(), bench_config("tiny")
    assert (default.seeds, default.emulation.steps, default.downstream.steps) == (15, 100_000, 2_000)
    assert (tiny.seeds, tiny.emulation.steps, tiny.downstream.steps) == (2, 100, 200)
    assert tiny.emulation.weight_decay == default.emulation.weight_decay == 0.01  # tiny leaves it
    given = bench_config(
        "tiny", seeds=5, steps=7, emulation={"lr": 0.5}, downstream={"steps": 3}, device="meta"
    )
    assert (given.seeds, given.emulation.steps, given.emulation.lr, given.downstream.steps) == (5, 7, 0.5, 3)
    assert given.emulation.validate_every == 25 and given.device == "meta"  # the rest stays the preset's
    assert bench_config("tiny", seeds=None, steps=None).seeds == 2  # None is not given


def test_encoder_sizes_come_from_the_same_preset_table_and_given_options_win() -> None:
    options = encoder_options("tiny", ["flat", "mine"], {"widths": (8,)})
    assert options == {"flat": {"widths": (8,)}, "mine": {"widths": (8,)}}
    assert encoder_options("tiny", ["dws"], {}) == {"dws": {"layers": 2, "channels": 8}}
    assert encoder_options("paper", ["dws"], {}) == {"dws": {}}
    assert all(
        set(vars(preset)) == {"bench", "emulation", "downstream", "encoders"} for preset in PRESETS.values()
    )


@pytest.mark.parametrize(
    ("preset", "given", "message"),
    [
        ("huge", {}, "unknown bench preset 'huge'"),
        (None, {"seedz": 1}, "unknown BenchConfig option"),
        (None, {"emulation": {"stepz": 1}}, "unknown EmulationConfig option"),
        (None, {"downstream": {"lrr": 1}}, "unknown DownstreamConfig option"),
    ],
)
def test_a_bad_preset_or_key_is_named(preset, given, message) -> None:
    with pytest.raises(ZooError, match=message):
        bench_config(preset, **given)


def test_a_recorded_config_reads_back_and_an_older_record_with_bos_still_does() -> None:
    config = bench_config("medium", properties=["task"])
    record = config_record(config)
    assert config_from_record(record) == config
    assert config_from_record({**record, "bos": 4}) == config  # written before BOS came from the family
