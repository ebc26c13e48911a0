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


def module_name(path: Path, root: Path = PACKAGE) -> str:
    """``rnn_zoo.bench.run`` for rnn_zoo/bench/run.py; a package is its ``__init__``."""
    parts = [root.name, *path.relative_to(root).with_suffix("").parts]
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path, known: set[str]) -> set[str]:
    """The modules of the package that a module imports (lazily inside functions too): for
    ``from a.b import c`` that is ``a.b.c`` when it is a module, else ``a.b``."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            named = [f"{node.module}.{alias.name}" for alias in node.names]
            found.update(name for name in named if name in known)
            found.update({node.module} & known if not set(named) & known else set())
        elif isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names if alias.name in known)
    return found


def import_graph(root: Path = PACKAGE) -> dict[str, set[str]]:
    """Module -> the package's modules it imports, for every module under ``root``."""
    paths = sorted(root.rglob("*.py"))
    known = {module_name(path, root) for path in paths}
    return {
        module_name(path, root): imported_modules(path, known) - {module_name(path, root)} for path in paths
    }


def import_circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every circle of imports between modules of one package (a subpackage's ``__init__`` counted
    as a module of it), each once, as the path that closes it."""
    circles, done = [], set()

    def visit(module: str, path: list[str]) -> None:
        for step in sorted(graph.get(module, ())):
            if step in path:
                circle = path[path.index(step) :]
                if len({name.rsplit(".", 1)[0] for name in circle}) == 1 and frozenset(circle) not in done:
                    done.add(frozenset(circle))
                    circles.append([*circle, step])
            elif step.rsplit(".", 1)[0] == module.rsplit(".", 1)[0]:
                visit(step, [*path, step])

    for module in sorted(graph):
        visit(module, [module])
    return circles


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


def test_no_two_modules_of_a_package_import_each_other_even_through_others() -> None:
    circles = import_circles(import_graph())
    assert not circles, "import circles: " + "; ".join(" -> ".join(circle) for circle in circles)


def test_the_circle_check_catches_a_circle_through_a_lazy_import(tmp_path: Path) -> None:
    package = tmp_path / "rnn_zoo" / "bench"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "run.py").write_text("from rnn_zoo.bench.job import run_seed\n")
    (package / "job.py").write_text("from rnn_zoo.bench import report\n")
    (package / "report.py").write_text("def f():\n    from rnn_zoo.bench.run import run_bench\n")
    (package / "plots.py").write_text("from rnn_zoo.bench.run import run_bench\n")  # imports, closes nothing
    circles = import_circles(import_graph(tmp_path / "rnn_zoo"))
    assert circles == [
        ["rnn_zoo.bench.job", "rnn_zoo.bench.report", "rnn_zoo.bench.run", "rnn_zoo.bench.job"]
    ]


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
