"""A build's progress as plain lines when its output is not a terminal (a SLURM log)."""

from __future__ import annotations

import re
from pathlib import Path

from click.testing import CliRunner

from rnn_zoo.cli import main
from rnn_zoo.cli.build import LineProgress

LINE = re.compile(r"^\[\d+:\d\d:\d\d\] ")


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_lines_give_steps_members_and_an_eta_from_the_pace(capsys) -> None:
    clock = FakeClock()
    progress = LineProgress(every=60.0, now=clock)
    progress("start", {"steps": 400, "members": 8})
    for _ in range(100):  # 100 steps in 50 s: below the 60 s between lines, so no line yet
        clock.now += 0.5
        progress("step", {})
    progress("members_done", {"count": 4})  # a population done: a line whatever the time
    for _ in range(130):  # 65 s more: one line when 60 s have passed since the last
        clock.now += 0.5
        progress("step", {})
    lines = capsys.readouterr().err.splitlines()
    assert lines[0] == "[0:00:00] training 8 members: 400 population steps"  # after the first step
    # 100 of 400 steps in 50 s: 300 steps left at 0.5 s each
    assert lines[1] == "[0:00:50] step 100/400 (25%), members 4/8, ETA 0:02:30"
    # the line 60 s later: step 220 at 110 s, 180 steps left at 0.5 s
    assert lines[2] == "[0:01:50] step 220/400 (55%), members 4/8, ETA 0:01:30"
    assert len(lines) == 3


def test_a_build_whose_output_is_not_a_terminal_prints_progress_lines(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        main, ["build", "--task", "formal-languages", "--preset", "tiny", "--out", str(tmp_path / "zoo")]
    )
    assert result.exit_code == 0, result.output
    progress = [line for line in result.output.splitlines() if LINE.match(line)]
    assert progress[0].endswith("population steps")
    assert any("members 6/6" in line for line in progress)
