import json
from dataclasses import replace

import pytest
from click.testing import CliRunner

from rnn_zoo import cli


def test_bench_writes_the_report_and_prints_the_tables(token_zoo, tmp_path, monkeypatch, encoder_builder):
    monkeypatch.setattr(cli.bench, "bench_encoder_builder", lambda: encoder_builder)
    out = tmp_path / "bench"
    arguments = ["bench", "--zoo", str(token_zoo.root), "--encoder", "flat", "--preset", "tiny"]
    result = CliRunner().invoke(cli.main, [*arguments, "--seeds", "1", "--steps", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "| flat | " in result.output and "**performance** — r2" in result.output
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["seeds"] == 1 and results["config"]["emulation"]["steps"] == 2
    assert results["config"]["emulation"]["emulator_hidden"] == 64  # from the tiny preset


def test_bench_on_a_zoo_without_probes_fails_in_one_line(probeless_zoo, tmp_path):
    result = CliRunner().invoke(cli.main, ["bench", "--zoo", str(probeless_zoo), "--out", str(tmp_path)])
    assert result.exit_code == 1
    assert result.output.startswith("Error: zoo ") and "no probe data" in result.output
    assert result.output.count("\n") == 1


def test_validation_sequences_come_from_the_command_line(token_zoo, tmp_path, monkeypatch, encoder_builder):
    monkeypatch.setattr(cli.bench, "bench_encoder_builder", lambda: encoder_builder)
    arguments = [
        "bench",
        "--zoo",
        str(token_zoo.root),
        "--encoder",
        "flat",
        "--preset",
        "tiny",
        "--seeds",
        "1",
    ]
    out = tmp_path / "bench"
    result = CliRunner().invoke(
        cli.main, [*arguments, "--steps", "2", "--validation-sequences", "2", "--out", str(out)]
    )
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["emulation"]["validation_sequences"] == 2
    assert {len(row) for row in results["emulation_validation"]["sequences"]} == {2}
    bad = CliRunner().invoke(
        cli.main, [*arguments, "--validation-sequences", "0", "--out", str(tmp_path / "b")]
    )
    assert bad.exit_code == 1 and bad.output.count("\n") == 1
    assert "'--validation-sequences': 0 is not in the range x>=1" in bad.output
    assert not (tmp_path / "b").exists()


def test_the_medium_preset_runs_no_supervised_baselines(token_zoo, tmp_path, monkeypatch, encoder_builder):
    monkeypatch.setattr(cli.bench, "bench_encoder_builder", lambda: encoder_builder)
    out = tmp_path / "bench"
    arguments = ["bench", "--zoo", str(token_zoo.root), "--encoder", "flat", "--preset", "medium"]
    result = CliRunner().invoke(cli.main, [*arguments, "--seeds", "1", "--steps", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    results = json.loads((out / "results.json").read_text())
    assert results["config"]["supervised"] is False and results["config"]["emulation"]["lr"] == 1e-3
    assert set(results["summary"]["flat"]["downstream"]["performance"]) == {"pre-trained"}
    report = (out / "report.md").read_text()
    assert "validation pre-trained" in report and "supervised |" not in report


def test_every_preset_offered_by_the_command_line_resolves():
    from rnn_zoo.bench.config import PRESETS, bench_config

    offered = next(param for param in cli.bench.bench.params if param.name == "preset").type.choices
    assert set(offered) == set(PRESETS)
    for preset in offered:
        assert bench_config(preset).seeds >= 1


@pytest.fixture(scope="module")
def built_tiny_zoo(tmp_path_factory):
    """A zoo of `rnn-zoo build --task formal-languages --preset tiny` (6 runs)."""
    zoo = tmp_path_factory.mktemp("built") / "tiny-zoo"
    arguments = [
        "build",
        "--task",
        "formal-languages",
        "--preset",
        "tiny",
        "--device",
        "cpu",
        "--out",
        str(zoo),
    ]
    built = CliRunner().invoke(cli.main, arguments)
    assert built.exit_code == 0, built.output
    return zoo


def test_without_a_preset_the_bench_takes_the_one_the_zoo_was_built_with(
    built_tiny_zoo, tmp_path, monkeypatch, encoder_builder
):
    monkeypatch.setattr(cli.bench, "bench_encoder_builder", lambda: encoder_builder)
    out = tmp_path / "bench"
    arguments = ["bench", "--zoo", str(built_tiny_zoo), "--encoder", "flat", "--seeds", "1", "--steps", "2"]
    result = CliRunner().invoke(cli.main, [*arguments, "--no-references", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "bench preset tiny: the preset this zoo was built with" in result.output
    config = json.loads((out / "results.json").read_text())["config"]
    assert (
        config["preset"] == "tiny" and config["emulation"]["emulator_hidden"] == 64
    )  # tiny's, not small's 128


def test_the_paper_cpu_preset_on_a_tiny_zoo_runs_and_says_so_first(
    built_tiny_zoo, tmp_path, monkeypatch, encoder_builder
):
    from rnn_zoo.bench import config as bench_config

    preset = bench_config.PRESETS["paper-cpu"]  # its downstream fits shortened; the rest as it is
    shorter = replace(preset, downstream={**preset.downstream, "steps": 5})
    monkeypatch.setitem(bench_config.PRESETS, "paper-cpu", shorter)
    monkeypatch.setattr(cli.bench, "bench_encoder_builder", lambda: encoder_builder)
    out = tmp_path / "bench"
    arguments = ["bench", "--zoo", str(built_tiny_zoo), "--encoder", "flat", "--preset", "paper-cpu"]
    result = CliRunner().invoke(cli.main, [*arguments, "--seeds", "2", "--steps", "4", "--out", str(out)])
    assert result.exit_code == 0, result.output
    report = (out / "report.md").read_text().split("\n\n")
    assert report[2].startswith("**The zoo is much smaller than the paper-cpu preset assumes**: 18 members")
    assert "makes 9,000" in report[2]  # 1,000 runs x 9 snapshots
    budget = "4 emulation steps, 2 seed(s)"  # then the headroom the run had, or why it cannot rank
    assert report[3].startswith(f"Headroom at this budget ({budget})") or report[3].startswith(
        f"**This run cannot rank the encoders**: at its budget ({budget}) the headroom"
    )


def test_a_zoo_built_without_a_bench_preset_of_its_name_gets_small(
    token_zoo, tmp_path, monkeypatch, encoder_builder
):
    monkeypatch.setattr(cli.bench, "bench_encoder_builder", lambda: encoder_builder)
    out = tmp_path / "bench"
    arguments = ["bench", "--zoo", str(token_zoo.root), "--encoder", "flat", "--seeds", "1", "--steps", "2"]
    result = CliRunner().invoke(cli.main, [*arguments, "--no-references", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "bench preset small: the default" in result.output
    config = json.loads((out / "results.json").read_text())["config"]
    assert config["preset"] == "small" and config["emulation"]["emulator_hidden"] == 128
