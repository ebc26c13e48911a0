"""Generated numbers for every numeric option of the command line: each value outside its range,
or not a number at all, is one Error: line with exit status 1 and writes nothing; never a traceback.

The values are drawn once from a seeded generator: below and above each range by one and by
far, huge, negative, fractional, hexadecimal, exponent and empty spellings.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from click.testing import CliRunner

from rnn_zoo.cli import main

INT64_MAX = 2**63 - 1
# command, option, (low, high) of the allowed range (None: unbounded), how the range is said
RANGES = [
    ("build", "--seed", (0, INT64_MAX), f"0<=x<={INT64_MAX}"),
    ("build", "--runs", (1, 1_000_000), "1<=x<=1000000"),
    ("build", "--population", (1, 1_000_000), "1<=x<=1000000"),
    ("build", "--threads", (1, 256), "1<=x<=256"),
    ("bench", "--seeds", (1, 1_000), "1<=x<=1000"),
    ("bench", "--steps", (1, 10_000_000), "1<=x<=10000000"),
    ("bench", "--validation-sequences", (1, None), "x>=1"),
]
NOT_NUMBERS = ["", "1.5", "abc", "1e3", "0x10", "one", "--", "1,000", "½", "NaN", "inf", " "]
CASES_PER_RANGE = 12


def out_of_range(low: int, high: int | None, rng: random.Random) -> list[int]:
    """Values just past each end, far past it, and astronomically past it."""
    values = [low - 1, low - rng.randint(2, 10**6), -rng.randint(2**63, 2**70)]
    if high is not None:
        values += [high + 1, high + rng.randint(2, 10**6), rng.randint(2**64, 2**80)]
    return values


def generated_cases() -> list[tuple[str, str, str, str]]:
    rng = random.Random(23)
    cases = []
    for command, option, (low, high), said in RANGES:
        values = [str(value) for value in out_of_range(low, high, rng)]
        values += rng.sample(NOT_NUMBERS, CASES_PER_RANGE - len(values))
        cases += [(command, option, value, said) for value in values]
    return cases


CASES = generated_cases()


def command_line(command: str, option: str, value: str, zoo: Path, out: Path) -> list[str]:
    if command == "build":
        return ["build", "--task", "formal-languages", "--preset", "tiny", "--out", str(out), option, value]
    return [
        "bench",
        "--zoo",
        str(zoo),
        "--encoder",
        "flat",
        "--preset",
        "tiny",
        "--out",
        str(out),
        option,
        value,
    ]


def test_there_are_enough_cases() -> None:
    assert len(CASES) == CASES_PER_RANGE * len(RANGES) >= 80
    assert len({(option, value) for _, option, value, _ in CASES}) == len(CASES)


@pytest.mark.parametrize(("command", "option", "value", "said"), CASES)
def test_a_bad_number_is_one_error_line_and_writes_nothing(
    token_zoo, tmp_path: Path, command: str, option: str, value: str, said: str
) -> None:
    out = tmp_path / "out"
    result = CliRunner().invoke(main, command_line(command, option, value, token_zoo.root, out))
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert isinstance(result.exception, SystemExit), result.exception  # a traceback is not
    assert result.exit_code == 1 and len(lines) == 1 and lines[0].startswith("Error: "), result.output
    assert f"'{option}'" in lines[0]
    is_number = value.strip().lstrip("-").isdigit()
    assert (said in lines[0]) if is_number else ("is not a valid integer" in lines[0]), lines[0]
    assert not out.exists()
