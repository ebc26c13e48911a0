"""The command line's numbers and names are checked before any work: one Error: line saying the
allowed range, exit status 1, nothing written (the cases of the adversarial run, each a test)."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

import rnn_zoo
from rnn_zoo.build import recipe
from rnn_zoo.cli import build as build_cli
from rnn_zoo.cli import main
from rnn_zoo.cli.bench_request import check_validation_sequences
from rnn_zoo.cli.main import DeviceName
from rnn_zoo.errors import ZooError
from rnn_zoo.zoo.load import locate_zoo

INT64_MAX = 2**63 - 1  # seeds are int64 counters (rnn_zoo.tasks.streams)


def invoke(*arguments: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(arguments))
    assert not isinstance(result.exception, (AssertionError, RuntimeError, ValueError, MemoryError)), result
    return result.exit_code, result.output


def assert_one_error_line(code: int, output: str, *words: str) -> None:
    lines = [line for line in output.splitlines() if line.strip()]
    assert code == 1 and len(lines) == 1 and lines[0].startswith("Error: "), output
    for word in words:
        assert word in lines[0], lines[0]


def build(out: Path, *options: str) -> tuple[int, str]:
    return invoke("build", "--task", "formal-languages", "--preset", "tiny", "--out", str(out), *options)


def bench(zoo: Path, out: Path, *options: str) -> tuple[int, str]:
    common = ("--encoder", "flat", "--preset", "tiny", "--out", str(out))
    return invoke("bench", "--zoo", str(zoo), *common, *options)


@pytest.mark.parametrize(
    ("option", "value", "shown"),
    [
        ("--seed", str(2**63), f"0<=x<={INT64_MAX}"),
        ("--seed", str(-(2**63) - 1), f"0<=x<={INT64_MAX}"),
        ("--seed", "-1", f"0<=x<={INT64_MAX}"),
        ("--runs", "1000000000000000", "1<=x<=1000000"),
        ("--runs", "0", "1<=x<=1000000"),
        ("--population", "0", "1<=x<=1000000"),
        ("--threads", "100000", "1<=x<=256"),
    ],
)
def test_a_build_number_out_of_range_is_one_line_saying_the_range(
    tmp_path: Path, option: str, value: str, shown: str
) -> None:
    code, output = build(tmp_path / "z", option, value)
    assert_one_error_line(code, output, f"'{option}'", value, shown)
    assert not (tmp_path / "z").exists()


def test_the_largest_seed_builds_and_differs_from_seed_0(tmp_path: Path) -> None:
    for seed in (INT64_MAX, 0):
        code, output = build(tmp_path / str(seed), "--seed", str(seed), "--runs", "3", "--device", "cpu")
        assert code == 0, output
    top, zero = (rnn_zoo.load_weights(tmp_path / str(seed), "train") for seed in (INT64_MAX, 0))
    assert top.metadata.column("run_id").to_pylist() == zero.metadata.column("run_id").to_pylist()
    assert not torch.equal(top.params["lstm.weight_hh_l0"], zero.params["lstm.weight_hh_l0"])


def test_the_recipe_refuses_what_the_command_line_refuses() -> None:
    assert build_cli.MAX_RUNS == recipe.MAX_RUNS
    for overrides, problem in (
        ({"runs": recipe.MAX_RUNS + 1}, "runs must be 1 to 1,000,000"),
        ({"seed": 2**63}, "seed must be 0 to 2\\*\\*63-1"),
        ({"seed": -1}, "seed must be 0 to 2\\*\\*63-1"),
    ):
        with pytest.raises(ZooError, match=problem):
            recipe.load_recipe("formal-languages", "tiny", overrides)
    assert recipe.load_recipe("formal-languages", "tiny", {"seed": INT64_MAX}).seed == INT64_MAX


@pytest.mark.parametrize(
    ("options", "words"),
    [
        (("--seeds", "-2"), ("'--seeds'", "1<=x<=1000")),
        (("--seeds", "0"), ("'--seeds'", "1<=x<=1000")),
        (("--steps", "0"), ("'--steps'", "1<=x<=10000000")),
        (("--validation-sequences", "0"), ("'--validation-sequences'", "x>=1")),
        (("--validation-sequences", "1000000"), ("1000000 is more than the 4 sequences", "give 1 to 4")),
        (("--validation-sequences", "5"), ("5 is more than the 4 sequences",)),
        (("--device", "nope"), ("'--device'", "'nope' is not a torch device", "cpu, cuda or cuda:N")),
        (("--device", "meta"), ("'--device'", "'meta' is not a device rnn-zoo runs on")),
    ],
)
def test_a_bench_number_or_name_out_of_range_is_one_line_and_writes_nothing(
    token_zoo, tmp_path: Path, options: tuple[str, ...], words: tuple[str, ...]
) -> None:
    code, output = bench(token_zoo.root, tmp_path / "out", *options)
    assert_one_error_line(code, output, *words)
    assert not (tmp_path / "out").exists()


def test_bench_on_cuda_without_a_gpu_is_one_line_before_any_work(
    token_zoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    for device in ("cuda", "cuda:1"):
        code, output = bench(token_zoo.root, tmp_path / "out", "--device", device)
        assert_one_error_line(code, output, f"'{device}' was asked for, but torch sees no CUDA GPU")
    assert not (tmp_path / "out").exists()


def test_device_names_this_machine_has_pass_as_torch_spells_them() -> None:
    device = DeviceName()
    assert device.convert("cpu", None, None) == "cpu"
    assert device.convert("cpu:0", None, None) == "cpu:0"
    assert DeviceName(auto=True).convert("auto", None, None) == "auto"
    with pytest.raises(Exception, match="'auto' is not a torch device"):
        device.convert("auto", None, None)


def test_validation_sequences_up_to_what_the_zoo_stores_pass(token_zoo) -> None:
    zoo = locate_zoo(token_zoo.root)
    for asked in (None, 1, 4):
        check_validation_sequences(zoo, None, asked)
    with pytest.raises(ZooError, match="5 is more than the 4 sequences"):
        check_validation_sequences(zoo, None, 5)


@pytest.mark.parametrize(
    ("member", "words"),
    [
        (("6", "100000", "100", "6"), ("'--member'", "100000 is not in the range 1<=x<=1024")),
        (("6", "32", "100", "6"), ("'--member'", "100 is not in the range 1<=x<=16")),
        (("0", "32", "2", "6"), ("'--member'", "0 is not in the range 1<=x<=1024")),
        (("64", "1024", "8", "64"), ("63,307,840 parameters", "2,000,000")),
    ],
)
def test_encoder_member_sizes_are_bounded(member: tuple[str, ...], words: tuple[str, ...]) -> None:
    assert_one_error_line(*invoke("encoders", "--member", *member), *words)


def test_a_member_at_the_bounds_is_counted() -> None:
    code, output = invoke("encoders", "--member", "6", "128", "2", "6")
    assert code == 0 and "2 x 128 LSTM, 202,502 parameters each" in output, output


@pytest.mark.parametrize(
    ("call", "words"),
    [
        (lambda: rnn_zoo.load_weights(123, "train"), ("load_weights: zoo must be", "not int 123")),
        (lambda: rnn_zoo.load_weights(".", 0), ("load_weights: split must be", "not int 0")),
        (lambda: rnn_zoo.load_weights(".", "train", verify="no"), ("verify must be True or False",)),
        (lambda: rnn_zoo.load_zoo(None), ("load_zoo: zoo must be", "not NoneType None")),
        (lambda: rnn_zoo.load_zoo(".", split=1), ("load_zoo: split must be", "or None, not int 1")),
        (lambda: rnn_zoo.load_zoo(".", revision=7), ("load_zoo: revision must be",)),
        (lambda: rnn_zoo.load_weights(".", "train", config=("a",)), ("config must be a config name",)),
        (lambda: rnn_zoo.verify_zoo(b"zoo"), ("zoo must be a zoo directory", "not bytes")),
    ],
)
def test_readers_type_check_their_arguments_with_one_zoo_error(call, words: tuple[str, ...]) -> None:
    with pytest.raises(ZooError) as error:
        call()
    assert "\n" not in str(error.value)
    for word in words:
        assert word in str(error.value)
