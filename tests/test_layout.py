"""The package's layout follows the pipeline: a subpackage imports only the stages before it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "rnn_zoo"

# What each part of rnn_zoo may import, besides itself: the pipeline's direction
# (member -> zoo format -> tasks -> build; encoders -> bench), with errors, cache, events and the
# shared plumbing (files: atomic writes, JSON, hashes; folder: the resumable output folder) at the bottom and the command line on top. It is acyclic, so a cycle breaks a rule below.
ALLOWED = {
    "errors": set(),
    "cache": set(),
    "events": set(),
    "files": {"errors"},
    "folder": {"errors", "files"},
    "member": {"errors", "files"},
    "zoo": {"errors", "cache", "files", "folder", "member"},
    "tasks": {"errors", "cache", "files", "member", "zoo"},
    "build": {"errors", "cache", "events", "files", "folder", "member", "zoo", "tasks"},
    "encoders": {"errors", "files", "member"},
    "bench": {"errors", "cache", "events", "files", "folder", "member", "zoo", "tasks", "encoders"},
    "publish": {"errors", "cache", "files", "zoo"},
    "cli": {
        *("errors", "cache", "events", "files", "folder", "member", "zoo", "tasks", "build", "encoders"),
        *("bench", "publish"),
    },
    "__init__": {"errors", "member", "zoo", "build", "encoders", "bench"},
    "__main__": {"cli"},
}
TOP_LEVEL_NAMES = {"__version__"}  # attributes of the package itself, not parts of it


def part_of(path: Path) -> str:
    relative = path.relative_to(PACKAGE).parts
    return relative[0] if len(relative) > 1 else relative[0].removesuffix(".py")


def imported_parts(path: Path) -> set[str]:
    """The parts of rnn_zoo that a module imports, lazily inside functions too."""
    parts = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "rnn_zoo":
            dotted = node.module.split(".")
            names = [dotted[1]] if len(dotted) > 1 else [alias.name for alias in node.names]
        elif isinstance(node, ast.Import):
            names = [alias.name.split(".")[1] for alias in node.names if alias.name.startswith("rnn_zoo.")]
        else:
            continue
        parts.update(name for name in names if name not in TOP_LEVEL_NAMES)
    return parts


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_every_part_of_the_package_has_a_rule() -> None:
    assert {part_of(path) for path in modules()} <= set(ALLOWED)


def test_the_rules_have_no_cycle() -> None:
    def reaches(start: str, seen: frozenset[str]) -> bool:
        return any(step in seen or reaches(step, seen | {step}) for step in ALLOWED[start])

    assert not any(reaches(part, frozenset({part})) for part in ALLOWED)


@pytest.mark.parametrize("path", modules(), ids=lambda path: str(path.relative_to(PACKAGE)))
def test_imports_follow_the_pipeline(path: Path) -> None:
    own = part_of(path)
    against = imported_parts(path) - ALLOWED[own] - {own}
    assert not against, f"{path.relative_to(PACKAGE)} ({own}) imports {sorted(against)} against the pipeline"


def test_the_check_catches_an_import_against_the_pipeline(tmp_path: Path) -> None:
    module = tmp_path / "module.py"
    module.write_text("def f():\n    from rnn_zoo.bench.run import run_bench\n")
    assert imported_parts(module) == {"bench"} and "bench" not in ALLOWED["zoo"]


def test_the_public_api_resolves_and_importing_the_package_stays_light() -> None:
    import subprocess
    import sys

    import rnn_zoo

    assert all(getattr(rnn_zoo, name) is not None for name in rnn_zoo.__all__)
    probe = "import sys, rnn_zoo; print(sorted(m for m in sys.modules if m.startswith(('rnn_zoo.bench', 'rnn_zoo.build'))))"
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        rnn_zoo.nothing  # noqa: B018 - the attribute access is the test
