"""Encoders from outside rnn-zoo: import paths, entry points, the worked example, bad factories."""

from __future__ import annotations

import json
import sys
from importlib import metadata
from pathlib import Path

import pytest
import torch
from bench_helpers import assert_one_line_error, file_hashes
from click.testing import CliRunner

from rnn_zoo import cli
from rnn_zoo.bench.run import ENCODERS
from rnn_zoo.build.builder import build_zoo, resolve_device
from rnn_zoo.build.recipe import load_recipe
from rnn_zoo.encoders import PAPER_MEMBER, plugins
from rnn_zoo.member import symmetry
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.tasks.formal_languages import draw_tasks

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "custom_encoder"
EXAMPLES = "unit_sets:make_encoder,unit_sets:make_flat_encoder"


@pytest.fixture
def example(monkeypatch: pytest.MonkeyPatch):
    """The example's module, importable as ``unit_sets`` as if its folder were on PYTHONPATH."""
    monkeypatch.syspath_prepend(str(EXAMPLE))
    import unit_sets

    return unit_sets


def example_entry_points(*extra: metadata.EntryPoint) -> list[metadata.EntryPoint]:
    """The entry points the example's pyproject.toml declares, as an installed copy would have them."""
    project = tomllib.loads((EXAMPLE / "pyproject.toml").read_text())["project"]
    declared = project["entry-points"][plugins.ENTRY_POINT_GROUP]
    points = [metadata.EntryPoint(name, value, plugins.ENTRY_POINT_GROUP) for name, value in declared.items()]
    return [*points, *extra]


@pytest.fixture
def installed(monkeypatch: pytest.MonkeyPatch, example) -> None:
    """The example installed: its entry points (and a broken one) in the group rnn_zoo.encoders."""
    broken = metadata.EntryPoint("broken", "no_such_module:make", plugins.ENTRY_POINT_GROUP)
    shadowed = metadata.EntryPoint("flat", "unit_sets:make_encoder", plugins.ENTRY_POINT_GROUP)
    points = example_entry_points(broken, shadowed)

    def entry_points(group: str) -> list[metadata.EntryPoint]:
        return [point for point in points if point.group == group]

    monkeypatch.setattr(metadata, "entry_points", entry_points)


def tiny_build(root: Path, **overrides: int) -> Path:
    build_zoo(load_recipe("formal-languages", "tiny", overrides), root, device=resolve_device("cpu"))
    return root


def bench(zoo: Path, out: Path, encoders: str, *extra: str) -> tuple[int, str]:
    arguments = ["bench", "--zoo", str(zoo), "--encoder", encoders, "--preset", "tiny", "--seeds", "1"]
    result = CliRunner().invoke(cli.main, [*arguments, "--steps", "3", "--out", str(out), *extra])
    return result.exit_code, result.output


def test_the_examples_bench_and_the_flat_one_augments(
    example, token_zoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """(test_slurm_examples runs the example on a zoo of the tiny build preset.)"""
    calls = []
    shuffle = symmetry.augment
    monkeypatch.setattr(symmetry, "augment", lambda *args: calls.append(args) or shuffle(*args))
    code, output = bench(token_zoo.root, tmp_path / "bench", EXAMPLES)
    assert code == 0, output
    results = json.loads((tmp_path / "bench/results.json").read_text())
    assert results["encoders"] == EXAMPLES.split(",")
    assert results["properties"] == ["task", "performance", "training-step"]
    for name in results["encoders"]:
        assert 0 < results["runs"][name]["0"]["emulation"]["best_validation_loss"] < 1
    assert (tmp_path / "bench/checkpoints/unit_sets-make_flat_encoder/seed0/encoder.safetensors").is_file()
    assert "plots/pca-unit_sets-make_encoder.png" in results["plots"]  # file names without the colon
    assert all((tmp_path / "bench" / plot).is_file() for plot in results["plots"])
    assert len(calls) == 3  # the flat example's augment, once per pre-training step; unit-sets has none
    assert all(batch["head.bias"].shape[0] == 64 for batch, *_ in calls)


def test_too_few_ood_tasks_names_the_runs_that_fix_it(tmp_path: Path, example) -> None:
    zoo = tiny_build(tmp_path / "zoo", seed=0)
    ood_tasks = [len({task for task, split in draw_tasks(n, 0) if split == "ood"}) for n in range(1, 60)]
    enough = ood_tasks.index(2) + 1
    code, output = bench(zoo, tmp_path / "bench", "unit_sets:make_encoder")
    assert_one_line_error(code, output, "too few OOD tasks (1)", f"--seed 0 --runs {enough}`")
    assert not (tmp_path / "bench").exists()


def relative_change(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a - b).norm() / b.norm())


def test_the_example_is_invariant_to_hidden_unit_order_and_nothing_else(example, make_params, break_symmetry):
    spec = MemberSpec(6, 8, 2, 6)
    params = make_params(spec, 5)
    permuted = symmetry.permute(params, spec, symmetry.random_permutations(spec, 5, torch.Generator()))
    encoder = plugins.make_encoder("unit_sets:make_encoder", spec, input_kind="tokens").eval()
    with torch.no_grad():
        embedded = encoder(params)
        assert embedded.shape == (5, 16)
        assert relative_change(encoder(permuted), embedded) < 1e-5
        assert relative_change(encoder(break_symmetry(params, spec)), embedded) > 1e-4


def test_installed_encoders_are_listed_and_usable_by_name(installed, example) -> None:
    result = CliRunner().invoke(cli.main, ["encoders"])
    assert result.exit_code == 0, result.output
    lines = {line.split()[0]: line.split() for line in result.output.splitlines()[2:]}
    counted = sum(p.numel() for p in example.UnitSetEncoder(PAPER_MEMBER).parameters())
    assert lines["unit-sets"][1:3] == [f"{counted:,}", "yes"]
    assert lines["flat-augmented"][2] == "no" and lines["broken"][1] == "?"
    assert plugins.factory("unit-sets") is example.make_encoder
    assert plugins.available() == [*ENCODERS, "unit-sets", "flat-augmented", "broken"]
    assert type(plugins.make_encoder("flat", PAPER_MEMBER, input_kind="tokens")).__module__.startswith(
        "rnn_zoo.encoders"
    )  # a built-in name is never taken over


def test_built_in_factories_pass_the_input_kind_to_probing_encoders_only() -> None:
    probing = plugins.make_encoder("probing", PAPER_MEMBER, input_kind="real", reader_width=8, widths=(8,))
    assert probing.config.input_kind == "real"
    flat = plugins.make_encoder("flat", PAPER_MEMBER, input_kind="real", widths=(8,))
    assert not hasattr(flat.config, "input_kind")


@pytest.fixture(scope="module")
def finished_bench(token_zoo, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A finished bench of the example encoder (one job), which bad input must leave as it is."""
    out = tmp_path_factory.mktemp("finished") / "bench"
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(EXAMPLE))
        code, output = bench(token_zoo.root, out, "unit_sets:make_encoder", "--steps", "2")
    assert code == 0, output
    return out


@pytest.mark.parametrize(
    ("encoder", "extra", "words"),
    [
        ("knitting", (), ("unknown encoder 'knitting'", "layer-stats", "package.module:factory")),
        ("no_such_module:make", (), ("cannot import 'no_such_module'", "ModuleNotFoundError")),
        ("bad_encoders:nope", (), ("module 'bad_encoders' has no attribute 'nope'",)),
        ("bad_encoders:not_callable", (), ("is a int, not a callable factory",)),
        ("bad_encoders:returns_a_dict", (), ("returned a dict, not a torch.nn.Module",)),
        ("bad_encoders:embeds_one_number", (), ("shape (2, e)", "gave shape (2,)")),
        ("bad_encoders:embeds_too_few_members", (), ("gave shape (1, 16)",)),
        ("bad_encoders:raises", (), ("its factory failed (RuntimeError: out of ideas)",)),
        ("unit_sets:make_encoder", ("--encoder-option", "depth=3"), ("unexpected keyword argument 'depth'",)),
        ("unit_sets:make_encoder", ("--encoder-option", "width"), ("'width' is not KEY=VALUE",)),
        ("broken", (), ("encoder 'broken': cannot load no_such_module:make",)),
    ],
)
def test_a_bad_encoder_is_one_line_and_loses_no_finished_job(
    finished_bench: Path, token_zoo, installed, encoder: str, extra: tuple[str, ...], words: tuple[str, ...]
) -> None:
    before = file_hashes(finished_bench)
    code, output = bench(token_zoo.root, finished_bench, encoder, "--steps", "2", *extra)
    assert_one_line_error(code, output, *words)
    assert file_hashes(finished_bench) == before


def test_an_encoder_failing_in_training_is_one_line_and_keeps_the_finished_jobs(
    token_zoo, tmp_path: Path, example
) -> None:
    encoders = "unit_sets:make_encoder,bad_encoders:fails_in_training"
    code, output = bench(token_zoo.root, tmp_path / "bench", encoders, "--steps", "2")
    failed = "bad_encoders:fails_in_training seed 0 failed (ValueError: no training today)"
    assert_one_line_error(code, output, failed, "finished before it are kept")
    assert (tmp_path / "bench/runs/unit_sets-make_encoder/seed0.json").is_file()
