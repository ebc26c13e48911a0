"""Progress events: the one way long work (a build, a training run, a bench) reports to its caller.

A callback gets each event's name and payload, e.g. ``("step", {"step": 41})``; the library
itself never prints or draws (the command line turns events into progress bars). Each
emitter documents its events.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

Event = Callable[[str, Mapping[str, Any]], None]


def ignore(name: str, payload: Mapping[str, Any]) -> None:
    """The callback that drops every event."""
