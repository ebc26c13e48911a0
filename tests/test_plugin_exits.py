"""A plugin that exits (sys.exit at import, SystemExit from its factory or its forward) or takes a
reference row's name: one line naming it, exit status 1, never a silent exit."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest
from bench_helpers import assert_one_line_error
from click.testing import CliRunner

from rnn_zoo import cli
from rnn_zoo.encoders import plugins
from rnn_zoo.errors import ZooError

PLUGIN = """
import sys
import torch
from torch import nn

{at_import}

class Mean(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.ones(()))

    def forward(self, params):
        {in_forward}
        return self.scale * torch.stack([p.flatten(1).mean(1) for p in params.values()], 1)


def make(spec, *, input_kind, **options):
    {in_factory}
    return Mean()
"""


def write_plugin(folder: Path, name: str, **code: str) -> str:
    """A plugin module ``name`` in ``folder``; ``code`` puts a statement at_import, in_factory or in_forward."""
    places = {"at_import": "", "in_factory": "pass", "in_forward": "pass", **code}
    (folder / f"{name}.py").write_text(PLUGIN.format(**places))
    return f"{name}:make"


def bench(zoo: Path, out: Path, encoder: str) -> tuple[int, str]:
    arguments = ["bench", "--zoo", str(zoo), "--encoder", encoder, "--preset", "tiny", "--seeds", "1"]
    result = CliRunner().invoke(cli.main, [*arguments, "--steps", "2", "--out", str(out)])
    assert not isinstance(result.exception, SystemExit) or result.exit_code == 1, result.exception
    return result.exit_code, result.output


@pytest.fixture
def plugin_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    folder = tmp_path / "plugins"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


@pytest.mark.parametrize(
    ("statement", "shown"),
    [("sys.exit(0)", "sys.exit(0)"), ("sys.exit(3)", "sys.exit(3)"), ("raise SystemExit('bye')", "'bye'")],
)
def test_a_plugin_that_exits_at_import_is_one_line_and_writes_nothing(
    plugin_folder: Path, token_zoo, tmp_path: Path, statement: str, shown: str
) -> None:
    name = write_plugin(plugin_folder, f"exits_{abs(hash(statement))}", at_import=statement)
    code, output = bench(token_zoo.root, tmp_path / "out", name)
    assert_one_line_error(code, output, repr(name), "cannot import", shown)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("place", ["in_factory", "in_forward"])
def test_a_plugin_that_exits_while_it_runs_is_one_line_naming_it(
    plugin_folder: Path, token_zoo, tmp_path: Path, place: str
) -> None:
    name = write_plugin(plugin_folder, f"exits_{place}", **{place: "raise SystemExit(3)"})
    code, output = bench(token_zoo.root, tmp_path / "out", name)
    assert_one_line_error(code, output, "sys.exit(3)")
    if place == "in_factory":
        assert f"encoder {name!r}: its factory failed" in output


def test_a_well_behaved_plugin_of_the_same_shape_benches(
    plugin_folder: Path, token_zoo, tmp_path: Path
) -> None:
    """The module the cases above break, unbroken, runs: their errors come from the exits alone."""
    code, output = bench(token_zoo.root, tmp_path / "out", write_plugin(plugin_folder, "fine"))
    assert code == 0, output
    assert (tmp_path / "out" / "results.json").is_file()


def test_an_entry_point_that_exits_on_load_is_one_line(
    plugin_folder: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_plugin(plugin_folder, "exits_on_load", at_import="sys.exit(0)")
    point = metadata.EntryPoint("leaver", "exits_on_load:make", plugins.ENTRY_POINT_GROUP)
    monkeypatch.setattr(metadata, "entry_points", lambda group: [point] if group == point.group else [])
    with pytest.raises(
        ZooError, match=r"encoder 'leaver': cannot load exits_on_load:make \(it called sys.exit\(0\)\)"
    ):
        plugins.factory("leaver")


def test_a_keyboard_interrupt_in_a_plugin_still_interrupts(plugin_folder: Path) -> None:
    name = write_plugin(plugin_folder, "interrupts", at_import="raise KeyboardInterrupt")
    with pytest.raises(KeyboardInterrupt):
        plugins.factory(name)


@pytest.mark.parametrize("reserved", plugins.RESERVED)
def test_a_plugin_may_not_take_a_reference_rows_name(
    reserved: str, plugin_folder: Path, token_zoo, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write_plugin(plugin_folder, "impostor")
    point = metadata.EntryPoint(reserved, "impostor:make", plugins.ENTRY_POINT_GROUP)
    monkeypatch.setattr(metadata, "entry_points", lambda group: [point] if group == point.group else [])
    code, output = bench(token_zoo.root, tmp_path / "out", reserved)
    assert_one_line_error(code, output, f"encoder name {reserved!r}", "impostor:make", "reserved")
    code, output = bench(token_zoo.root, tmp_path / "out", "all")
    assert_one_line_error(code, output, f"encoder name {reserved!r}", "reserved")
    assert not (tmp_path / "out").exists()
