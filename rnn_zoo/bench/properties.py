"""The properties a zoo offers the bench (its task family's), and its metadata columns read as arrays.

What a property is lives in :mod:`rnn_zoo.tasks.properties`; each task family declares its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnn_zoo.errors import ZooError
from rnn_zoo.tasks.properties import GENERIC, Property
from rnn_zoo.tasks.registry import all_properties

__all__ = [
    "Property",
    "available_properties",
    "column_shapes",
    "column_values",
    "family_properties",
    "get_property",
]


def family_properties(family: Any) -> tuple[Property, ...]:
    """The properties a zoo of ``family`` offers; the generic ones for a zoo of no known family."""
    return tuple(family.properties) if family is not None else GENERIC


def get_property(name: str, family: Any = None) -> Property:
    """The property ``name`` of ``family`` (None: of any registered family; names are unique)."""
    known = (
        {prop.name: prop for prop in family_properties(family)} if family is not None else all_properties()
    )
    if name not in known:
        raise ZooError(f"unknown property {name!r}; choose one of: {', '.join(known)}")
    return known[name]


def column_shapes(table: Any) -> dict[str, tuple[int, ...]]:
    """Per-row shapes of a pyarrow table's columns: () for scalars, (k,) for fixed-size lists."""
    import pyarrow as pa

    shapes = {}
    for field in table.schema:
        kind = field.type
        shapes[field.name] = (kind.list_size,) if pa.types.is_fixed_size_list(kind) else ()
    return shapes


def available_properties(table: Any, family: Any = None) -> tuple[str, ...]:
    """Names of ``family``'s properties (see :func:`family_properties`) that a metadata table can provide."""
    shapes = column_shapes(table)
    return tuple(prop.name for prop in family_properties(family) if shapes.get(prop.column) == prop.shape)


def column_values(table: Any, name: str) -> np.ndarray:
    """One metadata column as a numpy array (n,) or (n, k), without a row loop."""
    import pyarrow as pa

    array = table.column(name).combine_chunks()
    if pa.types.is_fixed_size_list(array.type):
        return array.flatten().to_numpy(zero_copy_only=False).reshape(len(array), array.type.list_size)
    return array.to_numpy(zero_copy_only=False)
