"""rnn-zoo's cache folder, for what it downloads (MNIST)."""

from __future__ import annotations

import os
from pathlib import Path

CACHE_ENV = "RNN_ZOO_CACHE"


def cache_dir() -> Path:
    """$RNN_ZOO_CACHE, else $XDG_CACHE_HOME/rnn-zoo, else ~/.cache/rnn-zoo."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "rnn-zoo"
