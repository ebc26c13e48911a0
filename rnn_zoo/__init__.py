"""rnn-zoo: build, store, publish and benchmark zoos of trained recurrent networks.

The public API, in the pipeline's order (everything else may move between releases):

    Member, MemberSpec           the canonical member (nn.LSTM, nn.GRU or nn.RNN + nn.Linear) and its spec
    symmetry                     the member's hidden-unit permutation symmetry
    load_recipe, build_zoo       a zoo's recipe, and the zoo trained from it
    load_zoo                     a zoo as `datasets` objects, every column a shaped tensor
    load_weights, ZooWeights     one split's weights as stacked tensors (safetensors, mmap)
    verify_zoo                   a zoo checked file by file against its index
    encoders                     weight encoders by name: encoders.build(name, spec)
    run_bench                    the encoder benchmark (emulation pre-training, downstream tasks)
    ZooError                     what bad input or a damaged zoo raises, in one sentence

The heavier parts (building, encoders, the benchmark) are imported when first used.
"""

from __future__ import annotations

import importlib
from typing import Any

from rnn_zoo.errors import ZooError
from rnn_zoo.member.spec import Member, MemberSpec
from rnn_zoo.zoo.load import ZooWeights, load_weights, load_zoo

__version__ = "0.1.0"

_LAZY = {
    "symmetry": ("rnn_zoo.member.symmetry", None),
    "load_recipe": ("rnn_zoo.build.recipe", "load_recipe"),
    "build_zoo": ("rnn_zoo.build.builder", "build_zoo"),
    "verify_zoo": ("rnn_zoo.zoo.verify", "verify_zoo"),
    "encoders": ("rnn_zoo.encoders", None),
    "run_bench": ("rnn_zoo.bench.run", "run_bench"),
}

__all__ = [
    "Member",
    "MemberSpec",
    "ZooError",
    "ZooWeights",
    "load_weights",
    "load_zoo",
    *_LAZY,
    "__version__",
]


def __getattr__(name: str) -> Any:
    """The lazily imported parts of the public API (PEP 562)."""
    if name not in _LAZY:
        raise AttributeError(f"module 'rnn_zoo' has no attribute {name!r}")
    module, attribute = _LAZY[name]
    loaded = importlib.import_module(module)
    return loaded if attribute is None else getattr(loaded, attribute)
