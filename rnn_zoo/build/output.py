"""A build's output directory: claiming it for one recipe, and merging ``--shard`` parts.

While a build is unfinished, ``build.json`` in its directory records the resolved recipe,
the part and the identity of external training data (the sha256 of the MNIST images); a
finished zoo records the same in zoo.json. A directory holding anything else, or a build of
another recipe, part or data, is refused untouched, so nothing already there is overwritten
or mixed. It is an :class:`~rnn_zoo.folder.OutputFolder`: builds and merges hold its write
lock (``.build/lock``) meanwhile, taken only once the directory is accepted; links inside it
are refused. Merging parts is :mod:`rnn_zoo.build.merge`.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from rnn_zoo.build.recipe import Recipe
from rnn_zoo.errors import ZooError
from rnn_zoo.files import read_json, write_json
from rnn_zoo.folder import OutputFolder
from rnn_zoo.zoo.manifest import MANIFEST
from rnn_zoo.zoo.shards import BUILD_STATE

MARKER = "build.json"


def build_folder(out: Path) -> OutputFolder:
    """``out`` as the output folder of a build (or merge)."""
    return OutputFolder(Path(out), BUILD_STATE, "rnn-zoo build")


def data_identity(build_record: dict[str, Any]) -> dict[str, str]:
    """Which external data a build trained on: the sha256 of each source in a family's build record."""
    return {
        name: record["sha256"]
        for name, record in sorted(build_record.items())
        if isinstance(record, dict) and "sha256" in record
    }


def make_claim(recipe: Recipe, part: tuple[int, int] | None, data: dict[str, str]) -> dict[str, Any]:
    """What build.json records: the resolved recipe, the part and the external data's identity."""
    claim = {"recipe": recipe.to_dict(), "part": list(part) if part else None, "data": data}
    return json.loads(json.dumps(claim))


def read_claim(out: Path) -> dict[str, Any] | None:
    """What build a directory holds: the marker of an unfinished build, or a finished zoo's recipe."""
    if (out / MARKER).is_file():
        return {"data": {}, **_read(out / MARKER)}
    if (out / MANIFEST).is_file():
        manifest = _read(out / MANIFEST)
        build = manifest.get("build")
        return {
            "recipe": manifest.get("recipe"),
            "part": None,
            "data": data_identity(build if isinstance(build, dict) else {}),
        }
    return None


def _read(path: Path) -> dict[str, Any]:
    try:
        return read_json(path, "")
    except ZooError:
        raise ZooError(f"{path} is damaged; remove {path.parent} or choose another --out") from None


@contextmanager
def claim_output(
    out: Path, recipe: Recipe, part: tuple[int, int] | None, data: dict[str, str] | None = None
) -> Iterator[OutputFolder]:
    """Make ``out`` the directory of this build and hold its write lock, or refuse it untouched.

    ``data`` is the build's :func:`data_identity`.
    """
    folder, wanted = build_folder(out), make_claim(recipe, part, data or {})
    with folder.writing(lambda: _accept(folder, wanted)):
        if read_claim(folder.root) is None or not (folder.root / MANIFEST).is_file():
            write_json(folder.root / MARKER, wanted)
        yield folder


def _accept(folder: OutputFolder, wanted: dict[str, Any]) -> None:
    """Refuse a directory that holds something other than this build."""
    found = read_claim(folder.root) if folder.root.is_dir() else None
    out = folder.root
    if found is None and not folder.holds_nothing():
        raise ZooError(f"{out} is not empty and holds no rnn-zoo build; choose another --out")
    if found is not None and found != wanted:
        if found.get("recipe") != wanted["recipe"]:
            what = "recipe, preset or seed"
        elif found.get("data") != wanted["data"]:
            what = f"training data ({describe_data(found['data'])}, not {describe_data(wanted['data'])})"
        else:
            what = "part"
        raise ZooError(f"{out} holds a build with another {what}; choose another --out or remove {out}")


def release_output(out: Path) -> None:
    """Drop the unfinished-build marker once zoo.json records the build."""
    (out / MARKER).unlink(missing_ok=True)


def describe_data(data: dict[str, str]) -> str:
    """The external data of a build in words, e.g. ``mnist sha256 0123456789ab``."""
    return ", ".join(f"{name} sha256 {digest[:12]}" for name, digest in data.items()) or "no external data"
