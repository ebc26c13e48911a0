"""Building a zoo: recipes and presets, determinism, resume, parts and merge, and bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner

from rnn_zoo.build import builder as build_module
from rnn_zoo.build.builder import build_zoo, resolve_device
from rnn_zoo.build.families import task_family
from rnn_zoo.build.recipe import load_recipe
from rnn_zoo.cli import main
from rnn_zoo.errors import ZooError
from rnn_zoo.files import sha256
from rnn_zoo.zoo.verify import verify_zoo

TINY = load_recipe("formal-languages", "tiny")
CPU = resolve_device("cpu")


def shard_hashes(root: Path) -> dict[str, str]:
    files = sorted([*root.glob("data/*.parquet"), *root.glob("weights/*.safetensors")])
    return {str(path.relative_to(root)): sha256(path) for path in files}


@pytest.fixture(scope="module")
def tiny_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("tiny") / "zoo"
    build_zoo(TINY, root, device=CPU)
    return root


def test_presets_resolve_default_then_preset_then_command_line() -> None:
    paper = load_recipe("formal-languages")
    assert (paper.runs, paper.snapshot_steps[-1], paper.task_options["performance_samples"]) == (
        1000,
        20000,
        1000,
    )
    assert paper.learning_rate == ((0, 0.01), (10000, 0.003), (20000, 0.0003))
    assert task_family(paper).spec.num_parameters == 13_766
    assert (TINY.runs, TINY.task_options["performance_samples"], TINY.task_options["probe_sequences"]) == (
        6,
        20,
        100,
    )
    assert TINY.hidden_size == 32  # not set by the preset: the default shows through
    overridden = load_recipe("formal-languages", "tiny", {"runs": 9, "seed": 3})
    assert (overridden.runs, overridden.seed, overridden.snapshot_steps) == (9, 3, TINY.snapshot_steps)


@pytest.mark.parametrize("task", ["formal-languages", "mnist"])
@pytest.mark.parametrize("preset", ["tiny", "small", "medium", "paper"])
def test_every_preset_of_every_recipe_resolves_to_a_schedule_that_ends_at_the_last_snapshot(
    task: str, preset: str
) -> None:
    recipe = load_recipe(task, preset)
    assert recipe.learning_rate[-1][0] == recipe.snapshot_steps[-1]
    assert recipe.runs % recipe.runs_per_shard == 0 or preset == "tiny"


@pytest.mark.parametrize(
    ("task", "preset", "overrides", "match"),
    [
        ("formal-languages", "tiny", {"steps": 5}, "unknown recipe key"),
        ("formal-languages", "huge", {}, "unknown preset 'huge'"),
        ("knitting", "tiny", {}, "unknown task 'knitting'"),
        ("formal-languages", "tiny", {"runs": 0}, "runs must be 1 to 1,000,000"),
        ("formal-languages", "tiny", {"task_options": {"samples": 3}}, "no option"),
    ],
)
def test_bad_recipes_fail_loudly(task: str, preset: str, overrides: dict, match: str) -> None:
    with pytest.raises(ZooError, match=match):
        task_family(load_recipe(task, preset, overrides))


def test_tiny_build_is_a_verified_zoo_with_every_split(tiny_zoo: Path) -> None:
    zoo = verify_zoo(tiny_zoo)
    assert zoo.splits == ("train", "validation", "ood")
    assert sum(zoo.num_rows(split) for split in zoo.splits) == TINY.runs * len(TINY.snapshot_steps)
    assert zoo.manifest["recipe"] == json.loads(json.dumps(TINY.to_dict()))
    assert "fit into 41 symbols" in (tiny_zoo / "README.md").read_text()
    assert not (tiny_zoo / "build.json").exists()
    import rnn_zoo

    weights = rnn_zoo.load_weights(tiny_zoo, "train")
    assert weights.params["lstm.weight_hh_l0"].shape[1:] == (128, 32)
    table = weights.metadata.to_pydict()
    assert set(table["step"]) == set(TINY.snapshot_steps)
    assert all(task[0] == 0 and len(task) == 4 for task in table["task"])


def test_same_seed_and_preset_give_identical_shards(tiny_zoo: Path, tmp_path: Path) -> None:
    build_zoo(TINY, tmp_path / "again", device=CPU, population=4)
    assert shard_hashes(tmp_path / "again") == shard_hashes(tiny_zoo)
    other = load_recipe("formal-languages", "tiny", {"seed": 1})
    build_zoo(other, tmp_path / "other", device=CPU)
    assert shard_hashes(tmp_path / "other") != shard_hashes(tiny_zoo)


class KillAfter:
    """Stops the build like Ctrl-C once ``steps`` training steps have run (its step events)."""

    def __init__(self, steps: int) -> None:
        self.left = steps

    def __call__(self, name: str, payload: object) -> None:
        self.left -= name == "step"
        if self.left == 0:
            raise KeyboardInterrupt


def test_a_killed_build_resumes_to_the_same_bytes(tiny_zoo: Path, tmp_path: Path) -> None:
    out = tmp_path / "killed"
    steps = TINY.train_config().steps
    with pytest.raises(KeyboardInterrupt):
        build_zoo(TINY, out, device=CPU, population=2, event=KillAfter(2 * steps + 3))
    assert 0 < len(shard_hashes(out)) < len(shard_hashes(tiny_zoo))
    assert not (out / "zoo.json").exists()
    report = build_zoo(TINY, out, device=CPU, population=2)
    assert report.runs_trained < TINY.runs  # finished shards were kept
    assert shard_hashes(out) == shard_hashes(tiny_zoo)


def test_parts_merge_into_the_single_build(tiny_zoo: Path, tmp_path: Path) -> None:
    runner = CliRunner()
    common = ["build", "--task", "formal-languages", "--preset", "tiny", "--device", "cpu"]
    for index in range(3):
        result = runner.invoke(
            main, [*common, "--shard", f"{index}/3", "--out", str(tmp_path / f"part{index}")]
        )
        assert result.exit_code == 0, result.output
    parts = [str(tmp_path / f"part{index}") for index in range(3)]
    result = runner.invoke(main, ["merge", *parts, "--out", str(tmp_path / "merged")])
    assert result.exit_code == 0, result.output
    assert shard_hashes(tmp_path / "merged") == shard_hashes(tiny_zoo)
    verify_zoo(tmp_path / "merged")
    result = runner.invoke(main, ["merge", *parts[:2], "--out", str(tmp_path / "short")])
    assert result.exit_code == 1 and "no part holds shard" in result.output


def test_parts_of_two_presets_are_not_merged(tmp_path: Path) -> None:
    """A part of the paper-shaped CPU zoo (stopped after its first steps) beside a tiny part."""
    paper_cpu = load_recipe("formal-languages", "paper-cpu", {"runs": 100})
    with pytest.raises(KeyboardInterrupt):
        build_zoo(
            paper_cpu, tmp_path / "paper-cpu", device=CPU, population=1, part=(1, 2), event=KillAfter(1)
        )
    tiny = tmp_path / "tiny"
    build_zoo(TINY, tiny, device=CPU, part=(0, 2))
    result = CliRunner().invoke(
        main, ["merge", str(tiny), str(tmp_path / "paper-cpu"), "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 1 and len(result.output.strip().splitlines()) == 1
    assert "built from different recipes or seeds" in result.output
    assert not (tmp_path / "m").exists()


@pytest.mark.parametrize(
    ("arguments", "match"),
    [
        (["--task", "knitting"], "unknown task 'knitting'"),
        (["--task", "formal-languages", "--preset", "huge"], "unknown preset 'huge'"),
        (["--task", "formal-languages", "--preset", "tiny", "--shard", "4/4"], "out of range"),
        (["--task", "formal-languages", "--preset", "tiny", "--shard", "0/9"], "only 4 shards"),
        (["--task", "formal-languages", "--preset", "tiny", "--seed", "5"], "another recipe, preset or seed"),
    ],
)
def test_bad_build_input_is_one_line_and_leaves_the_zoo_intact(
    arguments: list[str], match: str, tiny_zoo: Path
) -> None:
    before = shard_hashes(tiny_zoo)
    result = CliRunner().invoke(main, ["build", *arguments, "--device", "cpu", "--out", str(tiny_zoo)])
    assert result.exit_code == 1
    assert match in result.output and len(result.output.strip().splitlines()) == 1
    assert shard_hashes(tiny_zoo) == before


def test_zero_threads_is_one_error_line_and_builds_nothing(tmp_path: Path) -> None:
    arguments = ["build", "--task", "formal-languages", "--preset", "tiny", "--threads", "0"]
    result = CliRunner().invoke(main, [*arguments, "--out", str(tmp_path / "z")])
    assert result.exit_code == 1 and result.output.startswith("Error: Invalid value for '--threads'")
    assert len(result.output.strip().splitlines()) == 1 and "1<=x<=256" in result.output
    assert not (tmp_path / "z").exists()


def test_not_enough_memory_for_one_member_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(build_module, "free_memory", lambda device: 1000)
    result = CliRunner().invoke(
        main, ["build", "--task", "formal-languages", "--preset", "tiny", "--out", str(tmp_path / "z")]
    )
    assert result.exit_code == 1 and "not enough memory for one member" in result.output
    assert not (tmp_path / "z").exists()


def test_population_size_follows_free_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    family = task_family(TINY)
    per_member = family.member_bytes(TINY.batch_size) + 20 * family.spec.num_parameters
    monkeypatch.setattr(build_module, "free_memory", lambda device: int(2 * 3.5 * per_member))
    assert build_module.population_size(family, TINY, CPU, None) == 3
    assert build_module.population_size(family, TINY, CPU, 5) == 5


def test_a_population_that_runs_out_of_device_memory_is_one_line(
    tiny_zoo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def out_of_memory(*_: object) -> None:
        raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 2.00 GiB")

    monkeypatch.setattr(build_module, "train_members", out_of_memory)
    arguments = ["build", "--task", "formal-languages", "--preset", "tiny", "--population", "8"]
    result = CliRunner().invoke(main, [*arguments, "--out", str(tmp_path / "z")])
    assert result.exit_code == 1 and "Traceback" not in result.output
    assert (
        result.output.count("\n") == 1
        and "population of 6 members does not fit" in result.output
        and "(e.g. 3)" in result.output
    )
    assert not list((tmp_path / "z").glob("weights/*.safetensors"))


def test_shards_written_beside_training_are_all_there_and_the_same(tiny_zoo: Path, tmp_path: Path) -> None:
    # Populations of 2 make the writer thread write each shard while the next population trains.
    build_zoo(TINY, tmp_path / "z", device=CPU, population=2)
    assert shard_hashes(tmp_path / "z") == shard_hashes(tiny_zoo)
