"""The one registry of task families: a zoo's family is the one its zoo.json names.

A family is a class (see :class:`rnn_zoo.tasks.family.TaskFamily`) registered under its
``name``; the built-in ones are imported when first asked for. Everything that depends on
the task -- the build, the bench, the report, the command line -- asks the family here.
"""

from __future__ import annotations

import importlib
import sys
from collections.abc import Mapping
from typing import Any

from rnn_zoo.errors import ZooError
from rnn_zoo.tasks.properties import GENERIC, Property

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

# The built-in families: name -> (module, class), imported when first asked for.
BUILT_IN: dict[str, tuple[str, str]] = {
    "formal-languages": ("rnn_zoo.tasks.formal_languages", "FormalLanguages"),
    "mnist": ("rnn_zoo.tasks.mnist.family", "SequentialMnist"),
}
_FAMILIES: dict[str, type] = {}


def register_family(family: type) -> type:
    """Add a family class to the registry (usable as a class decorator); its name must be new,
    and a property it shares a name with another family's must be the same property."""
    name = family.name
    if name in family_names() and get_family(name) is not family:
        raise ZooError(f"a task family named {name!r} is registered already")
    known = all_properties()
    for prop in family.properties:
        if known.get(prop.name, prop) != prop:
            raise ZooError(f"task family {name!r}: another family's property is named {prop.name!r}")
    _FAMILIES[name] = family
    return family


def unregister_family(name: str) -> None:
    """Remove a family added with :func:`register_family` (the built-in ones stay)."""
    _FAMILIES.pop(name, None)


def family_names() -> list[str]:
    """Every task a zoo can be built for, sorted."""
    return sorted({*BUILT_IN, *_FAMILIES})


def get_family(name: str) -> type:
    """The family class registered under ``name``."""
    if name not in _FAMILIES:
        if name not in BUILT_IN:
            raise ZooError(f"unknown task {name!r}; choose one of: {', '.join(family_names())}")
        module, attribute = BUILT_IN[name]
        _FAMILIES[name] = getattr(importlib.import_module(module), attribute)
    return _FAMILIES[name]


def read_recipe_file(task: str) -> dict[str, Any]:
    """The parsed recipe of ``task`` (a built-in family's is builders/<task>.toml)."""
    return tomllib.loads(get_family(task).recipe_text())


def zoo_task(manifest: Mapping[str, Any]) -> str | None:
    """The task a zoo's zoo.json names (its recipe's ``task``), or None."""
    task = (manifest.get("recipe") or {}).get("task")
    return str(task) if task else None


def family_of(manifest: Mapping[str, Any]) -> type | None:
    """The family of a zoo, from its zoo.json; None for a zoo that names none, or one not registered."""
    task = zoo_task(manifest)
    return get_family(task) if task in family_names() else None


def all_properties() -> dict[str, Property]:
    """Every registered family's properties and the generic ones, by name, in registration order."""
    found = {prop.name: prop for prop in GENERIC}
    for name in family_names():
        found.update({prop.name: prop for prop in get_family(name).properties})
    return found


def recipe_version(manifest: Mapping[str, Any]) -> int:
    """The recipe version a zoo was built at, from its zoo.json (1 when it records none)."""
    version = (manifest.get("recipe") or {}).get("version", 1)
    return version if isinstance(version, int) and not isinstance(version, bool) else 1


def outdated_probes(manifest: Mapping[str, Any]) -> str | None:
    """Why a zoo's probes are older than its family's current scheme, or None when they are current."""
    family = family_of(manifest)
    if family is None or family.probe_scheme is None:
        return None
    since, scheme = family.probe_scheme
    found = recipe_version(manifest)
    if found >= since:
        return None
    return (
        f"its {family.name} recipe version {found} stored older probes; the bench expects version {since} "
        f"or later ({scheme}): rebuild it with `rnn-zoo build --task {family.name}`"
    )


def runs_for_ood_tasks(task: str, seed: int, needed: int, limit: int = 10_000) -> int | None:
    """The fewest runs of a build of ``task`` with ``seed`` that hold ``needed`` distinct OOD tasks;
    None for a task not registered, or when ``limit`` runs do not suffice."""
    if task not in family_names():
        return None
    seen: set = set()
    for count, (drawn, split) in enumerate(get_family(task).draw_tasks(limit, seed), 1):
        seen |= {drawn} if split == "ood" else set()
        if len(seen) >= needed:
            return count
    return None
