"""The card's sections that depend on the member architecture: one config, or one per config.

A zoo of one config describes its member in a paragraph and loads with ``load_dataset(id)``;
a zoo of several (one config per member architecture) has a table of its configs, splits
and columns per config, and loads one config at a time, ``load_dataset(id, config)``.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.zoo.schema import IDENTITY_COLUMNS, SPLITS, ZooSchema
from rnn_zoo.zoo.shards import CONFIGS

CITATION_INTRO = (
    "The zoo follows the recipe of the paper below, and goes beyond it in one respect: the paper's\n"
    "zoos hold members of one architecture, this one holds several, one config each:"
)


def config_counts(manifest: Mapping[str, Any]) -> dict[str | None, Mapping[str, Mapping[str, int]]]:
    """Counts per split of each config: {None: counts} for a zoo of one config, else by config name."""
    if CONFIGS not in manifest:
        return {None: manifest["counts"]}
    return {name: block["counts"] for name, block in manifest[CONFIGS].items()}


def config_schemas(manifest: Mapping[str, Any]) -> dict[str | None, ZooSchema]:
    """The schema of each config, keyed as in :func:`config_counts`."""
    if CONFIGS not in manifest:
        return {None: ZooSchema.from_dict(manifest["schema"])}
    return {name: ZooSchema.from_dict(block["schema"]) for name, block in manifest[CONFIGS].items()}


def columns_table(schema: ZooSchema) -> str:
    """Markdown table of every column with its dtype, per-row shape and meaning."""
    lines = ["| column | type | meaning |", "| --- | --- | --- |"]
    for column in IDENTITY_COLUMNS + schema.metadata + schema.probes + schema.parameters:
        lines.append(f"| `{column.name}` | `{column.type_label()}` | {column.description} |")
    return "\n".join(lines)


def splits_table(counts: Mapping[str, Mapping[str, int]]) -> str:
    lines = ["| split | runs | rows (snapshots) |", "| --- | ---: | ---: |"]
    lines += [f"| `{split}` | {count['runs']:,} | {count['rows']:,} |" for split, count in counts.items()]
    return "\n".join(lines)


def network(schemas: Iterable[ZooSchema]) -> str:
    """What a zoo's members are, in words: ``LSTM`` when all are, ``recurrent network`` when mixed."""
    labels = {schema.spec.cell_family.label for schema in schemas}
    return labels.pop() if len(labels) == 1 else "recurrent network"


def module_call(spec: MemberSpec) -> str:
    """The torch module a member is, e.g. ``torch.nn.LSTM(6, 32, num_layers=2, batch_first=True)``."""
    module = spec.cell_family.module.__name__  # LSTM, GRU or RNN
    return f"torch.nn.{module}({spec.input_size}, {spec.hidden_size}, num_layers={spec.num_layers}, batch_first=True)"


def architecture(spec: MemberSpec) -> str:
    """The member-architecture paragraph of a zoo of one config."""
    return (
        f"Each member is `{module_call(spec)}`\n"
        f"named `{spec.cell}`, followed by `torch.nn.Linear({spec.hidden_size}, {spec.output_size})` "
        f"named `head`\n({spec.num_parameters:,} parameters). The parameter columns are that module's "
        "`state_dict` keys,\nso a row loads into plain PyTorch with `load_state_dict`."
    )


def how_to_load(repo_id: str, spec: MemberSpec, config: str | None = None) -> str:
    """The loading example: the whole zoo, or (``config``) one config of a zoo of several, in
    the parameter names of its members (``spec``)."""
    named, keyword = (f', "{config}"', f', config="{config}"') if config else ("", "")
    shape = [] if config else [f'weights.params["{spec.cell}.weight_hh_l0"].shape  # {recurrent_shape(spec)}']
    lines = [
        "```python",
        "from datasets import load_dataset",
        "",
        f'zoo = load_dataset("{repo_id}"{named}).with_format("torch")',
        'row = zoo["train"][0]  # every weight is a correctly shaped tensor',
        "",
        "import rnn_zoo",
        "",
        f'weights = rnn_zoo.load_weights("{repo_id}", "train"{keyword})  # whole split, stacked, memory-mapped',
        *shape,
        "member = rnn_zoo.Member(weights.spec)",
        "member.load_state_dict({k: v[0] for k, v in weights.params.items()})",
        "```",
    ]
    return "\n".join(lines)


def recurrent_shape(spec: MemberSpec) -> str:
    """The shape of the first recurrent weight in words, e.g. ``(rows, 4 * hidden, hidden)``."""
    gates = spec.cell_family.gates
    return f"(rows, {f'{gates} * ' if gates > 1 else ''}hidden, hidden)"


def sections(manifest: Mapping[str, Any], repo_id: str) -> dict[str, str]:
    """The architecture-dependent sections of the card of a zoo of several configs."""
    counts, schemas = config_counts(manifest), config_schemas(manifest)
    first = next(
        (name for name in counts if "train" in counts[name]), next(iter(counts))
    )  # the example loads train
    return {
        "splits_table": "\n\n".join(f"### `{name}`\n\n{splits_table(counts[name])}" for name in counts),
        "architecture": _configs_table(counts, schemas),
        "columns_table": "\n\n".join(f"### `{name}`\n\n{columns_table(schemas[name])}" for name in schemas),
        "how_to_load": (
            "Each member architecture is a config of its own, loaded by name (`load_dataset` without\n"
            "one lists them):\n\n" + how_to_load(repo_id, schemas[first].spec, first)
        ),
        "citation_intro": CITATION_INTRO,
    }


def _configs_table(counts: Mapping[Any, Any], schemas: Mapping[Any, Any]) -> str:
    header = " / ".join(SPLITS)
    lines = [
        "The zoo holds members of several architectures, one config each:",
        "",
        f"| config | member | parameters | runs | rows ({header}) |",
        "| --- | --- | ---: | ---: | ---: |",
    ]
    for name, schema in schemas.items():
        spec, split_counts = schema.spec, counts[name]
        runs = sum(count["runs"] for count in split_counts.values())
        rows = " / ".join(f"{split_counts.get(split, {}).get('rows', 0):,}" for split in SPLITS)
        head = f"torch.nn.Linear({spec.hidden_size}, {spec.output_size})"
        lines.append(
            f"| `{name}` | `{module_call(spec)}` + `{head}` | {spec.num_parameters:,} | {runs:,} | {rows} |"
        )
    lines += [
        "",
        f"In every config the recurrent module is named after its cell (e.g. `{next(iter(schemas.values())).spec.cell}`) "
        "and is followed by",
        "the `torch.nn.Linear` named `head`. The parameter columns are that module's `state_dict` keys,",
        "so a row loads into plain PyTorch with `load_state_dict`.",
    ]
    return "\n".join(lines)
