import json

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


def test_without_a_preset_the_bench_takes_the_one_the_zoo_was_built_with(
    tmp_path, monkeypatch, encoder_builder
):
    monkeypatch.setattr(cli.bench, "bench_encoder_builder", lambda: encoder_builder)
    zoo = tmp_path / "tiny-zoo"
    built = CliRunner().invoke(
        cli.main,
        ["build", "--task", "formal-languages", "--preset", "tiny", "--device", "cpu", "--out", str(zoo)],
    )
    assert built.exit_code == 0, built.output
    out = tmp_path / "bench"
    arguments = ["bench", "--zoo", str(zoo), "--encoder", "flat", "--seeds", "1", "--steps", "2"]
    result = CliRunner().invoke(cli.main, [*arguments, "--no-references", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "bench preset tiny: the preset this zoo was built with" in result.output
    config = json.loads((out / "results.json").read_text())["config"]
    assert (
        config["preset"] == "tiny" and config["emulation"]["emulator_hidden"] == 64
    )  # tiny's, not small's 128


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
