"""The zoo schema: every column of a zoo, declared once.

A zoo row is one member snapshot. Its columns are, in order: the identity columns
(``model_id``, ``run_id``, ``step``), the zoo's own metadata columns (``task``, metrics,
hyper-parameters), its probe columns (``sequences``, ``log_probs``) and one column per
parameter, named by its state-dict key. The parquet schema, the ``datasets`` features, the
safetensors layout and the dataset card's column table are all derived from here.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rnn_zoo.member.spec import MemberSpec

DTYPES = ("string", "bool", "int8", "uint8", "int16", "int32", "int64", "float16", "float32", "float64")
PARAMETER_DTYPE = "float32"
SPLITS = ("train", "validation", "ood")  # every zoo's splits, in this order
DEFAULT_CONFIG = "default"  # the one config of a zoo of one member architecture
CONFIG_NAME = re.compile(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$")  # e.g. lstm-2x32: a safe folder name


@dataclass(frozen=True)
class Column:
    """One column: name, element dtype, per-row shape (``()`` for a scalar) and meaning."""

    name: str
    dtype: str
    shape: tuple[int, ...] = ()
    description: str = ""

    def __post_init__(self) -> None:
        if self.dtype not in DTYPES:
            raise ValueError(f"column {self.name!r} has unknown dtype {self.dtype!r}")
        object.__setattr__(self, "shape", tuple(int(size) for size in self.shape))

    def feature(self) -> Any:
        """The ``datasets`` feature that stores this column with its exact shape."""
        import datasets

        value = datasets.Value(self.dtype)
        arrays = {2: datasets.Array2D, 3: datasets.Array3D, 4: datasets.Array4D, 5: datasets.Array5D}
        if not self.shape:
            return value
        if len(self.shape) == 1:
            return datasets.List(value, length=self.shape[0])
        return arrays[len(self.shape)](shape=self.shape, dtype=self.dtype)

    def type_label(self) -> str:
        """Human form for the card, e.g. ``float32[128, 6]``."""
        dims = ", ".join(str(size) for size in self.shape)
        return f"{self.dtype}[{dims}]" if self.shape else self.dtype

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dtype": self.dtype,
            "shape": list(self.shape),
            "description": self.description,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Column:
        return cls(data["name"], data["dtype"], tuple(data.get("shape", ())), data.get("description", ""))


IDENTITY_COLUMNS = (
    Column("model_id", "string", (), "unique id of the snapshot: run and training step"),
    Column("run_id", "int64", (), "training run the snapshot comes from"),
    Column("step", "int64", (), "training step after which the snapshot was taken"),
)


def model_id(run_id: int, step: int) -> str:
    """The id of the snapshot of run ``run_id`` after ``step`` training steps."""
    return f"run{run_id:05d}-step{step:06d}"


@dataclass(frozen=True)
class ZooSchema:
    """All columns of a zoo, derived from its member spec plus its own metadata and probes."""

    spec: MemberSpec
    metadata: tuple[Column, ...] = ()
    probes: tuple[Column, ...] = ()
    _names: tuple[str, ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        names = [column.name for column in self.columns]
        duplicated = sorted({name for name in names if names.count(name) > 1})
        if duplicated:
            raise ValueError(f"zoo schema names column(s) twice: {', '.join(duplicated)}")
        object.__setattr__(self, "_names", tuple(names))

    @property
    def parameters(self) -> tuple[Column, ...]:
        """One float32 column per state-dict key, shaped like the parameter."""
        return tuple(
            Column(name, PARAMETER_DTYPE, shape, "member parameter (torch state-dict key)")
            for name, shape in self.spec.parameter_shapes().items()
        )

    @property
    def table_columns(self) -> tuple[Column, ...]:
        """The small columns: identity plus metadata (what ``load_weights`` returns as a table)."""
        return IDENTITY_COLUMNS + self.metadata

    @property
    def columns(self) -> tuple[Column, ...]:
        return self.table_columns + self.probes + self.parameters

    @property
    def names(self) -> tuple[str, ...]:
        return self._names

    def features(self) -> Any:
        """``datasets.Features`` for a whole row."""
        import datasets

        return datasets.Features({column.name: column.feature() for column in self.columns})

    def check_rows(self, rows: Mapping[str, np.ndarray]) -> int:
        """Check that columnar rows match the schema exactly; return the row count."""
        missing = [name for name in self.names if name not in rows]
        extra = [name for name in rows if name not in self._names]
        if missing or extra:
            raise ValueError(f"rows do not match the zoo schema: missing {missing}, unexpected {extra}")
        count = len(rows["model_id"])
        for column in self.columns:
            shape = tuple(np.shape(rows[column.name]))
            if shape != (count, *column.shape):
                raise ValueError(f"column {column.name} has shape {shape}, expected {(count, *column.shape)}")
        return count

    def to_dict(self) -> dict[str, Any]:
        return {
            "spec": self.spec.to_dict(),
            "metadata": [column.to_dict() for column in self.metadata],
            "probes": [column.to_dict() for column in self.probes],
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ZooSchema:
        return cls(
            MemberSpec.from_dict(data["spec"]),
            tuple(Column.from_dict(column) for column in data.get("metadata", ())),
            tuple(Column.from_dict(column) for column in data.get("probes", ())),
        )


def spec_config_name(spec: MemberSpec) -> str:
    """The config holding members of ``spec`` in a zoo of several: cell-layers x hidden, e.g. ``lstm-2x32``.

    Input and output sizes are the task's, the same for every config of a zoo.
    """
    return f"{spec.cell}-{spec.num_layers}x{spec.hidden_size}"


def member_label(spec: MemberSpec) -> str:
    """The spec in words, e.g. ``LSTM 6 -> 2 x 32 -> 6``."""
    return (
        f"{spec.cell.upper()} {spec.input_size} -> {spec.num_layers} x {spec.hidden_size} -> "
        f"{spec.output_size}"
    )


def architecture_values(spec: MemberSpec, keys: Sequence[str]) -> dict[str, int | str]:
    """A row's architecture columns: its config and the spec fields ``keys`` that vary in the zoo."""
    return {"config": spec_config_name(spec), **{key: getattr(spec, key) for key in keys}}


def with_architecture(schema: ZooSchema, keys: Sequence[str]) -> ZooSchema:
    """``schema`` plus metadata columns naming each row's architecture (see :func:`architecture_values`)."""
    columns = tuple(
        Column(
            key,
            "string" if isinstance(value, str) else "int64",
            (),
            "zoo config (member architecture) of the row" if key == "config" else f"member {key}",
        )
        for key, value in architecture_values(schema.spec, keys).items()
    )
    return ZooSchema(schema.spec, schema.metadata + columns, schema.probes)
