"""Encoders by name from anywhere: the built-in registry, installed packages, or an import path.

The contract every encoder factory keeps (the built-ins' included)::

    def make_encoder(spec: MemberSpec, *, input_kind: str, **options) -> torch.nn.Module

``spec`` is the zoo's member architecture; ``input_kind`` is ``"tokens"`` (one-hot symbols,
formal languages) or ``"real"`` (real-valued vectors, sequential MNIST); ``options`` are the
keyword options the user gave. The module maps a parameter dict -- canonical ``nn.LSTM`` /
``nn.Linear`` state-dict names, each tensor (n, ...) with a leading member dimension n -- to
embeddings (n, e). Optionally it defines ``augment(params, generator) -> params``, which
emulation pre-training applies to every training batch of weights.

A name resolves, first match wins: a built-in encoder (:data:`rnn_zoo.encoders.ENCODERS`),
an entry point of the group ``rnn_zoo.encoders`` of an installed package, or an import path
``package.module:factory``. The names of the bench's reference rows (:data:`RESERVED`) are
no plugin's. Whatever a plugin raises while it is imported, built or run -- ``SystemExit``
included, only ``KeyboardInterrupt`` excepted -- is one ZooError naming it.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from functools import partial
from importlib import metadata
from typing import Any

from torch import Tensor, nn

from rnn_zoo.encoders import ENCODERS, EncoderSummary, build
from rnn_zoo.errors import ZooError, first_line
from rnn_zoo.member.spec import MemberSpec

ENTRY_POINT_GROUP = "rnn_zoo.encoders"
# The bench's reference rows: the floor (one learned embedding for all) and the ceiling (the
# member's metadata). A plugin of either name would be read as one of them.
RESERVED = ("constant", "oracle")
EncoderFactory = Callable[..., nn.Module]


def reserved_name(name: str, declared_as: str | None = None) -> ZooError:
    """The one error for an encoder named like a reference row (one of :data:`RESERVED`)."""
    where = f" (declared by an installed package as {declared_as})" if declared_as else ""
    return ZooError(
        f"encoder name {name!r}{where} is reserved for the bench's {name} reference row; "
        "give the encoder another name (its entry point or --encoder name)"
    )


def installed() -> dict[str, metadata.EntryPoint]:
    """Entry points of the ``rnn_zoo.encoders`` group by name; a built-in name shadows them."""
    found = metadata.entry_points(group=ENTRY_POINT_GROUP)
    return {point.name: point for point in found if point.name not in ENCODERS}


def available() -> list[str]:
    """Every encoder name that resolves without an import path: built-ins, then installed."""
    return [*ENCODERS, *installed()]


def is_import_path(name: str) -> bool:
    """``package.module:factory`` names a factory by import path."""
    return ":" in name


def factory(name: str) -> EncoderFactory:
    """The factory ``name`` stands for: built-in, installed entry point, or import path."""
    if name in ENCODERS:
        return _builtin(name)
    points = installed()
    if name in RESERVED:
        raise reserved_name(name, points[name].value if name in points else None)
    if name in points:
        return _loaded(name, points[name].value, points[name].load)
    if is_import_path(name):
        return _loaded(name, name, lambda: _import(name))
    names = ", ".join(available())
    raise ZooError(
        f"unknown encoder {name!r}; choose one of {names}, or give an import path package.module:factory"
    )


def _builtin(name: str) -> EncoderFactory:
    return partial(build, name)


def _import(path: str) -> Any:
    module_name, _, attribute = path.partition(":")
    try:
        found: Any = importlib.import_module(module_name)
    except KeyboardInterrupt:
        raise
    except BaseException as error:  # the user's module: any failure, sys.exit too, is one line
        raise ZooError(f"encoder {path!r}: cannot import {module_name!r} ({first_line(error)})") from None
    for part in attribute.split("."):
        if not hasattr(found, part):
            raise ZooError(f"encoder {path!r}: module {module_name!r} has no attribute {attribute!r}")
        found = getattr(found, part)
    return found


def _loaded(name: str, where: str, load: Callable[[], Any]) -> EncoderFactory:
    try:
        loaded = load()
    except (ZooError, KeyboardInterrupt):
        raise
    except BaseException as error:
        raise ZooError(f"encoder {name!r}: cannot load {where} ({first_line(error)})") from None
    if not callable(loaded):
        raise ZooError(f"encoder {name!r}: {where} is a {type(loaded).__name__}, not a callable factory")
    return loaded


def make_encoder(name: str, spec: MemberSpec, *, input_kind: str, **options: Any) -> nn.Module:
    """A fresh encoder ``name`` for members of ``spec`` in a zoo of ``input_kind`` inputs."""
    make = factory(name)
    try:
        module = make(spec, input_kind=input_kind, **options)
    except (ZooError, KeyboardInterrupt):
        raise
    except BaseException as error:
        raise ZooError(f"encoder {name!r}: its factory failed ({first_line(error)})") from None
    if not isinstance(module, nn.Module):
        raise ZooError(
            f"encoder {name!r}: its factory returned a {type(module).__name__}, not a torch.nn.Module"
        )
    return module


def check_embeddings(name: str, module: nn.Module, params: Mapping[str, Tensor]) -> int:
    """Run ``module`` on ``params`` (n members) and return e; anything but (n, e) floats is an error."""
    n = next(iter(params.values())).shape[0]
    try:
        output = module(dict(params))
    except (ZooError, KeyboardInterrupt):
        raise
    except BaseException as error:
        raise ZooError(f"encoder {name!r} failed on {n} members ({first_line(error)})") from None
    shape = tuple(output.shape) if isinstance(output, Tensor) else None
    if shape is None or len(shape) != 2 or shape[0] != n or shape[1] < 1 or not output.is_floating_point():
        got = f"shape {shape} ({output.dtype})" if shape is not None else f"a {type(output).__name__}"
        raise ZooError(f"encoder {name!r} must map {n} members to floats of shape ({n}, e); it gave {got}")
    return shape[1]


def installed_summaries(spec: MemberSpec, input_kind: str = "tokens") -> list[EncoderSummary]:
    """A line per installed encoder: its parameter count at ``spec`` (-1 where it cannot be built)."""
    rows = []
    for name, point in installed().items():
        try:
            module = make_encoder(name, spec, input_kind=input_kind)
            count = sum(p.numel() for p in module.parameters())
        except ZooError:
            module, count = None, -1
        invariant = bool(getattr(module, "invariant", False))
        description = str(getattr(module, "description", "") or f"from {point.value}")
        rows.append(EncoderSummary(name, count, invariant, description))
    return rows
