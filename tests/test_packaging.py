"""builders/ and cards/ ship inside a normal (non-editable) install as package data."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

PROBE = """
import json, rnn_zoo
from importlib import resources
from rnn_zoo.zoo.card import read_template
print(json.dumps({
    "module": rnn_zoo.__file__,
    "cards": sorted(p.name for p in resources.files("rnn_zoo.cards").iterdir()),
    "builders": sorted(p.name for p in resources.files("rnn_zoo.recipes").iterdir()),
    "template": read_template()[:3],
}))
"""


@pytest.mark.slow
def test_a_normal_install_carries_builders_and_cards(tmp_path: Path) -> None:
    site = tmp_path / "site"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "install",
            "--quiet",
            "--no-deps",
            "--no-build-isolation",
            "--target",
            site,
            ROOT,
        ],
        check=True,
        capture_output=True,
    )
    env = {**os.environ, "PYTHONPATH": str(site)}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE], cwd=tmp_path, env=env, check=True, capture_output=True, text=True
    )
    import json

    found = json.loads(probe.stdout)
    assert found["module"].startswith(str(site))
    assert "zoo.md" in found["cards"] and found["template"] == "---"
    shipped = {path.name for path in (ROOT / "builders").glob("*.toml")}
    assert shipped <= set(found["builders"])
