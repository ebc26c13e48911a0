"""Helpers of the bench tests: results without timings, one-line errors, hashes of every file."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path
from typing import Any

from rnn_zoo.cli.bench_log import LINE_START


def without_timings(data: Any) -> Any:
    """``data`` without the wall times (every key named ``seconds``)."""
    if isinstance(data, dict):
        return {key: without_timings(value) for key, value in data.items() if key != "seconds"}
    if isinstance(data, list):
        return [without_timings(value) for value in data]
    return data


def assert_one_line_error(code: int, output: str, *words: str) -> None:
    """Exit status 1 and one line, ``Error: ...``, holding every one of ``words``; the bench's
    progress lines before it (rnn_zoo.cli.bench_log, output that is not a terminal) aside."""
    lines = [line for line in output.splitlines() if line.strip() and not re.match(LINE_START, line)]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("Error: "), output
    for word in words:
        assert word in lines[0], lines[0]


def file_hashes(root: Path) -> dict[str, str]:
    """sha256 of every file under ``root``, by relative path."""
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def bench_command(zoo: Path, out: Path, encoders: str, *extra: str) -> Any:
    """``rnn-zoo bench`` of ``encoders`` on ``zoo`` into ``out``: tiny preset, one seed, two steps."""
    from click.testing import CliRunner

    from rnn_zoo import cli

    arguments = ["bench", "--zoo", str(zoo), "--encoder", encoders, "--preset", "tiny", "--seeds", "1"]
    return CliRunner().invoke(cli.main, [*arguments, "--steps", "2", "--out", str(out), *extra])
