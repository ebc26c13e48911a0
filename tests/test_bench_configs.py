"""The bench on a zoo of several configs: one config benched, and transfer to the others."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from bench_helpers import assert_one_line_error, without_timings
from click.testing import CliRunner
from safetensors.torch import load_file

from rnn_zoo import cli, load_weights
from rnn_zoo.bench.config import PRESETS, bench_config
from rnn_zoo.bench.downstream import embed
from rnn_zoo.bench.output import Job, load_embeddings
from rnn_zoo.bench.run import build_encoder, merge_bench, run_bench
from rnn_zoo.bench.transfer import state_mismatch
from rnn_zoo.errors import ZooError
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.zoo.synthetic import write_synthetic_zoo

# Two cells of one size (a probing encoder spans them, a flat one does not) and one hidden size more.
MIXED_SPECS = (MemberSpec(6, 8, 1, 6), MemberSpec(6, 8, 1, 6, cell="gru"), MemberSpec(6, 4, 1, 6))
MIXED_RUNS = {"train": 4, "validation": 2, "ood": 3}
SOURCE, CELL_TARGET, SIZE_TARGET = "lstm-1x8", "gru-1x8", "lstm-1x4"


@pytest.fixture(scope="module")
def mixed_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A zoo of three configs: LSTM 1 x 8, GRU 1 x 8, LSTM 1 x 4; read-only."""
    root = tmp_path_factory.mktemp("mixed-zoo") / "synthetic"
    write_synthetic_zoo(root, MIXED_RUNS, steps=(0, 100), specs=MIXED_SPECS, seed=5)
    return root


def make_config():
    """One seed, two emulation steps, short predictors, no supervised baselines nor clones."""
    config = bench_config("tiny", seeds=1, steps=2, downstream={"steps": 5})
    return replace(config, supervised=False, clone_members=0)


def tiny_options(*names: str) -> dict:
    return {name: PRESETS["tiny"].encoders.get(name, {}) for name in names}


def bench_args(zoo: Path, out: Path, *more: str) -> list[str]:
    return ["bench", "--zoo", str(zoo), "--encoder", "flat", "--preset", "tiny", "--seeds", "1"] + [
        "--steps",
        "2",
        "--out",
        str(out),
        *more,
    ]


def test_a_zoo_of_several_configs_without_config_fails_in_one_line(mixed_zoo, tmp_path):
    result = CliRunner().invoke(cli.main, bench_args(mixed_zoo, tmp_path / "out"))
    assert_one_line_error(result.exit_code, result.output, "--config", SOURCE, CELL_TARGET, SIZE_TARGET)
    assert not (tmp_path / "out").exists()


def test_an_unknown_config_fails_in_one_line(mixed_zoo, tmp_path):
    result = CliRunner().invoke(cli.main, bench_args(mixed_zoo, tmp_path / "out", "--config", "rnn-9x9"))
    assert_one_line_error(result.exit_code, result.output, "rnn-9x9", SOURCE)


def test_one_config_is_benched_and_named(mixed_zoo, tmp_path, monkeypatch, encoder_builder):
    monkeypatch.setattr(cli.bench, "bench_encoder_builder", lambda: encoder_builder)
    out = tmp_path / "out"
    result = CliRunner().invoke(cli.main, bench_args(mixed_zoo, out, "--config", CELL_TARGET))
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["zoo"]["config"] == CELL_TARGET
    assert results["zoo"]["rows"]["train"] == len(load_weights(mixed_zoo, "train", config=CELL_TARGET))
    assert json.loads((out / "bench.json").read_text())["zoo"]["config"] == CELL_TARGET
    assert f"config `{CELL_TARGET}`" in (out / "report.md").read_text()
    again = CliRunner().invoke(cli.main, bench_args(mixed_zoo, out, "--config", SOURCE))
    assert_one_line_error(again.exit_code, again.output, "zoo.config", SOURCE, CELL_TARGET)
    assert json.loads((out / "results.json").read_text()) == results


def test_a_single_config_zoo_takes_config_default(token_zoo, tmp_path, encoder_builder):
    out = tmp_path / "out"
    config = make_config()
    results = run_bench(
        token_zoo, ["flat"], config, out, encoder_builder=encoder_builder, zoo_config="default"
    )
    assert results["zoo"]["config"] == "default" and "transfer" not in results
    with pytest.raises(ZooError, match="has no config 'lstm-1x8'"):
        run_bench(token_zoo, ["flat"], config, encoder_builder=encoder_builder, zoo_config=SOURCE)


@pytest.fixture(scope="module")
def transferred(mixed_zoo, tmp_path_factory) -> tuple[Path, dict]:
    """A bench of LSTM 1 x 8 with the flat and the probing encoder, transferred to every other config."""
    out = tmp_path_factory.mktemp("transfer") / "out"
    encoders = ["flat", "probing-noninteractive"]
    results = run_bench(
        mixed_zoo,
        encoders,
        make_config(),
        out,
        encoder_options=tiny_options(*encoders),
        zoo_config=SOURCE,
        transfer_to=["all"],
    )
    return out, results


def test_transfer_is_not_applicable_where_shapes_differ(transferred):
    _, results = transferred
    assert results["transfer"]["targets"] == [CELL_TARGET, SIZE_TARGET]
    for target in (CELL_TARGET, SIZE_TARGET):
        entry = results["transfer"]["summary"]["flat"][target]
        assert entry["applicable"] is False and "for lstm-1x8's members" in entry["reason"]
        assert results["runs"]["flat"]["0"]["transfer"][target]["applicable"] is False


def test_a_probing_encoder_transfers_across_cells_and_sizes(transferred):
    _, results = transferred
    for target in (CELL_TARGET, SIZE_TARGET):
        record = results["runs"]["probing-noninteractive"]["0"]["transfer"][target]
        assert record["applicable"] and 0 <= record["emulation_loss"] <= 1
        assert set(record["downstream"]) == set(results["properties"])
        scores = record["downstream"]["performance"]["pre-trained"]
        assert set(scores) == {"validation", "ood"} and math.isfinite(scores["ood"]["r2"])
        summary = results["transfer"]["summary"]["probing-noninteractive"][target]
        assert summary["emulation_loss"]["mean"] == pytest.approx(record["emulation_loss"])


def test_the_transferred_embedding_is_a_fresh_encoder_with_the_trained_weights(transferred, mixed_zoo):
    out, _ = transferred
    name = "probing-noninteractive"
    spec = MIXED_SPECS[1]
    encoder = build_encoder(name, spec, input_kind="tokens", **tiny_options(name)[name])
    encoder.load_state_dict(load_file(str(out / "checkpoints" / name / "seed0" / "encoder.safetensors")))
    params = {
        key: torch.cat(
            [load_weights(mixed_zoo, split, config=CELL_TARGET).params[key] for split in MIXED_RUNS]
        )
        for key in spec.parameter_names
    }
    expected = embed(encoder, params)
    assert torch.allclose(load_embeddings(out, Job(name, 0), transfer=CELL_TARGET), expected, atol=1e-6)
    assert not torch.allclose(load_embeddings(out, Job(name, 0), transfer=SIZE_TARGET)[:4], expected[:4])


def test_the_report_has_a_transfer_table_per_property(transferred):
    out, results = transferred
    report = (out / "report.md").read_text()
    assert "## Transfer to other configs" in report and "Probing encoders depend only" in report
    header = f"| encoder | {SOURCE} (own) validation | {SOURCE} (own) ood | {CELL_TARGET} validation |"
    assert header in report
    flat_rows = [line for line in report.splitlines() if line.startswith("| flat |") and "n/a" in line]
    assert [row.count("n/a") for row in flat_rows] == [2] + [4] * len(results["properties"])
    assert f"- flat → {CELL_TARGET}: " in report


def test_resuming_with_another_transfer_is_refused(transferred, mixed_zoo):
    out, _ = transferred
    with pytest.raises(ZooError, match="transfer_to"):
        run_bench(
            mixed_zoo,
            ["flat", "probing-noninteractive"],
            make_config(),
            out,
            encoder_options=tiny_options("flat", "probing-noninteractive"),
            zoo_config=SOURCE,
            transfer_to=[CELL_TARGET],
        )


@pytest.mark.parametrize(
    ("asked", "words"),
    [([SOURCE], "the config benched itself"), (["rnn-9x9"], "no config 'rnn-9x9' to transfer to")],
)
def test_bad_transfer_targets_are_refused_before_any_job(mixed_zoo, tmp_path, encoder_builder, asked, words):
    out = tmp_path / "out"
    with pytest.raises(ZooError, match=words):
        run_bench(
            mixed_zoo,
            ["flat"],
            make_config(),
            out,
            encoder_builder=encoder_builder,
            zoo_config=SOURCE,
            transfer_to=asked,
        )
    assert not out.exists()


def test_parts_of_a_transfer_bench_merge_into_the_single_run(transferred, mixed_zoo, tmp_path):
    out, results = transferred
    encoders = ["flat", "probing-noninteractive"]
    parts = [tmp_path / f"part{index}" for index in range(2)]
    for index, part in enumerate(parts):
        run_bench(
            mixed_zoo,
            encoders,
            make_config(),
            part,
            part=(index, 2),
            encoder_options=tiny_options(*encoders),
            zoo_config=SOURCE,
            transfer_to=["all"],
        )
    merged = merge_bench(parts, tmp_path / "merged")
    assert merged["zoo"]["config"] == SOURCE
    assert json.loads((tmp_path / "merged" / "bench.json").read_text())["zoo"]["config"] == SOURCE
    assert without_timings(merged) == without_timings(results)
    assert (tmp_path / "merged" / "report.md").read_text() == (out / "report.md").read_text()


# Which tensors each built-in encoder's shapes depend on, so which configs it spans from lstm-1x8.
SPANS = {
    "probing-noninteractive": {"gru-1x8", "lstm-1x4", "lstm-2x8"},
    "probing": {"gru-1x8", "lstm-1x4", "lstm-2x8"},
    "layer-stats": {"gru-1x8", "lstm-1x4"},  # the same number of tensors
    "dws": {"lstm-1x4"},  # the same gates and layers
    "flat": set(),
    "param-transformer": set(),
}
OTHER_SPECS = {
    "gru-1x8": MIXED_SPECS[1],
    "lstm-1x4": MIXED_SPECS[2],
    "lstm-2x8": MemberSpec(6, 8, 2, 6),
}


@pytest.mark.parametrize("name", sorted(SPANS))
def test_each_encoder_spans_the_configs_its_shapes_allow(name):
    options = tiny_options(name)[name]
    source = build_encoder(name, MIXED_SPECS[0], input_kind="tokens", **options)
    fits = {
        target
        for target, spec in OTHER_SPECS.items()
        if state_mismatch(source, build_encoder(name, spec, input_kind="tokens", **options), SOURCE, target)
        is None
    }
    assert fits == SPANS[name]


def test_a_target_without_a_split_is_not_applicable_with_the_reason(tmp_path, encoder_builder):
    root = tmp_path / "zoo"
    specs, runs = MIXED_SPECS[::2], [MIXED_RUNS, {"train": 4, "validation": 2}]  # lstm-1x4: no OOD members
    write_synthetic_zoo(root, MIXED_RUNS, steps=(0, 100), specs=specs, config_runs=runs, seed=6)
    out = tmp_path / "out"
    results = run_bench(
        root,
        ["flat"],
        make_config(),
        out,
        encoder_builder=encoder_builder,
        zoo_config=SOURCE,
        transfer_to=["all"],
    )
    entry = results["transfer"]["summary"]["flat"][SIZE_TARGET]
    assert entry == {"applicable": False, "reason": entry["reason"]} and "no ood split" in entry["reason"]
    assert f"- flat → {SIZE_TARGET}: " in (out / "report.md").read_text()


def test_an_out_written_before_configs_resumes_as_the_default_config(tmp_path):
    from rnn_zoo.bench.claim import CLAIM, make_claim
    from rnn_zoo.bench.output import claim_out

    zoo = {"name": "z", "fingerprint": "f", "root": "r"}
    old = make_claim(zoo, {"seeds": 1}, ["flat"], {})
    del old["transfer_to"]
    (tmp_path / CLAIM).write_text(json.dumps(old))
    with claim_out(tmp_path, make_claim({**zoo, "config": "default"}, {"seeds": 1}, ["flat"], {})):
        pass
    with pytest.raises(ZooError, match="zoo.config"):
        with claim_out(tmp_path, make_claim({**zoo, "config": SOURCE}, {"seeds": 1}, ["flat"], {})):
            pass


@pytest.mark.parametrize(
    ("more", "words"),
    [
        (["--transfer-to", "all"], "no config besides default"),
        (["--transfer-to", " , "], "--transfer-to is empty"),
        (["--config", SOURCE], "has no config 'lstm-1x8'"),
    ],
)
def test_bad_config_options_on_a_zoo_of_one_fail_in_one_line(token_zoo, tmp_path, more, words):
    result = CliRunner().invoke(cli.main, bench_args(token_zoo.root, tmp_path / "out", *more))
    assert_one_line_error(result.exit_code, result.output, words)
    assert not (tmp_path / "out").exists()
