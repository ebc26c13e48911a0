"""Resolving frozen config dataclasses: defaults < named preset < explicit arguments."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import fields
from typing import Any, TypeVar

from rnn_zoo.errors import ZooError

ConfigT = TypeVar("ConfigT")


def resolve_config(
    cls: type[ConfigT],
    presets: Mapping[str, Mapping[str, Any]],
    preset: str | None,
    overrides: Mapping[str, Any],
) -> ConfigT:
    """``cls`` built from its defaults, then the preset's values, then ``overrides`` (None = unset)."""
    label = cls.__name__
    if preset is not None and preset not in presets:
        raise ZooError(f"unknown {label} preset {preset!r}; choose one of: {', '.join(presets)}")
    known = {field.name for field in fields(cls)}  # type: ignore[arg-type]
    given = {key: value for key, value in overrides.items() if value is not None}
    unknown = sorted(set(given) - known)
    if unknown:
        raise ZooError(f"unknown {label} option(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    values = {**(presets[preset] if preset is not None else {}), **given}
    return cls(**values)
