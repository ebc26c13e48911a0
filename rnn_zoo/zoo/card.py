"""Render a zoo's dataset card (README.md) from its manifest and the template in cards/."""

from __future__ import annotations

import json
from collections.abc import Mapping
from importlib import resources
from string import Template
from typing import Any

import yaml

from rnn_zoo.zoo.schema import IDENTITY_COLUMNS, ZooSchema

TEMPLATE = "zoo.md"
DATA_LICENSE = "cc-by-4.0"
TAGS = ("weight-space-learning", "model-zoo", "lstm", "recurrent-neural-networks", "safetensors")
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


def front_matter(manifest: Mapping[str, Any]) -> dict[str, Any]:
    """The card's YAML metadata: licence, tags, sizes and the ``configs`` that drive load_dataset."""
    splits = list(manifest["counts"])
    rows = sum(count["rows"] for count in manifest["counts"].values())
    return {
        "license": DATA_LICENSE,
        "pretty_name": manifest["pretty_name"],
        "tags": list(TAGS),
        "task_categories": ["other"],
        "size_categories": [size_category(rows)],
        "configs": [
            {
                "config_name": "default",
                "data_files": [{"split": split, "path": f"data/{split}-*.parquet"} for split in splits],
            }
        ],
    }


def render_card(manifest: Mapping[str, Any], template: str | None = None) -> str:
    """The whole README.md of a zoo."""
    schema = ZooSchema.from_dict(manifest["schema"])
    spec = schema.spec
    fields = {
        "front_matter": yaml.safe_dump(front_matter(manifest), sort_keys=False),
        "pretty_name": manifest["pretty_name"],
        "description": manifest["description"].strip(),
        "format_version": manifest["format_version"],
        "splits_table": _splits_table(manifest["counts"]),
        "recipe_table": _mapping_table(manifest.get("recipe", {})),
        "build_table": _mapping_table(
            {**manifest.get("build", {}), "versions": manifest.get("versions", {})}
        ),
        "columns_table": columns_table(schema),
        "repo_id": default_repo_id(manifest["name"]),
        "rnn_zoo_version": manifest.get("versions", {}).get("rnn-zoo", "unknown"),
        "num_parameters": f"{spec.num_parameters:,}",
        **spec.to_dict(),
    }
    return Template(template or read_template()).substitute(fields)


def columns_table(schema: ZooSchema) -> str:
    """Markdown table of every column with its dtype, per-row shape and meaning."""
    lines = ["| column | type | meaning |", "| --- | --- | --- |"]
    for column in IDENTITY_COLUMNS + schema.metadata + schema.probes + schema.parameters:
        lines.append(f"| `{column.name}` | `{column.type_label()}` | {column.description} |")
    return "\n".join(lines)


def _splits_table(counts: Mapping[str, Mapping[str, int]]) -> str:
    lines = ["| split | runs | rows (snapshots) |", "| --- | ---: | ---: |"]
    lines += [f"| `{split}` | {count['runs']:,} | {count['rows']:,} |" for split, count in counts.items()]
    return "\n".join(lines)


def _mapping_table(data: Mapping[str, Any]) -> str:
    if not data:
        return "(not recorded)"
    lines = ["| setting | value |", "| --- | --- |"]
    for key, value in data.items():
        shown = value if isinstance(value, (str, int, float)) else json.dumps(value)
        lines.append(f"| `{key}` | {str(shown).replace('|', '/')} |")
    return "\n".join(lines)
