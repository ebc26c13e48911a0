"""The properties a zoo offers the bench, and its metadata columns read as arrays.

What a property is lives in :mod:`rnn_zoo.tasks.properties`; each task family declares its own.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from rnn_zoo.errors import ZooError
from rnn_zoo.tasks.formal_tasks import PROPERTIES as FORMAL_PROPERTIES
from rnn_zoo.tasks.mnist.properties import PROPERTIES as MNIST_PROPERTIES
from rnn_zoo.tasks.properties import TRAINING_STEP, Property

__all__ = ["PROPERTIES", "Property", "available_properties", "column_shapes", "column_values", "get_property"]

PROPERTIES: dict[str, Property] = {
    prop.name: prop
    for prop in (*FORMAL_PROPERTIES[:2], *MNIST_PROPERTIES[:2], TRAINING_STEP, *MNIST_PROPERTIES[3:])
}


def get_property(name: str) -> Property:
    """The property registered under ``name``."""
    if name not in PROPERTIES:
        raise ZooError(f"unknown property {name!r}; choose one of: {', '.join(PROPERTIES)}")
    return PROPERTIES[name]


def column_shapes(table: Any) -> dict[str, tuple[int, ...]]:
    """Per-row shapes of a pyarrow table's columns: () for scalars, (k,) for fixed-size lists."""
    import pyarrow as pa

    shapes = {}
    for field in table.schema:
        kind = field.type
        shapes[field.name] = (kind.list_size,) if pa.types.is_fixed_size_list(kind) else ()
    return shapes


def available_properties(table: Any) -> tuple[str, ...]:
    """Names of the registered properties that a metadata table can provide."""
    shapes = column_shapes(table)
    return tuple(name for name, prop in PROPERTIES.items() if shapes.get(prop.column) == prop.shape)


def column_values(table: Any, name: str) -> np.ndarray:
    """One metadata column as a numpy array (n,) or (n, k), without a row loop."""
    import pyarrow as pa

    array = table.column(name).combine_chunks()
    if pa.types.is_fixed_size_list(array.type):
        return array.flatten().to_numpy(zero_copy_only=False).reshape(len(array), array.type.list_size)
    return array.to_numpy(zero_copy_only=False)
