"""Helpers for the Hub tests: a tiny zoo, and Hugging Face settings that never leave tmp_path."""

from __future__ import annotations

from pathlib import Path

import pytest

from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.zoo.manifest import Zoo
from rnn_zoo.zoo.synthetic import synthetic_schema, write_synthetic_zoo

REPO_ID = "someone/tiny-zoo"
RUNS = {"train": 3, "validation": 1, "ood": 1}  # 6 train rows in two shards, 2 + 2 rows in one each


def make_small_zoo(root: Path, seed: int = 0) -> Zoo:
    """A zoo of one-layer LSTMs with 4 hidden units and 2 probes of 5 tokens."""
    schema = synthetic_schema(MemberSpec(6, 4, 1, 6), probes=2, length=5)
    return write_synthetic_zoo(root, RUNS, rows_per_shard=4, schema=schema, seed=seed)


def isolate_hugging_face(monkeypatch: pytest.MonkeyPatch, home: Path, *, offline: bool) -> Path:
    """Point every Hugging Face cache, token and offline setting at ``home``; return the hub cache.

    huggingface_hub and datasets read these environment variables once, at import, into their
    ``constants`` / ``config`` modules, so both the variables and those copies are patched.
    """
    import datasets.config
    from huggingface_hub import constants

    hub_cache = home / "hub"
    settings = {
        "HF_HOME": home,
        "HF_HUB_CACHE": hub_cache,
        "HF_DATASETS_CACHE": home / "datasets",
        "HF_TOKEN_PATH": home / "token",
    }
    for name, value in settings.items():
        monkeypatch.setenv(name, str(value))
    for name in ("HF_TOKEN", "HF_OIDC_RESOURCE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1" if offline else "0")
    monkeypatch.setattr(constants, "HF_HOME", str(home))
    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(hub_cache))
    monkeypatch.setattr(constants, "HF_TOKEN_PATH", str(home / "token"))
    monkeypatch.setattr(constants, "HF_STORED_TOKENS_PATH", str(home / "stored_tokens"))
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", offline)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", home / "datasets")
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", offline)
    return hub_cache
