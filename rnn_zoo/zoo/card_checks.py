"""A zoo card's metadata as the Hub reads it: the local checks ``rnn-zoo push`` makes before sending.

The Hub validates the YAML block at the top of README.md when a commit arrives and turns away
a card it cannot read. We parse it with huggingface_hub's ``DatasetCard`` (a mapping, into
``DatasetCardData``), check the ``configs`` with datasets' own reader, the size category
against datasets' list, and that every ``data_files`` pattern finds files in the upload.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from importlib import resources
from pathlib import Path, PurePosixPath
from typing import Any

from rnn_zoo.errors import ZooError

_LICENSE = re.compile(r"^[a-z0-9][a-z0-9.+-]*$")  # the Hub's licence ids: "cc-by-4.0", "mit", "other"
_STRING_LISTS = ("tags", "task_categories", "size_categories", "license")


def check_card(card: Path, folder: Path) -> Mapping[str, Any]:
    """Raise ZooError naming ``card`` and the problem if the Hub would reject its metadata.

    ``folder`` holds the files that go with the card; returns the parsed metadata.
    """
    try:
        metadata = _card_metadata(card.read_text(encoding="utf-8"))
        _check_fields(metadata)
        _check_configs(metadata, folder)
    except _Rejected as problem:
        raise ZooError(
            f"{card}: {problem}, which the Hub would reject; fix the YAML block at the top of "
            f"README.md (or rebuild the zoo to re-render its card)"
        ) from None
    return metadata


class _Rejected(Exception):
    """One problem with the card's metadata, as a clause."""


def _card_metadata(text: str) -> dict[str, Any]:
    import yaml
    from huggingface_hub import DatasetCard

    if not text.startswith("---"):
        raise _Rejected("the card has no YAML metadata block")
    try:
        card = DatasetCard(text)
    except yaml.YAMLError as error:
        raise _Rejected(f"the metadata is not valid YAML ({' '.join(str(error).split())})") from None
    except (ValueError, TypeError) as error:
        raise _Rejected(f"the metadata cannot be read ({error})") from None
    return card.data.to_dict()


def _check_fields(metadata: Mapping[str, Any]) -> None:
    for key in _STRING_LISTS:
        value = metadata.get(key)
        values = [value] if isinstance(value, str) else value
        if value is not None and not (isinstance(values, list) and all(isinstance(v, str) for v in values)):
            raise _Rejected(f"{key} is {value!r}, not a string or a list of strings")
    if metadata.get("pretty_name") is not None and not isinstance(metadata["pretty_name"], str):
        raise _Rejected(f"pretty_name is {metadata['pretty_name']!r}, not a string")
    licences = metadata.get("license")
    for licence in [licences] if isinstance(licences, str) else licences or []:
        if not _LICENSE.match(licence):
            raise _Rejected(f"license {licence!r} is not a Hub licence id (such as cc-by-4.0)")
    known = _size_categories()
    for category in metadata.get("size_categories") or []:
        if category not in known:
            raise _Rejected(f"size category {category!r} is not one of {', '.join(known)}")


def _size_categories() -> list[str]:
    text = resources.files("datasets.utils.resources").joinpath("size_categories.json").read_text()
    return json.loads(text)


def _check_configs(metadata: Mapping[str, Any], folder: Path) -> None:
    from datasets.utils.metadata import MetadataConfigs
    from huggingface_hub import DatasetCardData

    if not metadata.get("configs"):
        raise _Rejected("there are no configs, so load_dataset would not find the parquet shards")
    try:
        configs = MetadataConfigs.from_dataset_card_data(DatasetCardData(**metadata))
    except (ValueError, TypeError, AttributeError) as error:
        raise _Rejected(f"its configs are malformed ({' '.join(str(error).split())[:200]})") from None
    for name, config in configs.items():
        for pattern in data_file_patterns(config.get("data_files")):
            if pattern.startswith("/") or ".." in PurePosixPath(pattern).parts or "\\" in pattern:
                raise _Rejected(f"config {name!r} names data files {pattern!r} outside the zoo")
            if not any(path.is_file() for path in folder.glob(pattern)):
                raise _Rejected(f"config {name!r} names data files {pattern!r} that the zoo does not have")


def data_file_patterns(data_files: Any) -> list[str]:
    """Every path pattern of a config's ``data_files`` (a string, a list, or split/path dicts)."""
    if data_files is None:
        return []
    items = [data_files] if isinstance(data_files, str) else data_files
    patterns: list[str] = []
    for item in items:
        path = item["path"] if isinstance(item, dict) else item
        patterns += [path] if isinstance(path, str) else list(path)
    return patterns
