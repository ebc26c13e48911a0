"""The suite does not depend on the caller's environment: offline and token settings do not leak in."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

HOSTILE = {
    "HF_HUB_OFFLINE": "1",
    "HF_DATASETS_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_TOKEN": "hf_from_the_caller",
    "RNN_ZOO_MNIST_DIR": "/nonexistent/mnist",
}
TESTS = Path(__file__).resolve().parent


def test_no_caller_setting_is_seen_inside_a_test() -> None:
    import datasets.config
    from huggingface_hub import constants

    assert not [name for name in HOSTILE if name in os.environ]
    assert not constants.is_offline_mode()
    assert not datasets.config.HF_HUB_OFFLINE and not datasets.config.HF_DATASETS_OFFLINE


def test_offline_settings_set_before_the_suite_starts_do_not_reach_the_tests() -> None:
    """huggingface_hub and datasets read the settings once, at import: run a fresh pytest with them
    set, on the test above and on the push check that HF_HUB_OFFLINE=1 used to break."""
    selected = [
        f"{TESTS / 'test_environment.py'}::test_no_caller_setting_is_seen_inside_a_test",
        f"{TESTS / 'test_integrity.py'}::test_a_shard_that_links_outside_the_zoo_is_refused",
    ]
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *selected],
        env={**os.environ, **HOSTILE},
        cwd=TESTS.parent,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0 and "2 passed" in result.stdout, result.stdout[-2000:]
