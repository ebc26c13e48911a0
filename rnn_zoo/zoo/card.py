"""Render a zoo's dataset card (README.md) from its manifest and the template in cards/."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from string import Template
from typing import Any

import yaml

from rnn_zoo.zoo import card_configs
from rnn_zoo.zoo.card_configs import columns_table, config_counts, config_schemas, splits_table
from rnn_zoo.zoo.schema import DEFAULT_CONFIG, ZooSchema
from rnn_zoo.zoo.shards import CONFIGS

TEMPLATE = "zoo.md"
DATA_LICENSE = "cc-by-4.0"
# The card's tags: the zoo's cells (e.g. lstm) go between the first two and the last two.
TAGS = ("weight-space-learning", "model-zoo", "recurrent-neural-networks", "safetensors")
_SIZE_CATEGORIES = ((1_000, "n<1K"), (10_000, "1K<n<10K"), (100_000, "10K<n<100K"), (1_000_000, "100K<n<1M"))


def default_repo_id(name: str) -> str:
    """The Hub id a zoo's card names in its loading examples until it is pushed elsewhere."""
    return f"rnn-zoo/{name}"


def read_template(name: str = TEMPLATE) -> str:
    """A card template shipped with the package (the repository's cards/ folder)."""
    return resources.files("rnn_zoo.cards").joinpath(name).read_text(encoding="utf-8")


def size_category(rows: int) -> str:
    """The Hub's size category for a row count."""
    for bound, label in _SIZE_CATEGORIES:
        if rows < bound:
            return label
    return "n>1M"


def cells(manifest: Mapping[str, Any]) -> list[str]:
    """The recurrent cells of the zoo's members (e.g. ``["lstm"]``), in the order of its configs."""
    return list(dict.fromkeys(schema.spec.cell for schema in config_schemas(manifest).values()))


def front_matter(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The card's YAML metadata: licence, tags, sizes and the ``configs`` that drive load_dataset.

    A zoo of several configs has one entry per config (member architecture), its files under
    ``data/{config}/``, and no default: ``load_dataset(path, name)`` names one.
    """
    counts = config_counts(manifest)
    rows = sum(count["rows"] for config in counts.values() for count in config.values())
    return {
        "license": DATA_LICENSE,
        "pretty_name": manifest["pretty_name"],
        "tags": [*TAGS[:2], *cells(manifest), *TAGS[2:]],
        "task_categories": ["other"],
        "size_categories": [size_category(rows)],
        "configs": [
            {
                "config_name": name or DEFAULT_CONFIG,
                "data_files": [
                    {"split": split, "path": f"data/{name + '/' if name else ''}{split}-*.parquet"}
                    for split in splits
                ],
            }
            for name, splits in counts.items()
        ],
    }


def render_card(manifest: Mapping[str, Any], template: str | None = None) -> str:
    """The whole README.md of a zoo (of one config, or of several: see :mod:`rnn_zoo.zoo.card_configs`)."""
    repo_id = default_repo_id(manifest["name"])
    if CONFIGS in manifest:
        sections = card_configs.sections(manifest, repo_id)
    else:
        schema = ZooSchema.from_dict(manifest["schema"])
        sections = {
            "splits_table": splits_table(manifest["counts"]),
            "architecture": card_configs.architecture(schema.spec),
            "columns_table": columns_table(schema),
            "how_to_load": card_configs.how_to_load(repo_id, schema.spec),
            "citation_intro": "The zoo follows the recipe of:",
        }
    fields = {
        "front_matter": yaml.safe_dump(front_matter(manifest), sort_keys=False),
        "pretty_name": manifest["pretty_name"],
        "description": manifest["description"].strip(),
        "format_version": manifest["format_version"],
        "recipe_table": _mapping_table(manifest.get("recipe", {})),
        "build_table": _mapping_table(
            {**manifest.get("build", {}), "versions": manifest.get("versions", {})}
        ),
        "repo_id": repo_id,
        "rnn_zoo_version": manifest.get("versions", {}).get("rnn-zoo", "unknown"),
        "network": card_configs.network(config_schemas(manifest).values()),
        **sections,
    }
    return Template(template or read_template()).substitute(fields)


def _mapping_table(data: Mapping[str, Any]) -> str:
    if not data:
        return "(not recorded)"
    lines = ["| setting | value |", "| --- | --- |"]
    for key, value in data.items():
        shown = value if isinstance(value, (str, int, float)) else json.dumps(value)
        lines.append(f"| `{key}` | {str(shown).replace('|', '/')} |")
    return "\n".join(lines)
