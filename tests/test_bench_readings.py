"""What a bench's numbers mean, on hand-made numbers: the headroom and each encoder's share of
it, the noise verdict that replaces a ranking, learning-curve trends, n/a cells of constant
targets, and the progress lines of a bench whose output is not a terminal."""

from __future__ import annotations

import re

import pyarrow as pa
import pytest
import torch
from bench_helpers import bench_command

from rnn_zoo.bench.curves import trend
from rnn_zoo.bench.downstream import DownstreamRows
from rnn_zoo.bench.headroom import headroom_record, within_noise
from rnn_zoo.bench.readings import first_lines, preset_members, ranking_section, undefined_scores
from rnn_zoo.bench.statistics import Interval
from rnn_zoo.bench.tables import downstream_table
from rnn_zoo.cli.bench_log import LINE_START, LogProgress


def runs_of(losses: dict[str, list[float]]) -> dict:
    return {
        name: {str(seed): {"emulation": {"best_validation_loss": value}} for seed, value in enumerate(values)}
        for name, values in losses.items()
    }


def test_the_share_is_the_encoders_part_of_the_distance_from_floor_to_ceiling():
    runs = runs_of(
        {
            "constant": [0.100, 0.102, 0.101],
            "oracle": [0.050, 0.052, 0.051],
            "good": [0.060, 0.062, 0.061],  # 0.8 of the way down
            "poor": [0.090, 0.092, 0.091],  # 0.2 of the way down
        }
    )
    record = headroom_record(runs, ["good", "poor"])
    assert record["headroom"]["mean"] == pytest.approx(0.05)
    assert record["shares"]["good"]["mean"] == pytest.approx(0.8)
    assert record["shares"]["poor"]["mean"] == pytest.approx(0.2)
    assert not record["within_noise"]
    results = {"headroom": record, "summary": {name: {"emulation_loss": None} for name in runs}}
    table = ranking_section(results)
    assert [
        line.split("|")[2].strip() for line in table if line.startswith("| 1") or line.startswith("| 2")
    ] == [
        "good",
        "poor",
    ]
    ran = {"constant": {"status": "ran"}, "oracle": {"status": "ran"}}
    sentence = first_lines({**results, "references": ran, "config": STEPS})[0]
    assert sentence.startswith("Headroom at this budget (100 emulation steps, 3 seed(s))")


STEPS = {"emulation": {"steps": 100}}


def test_a_headroom_within_the_noise_says_so_at_the_top_instead_of_a_ranking():
    runs = runs_of(
        {
            "constant": [0.100, 0.060, 0.080],
            "oracle": [0.070, 0.075, 0.072],
            "flat": [0.080, 0.070, 0.090],
        }
    )
    record = headroom_record(runs, ["flat"])
    assert record["within_noise"] and "reaches 0" in record["noise"]
    results = {
        "headroom": record,
        "summary": {},
        "references": {"constant": {"status": "ran"}, "oracle": {"status": "ran"}},
        "config": STEPS,
    }
    assert ranking_section(results) == []
    assert first_lines(results)[0].startswith("**This run cannot rank the encoders**")


def interval(mean: float, half: float) -> Interval:
    return Interval(mean, mean - half, mean + half)


def test_the_noise_verdict_on_hand_made_intervals():
    floor, ceiling = interval(0.10, 0.002), interval(0.05, 0.002)
    assert within_noise(floor, ceiling, interval(0.05, 0.003), {"flat": interval(0.07, 0.004)}, 3) is None
    overlapping = within_noise(floor, interval(0.099, 0.002), interval(0.001, 0.0005), {}, 3)
    assert overlapping == "the constant's and the oracle's 95% CIs overlap"
    noisy = within_noise(floor, ceiling, interval(0.05, 0.003), {"dws": interval(0.07, 0.06)}, 3)
    assert noisy is not None and "dws" in noisy
    assert within_noise(floor, ceiling, interval(0.05, 0.0), {}, 1) == "one seed measures no noise"


def curve(*losses: float) -> list[dict[str, float]]:
    return [{"step": 10 * (index + 1), "validation_loss": loss} for index, loss in enumerate(losses)]


def test_a_curve_is_still_falling_when_its_last_drop_is_above_the_noise():
    assert trend([curve(0.3, 0.2, 0.1), curve(0.3, 0.21, 0.12)])["trend"] == "still falling"
    flat = trend([curve(0.3, 0.2, 0.21), curve(0.3, 0.2, 0.19)])
    assert flat["trend"] == "flat within noise" and flat["still_falling"] is False
    assert trend([curve(0.3, 0.2, 0.25), curve(0.3, 0.2, 0.26)])["trend"] == "rising"
    assert trend([curve(0.3)])["still_falling"] is None
    assert trend([curve(0.3, 0.2, 0.1)])["mean_validation_loss"] == pytest.approx([0.3, 0.2, 0.1])


def rows_with_performance(fit: list[float], validation: list[float], ood: list[float]) -> DownstreamRows:
    values = fit + validation + ood
    table = pa.table({"performance": pa.array(values, pa.float32())})
    bounds = [0, len(fit), len(fit) + len(validation), len(values)]
    rows = {
        name: torch.arange(bounds[i], bounds[i + 1]) for i, name in enumerate(("fit", "validation", "ood"))
    }
    return DownstreamRows(table, rows)


def test_a_constant_target_makes_its_cells_na_with_the_reason():
    failed = undefined_scores(rows_with_performance([0.0] * 4, [0.0] * 2, [0.0, 0.0]), ["performance"])
    assert failed == {
        "performance": {
            "validation": "every fitted member has the same performance (0)",
            "ood": "every fitted member has the same performance (0)",
        }
    }
    scored = undefined_scores(
        rows_with_performance([0.0, 0.5, 1.0], [0.25, 0.25], [0.1, 0.9]), ["performance"]
    )
    assert scored == {
        "performance": {"validation": "every scored validation member has the same performance (0.25)"}
    }
    measured = {"mean": -1.0, "low": -1.0, "high": -1.0}
    results = {
        "config": {"supervised": False},
        "summary": {
            "flat": {"downstream": {"performance": {"pre-trained": {"validation": {"r2": measured}}}}}
        },
        "undefined_scores": failed,
    }
    table = downstream_table(results, "performance")
    assert "| flat | n/a | n/a |" in table and "-1.000" not in table
    assert "n/a on validation: every fitted member has the same performance (0)." in table


def test_progress_lines_estimate_validate_and_finish_with_an_eta():
    clock = iter([0.0, 0.0, 30.0, 60.0, 90.0])
    lines = []
    progress = LogProgress(steps=10, now=lambda: next(clock))
    progress.echo = lines.append
    jobs = [{"encoder": "flat", "seed": 0, "seconds": 20.0}, {"encoder": "flat", "seed": 1, "seconds": 20.0}]
    progress("estimate", {"jobs": jobs, "seconds": 40.0, "timed_steps": 3})
    progress("emulation", {"encoder": "flat", "seed": 0, "step": 5, "validation_loss": 0.25})
    progress("job", {"encoder": "flat", "seed": 0, "seconds": 60.0})  # 3x the estimate
    assert "emulation about 0:00:40" in lines[0]
    assert lines[1] == "(1/2) flat seed 0: step 5/10, validation loss 0.2500; ETA 0:00:30"
    assert lines[2] == "(1/2) flat seed 0: done in 0:01:00; ETA 0:01:00"  # the other job, scaled 3x


def test_a_bench_whose_output_is_not_a_terminal_logs_plain_progress_lines(
    token_zoo, tmp_path, monkeypatch, encoder_builder
):
    monkeypatch.setattr("rnn_zoo.cli.bench.bench_encoder_builder", lambda: encoder_builder)
    result = bench_command(token_zoo.root, tmp_path / "out", "flat")
    assert result.exit_code == 0, result.output
    logged = [line for line in result.output.splitlines() if re.match(LINE_START, line)]
    assert logged[0].split("] ", 1)[1].startswith("estimate: 3 job(s), emulation about ")
    for name in ("flat", "constant", "oracle"):
        assert any(f"{name} seed 0: step 2/2, validation loss" in line and "ETA" in line for line in logged)
        assert any(f"{name} seed 0: done in" in line for line in logged)


@pytest.mark.parametrize("task", ["formal-languages", "mnist"])
def test_a_zoo_much_smaller_than_its_preset_is_said_first(task):
    from rnn_zoo.build.recipe import load_recipe

    recipe = load_recipe(task, "medium")  # the builder's own resolution of the preset
    assert preset_members(task, "medium") == recipe.runs * len(recipe.snapshot_steps)
    size = {"preset": "medium", "task": task, "members": 48, "assumed": preset_members(task, "medium")}
    lines = first_lines({"zoo_size": size, "references": {}})
    assert lines[0].startswith("**The zoo is much smaller than the medium preset assumes**: 48 members")
    enough = {**size, "members": size["assumed"]}
    assert not first_lines({"zoo_size": enough, "references": {}})[0].startswith("**The zoo")


def test_the_paper_cpu_bench_preset_is_sized_for_the_paper_cpu_zoo():
    assert preset_members("formal-languages", "paper-cpu") == 1_000 * 9  # the paper's zoo shape
    assert preset_members("mnist", "paper-cpu") is None  # no such MNIST build: nothing to compare
    size = {"preset": "paper-cpu", "task": "formal-languages", "members": 1_020, "assumed": 9_000}
    lines = first_lines({"zoo_size": size, "references": {}})
    assert lines[0].startswith("**The zoo is much smaller than the paper-cpu preset assumes**: 1,020 members")
    assert "`rnn-zoo build --task formal-languages --preset paper-cpu` makes 9,000" in lines[0]
