"""The bench process keeps the memory it frees for its next step instead of handing it back.

glibc maps a block above its mmap threshold (128 KiB at start, raised to the largest block freed
since, at most 32 MiB) fresh from the system and unmaps it when freed, and it trims free memory at
the top of its heap above twice that threshold. An emulation step frees and allocates the same
large activations at every step, so each comes back as fresh pages, zeroed and mapped on first
touch. :func:`keep_freed_memory` sets both thresholds once (glibc's ``mallopt``), so that blocks
below 256 MiB come from the heap and stay there for the next step; where the C library has no
``mallopt`` it does nothing. Measured at the authors' sizes, 1 thread: the bare emulator's step
(2 x 256) 13 % faster, flat, layer-stats and non-interactive probing 11-14 %
(``benchmarks/bench_throughput.py --baseline-tree``).
"""

from __future__ import annotations

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_MMAP_THRESHOLD = -1, -3  # glibc's malloc.h
MMAP_THRESHOLD = 256 << 20  # blocks below this come from the heap
TRIM_THRESHOLD = 1 << 30  # free memory at the heap's top is handed back past this


def keep_freed_memory() -> bool:
    """Serve blocks below 256 MiB from the heap and keep up to 1 GiB of it free for reuse.
    Returns whether the C library took both settings (False where it has no ``mallopt``)."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c")).mallopt
    except (OSError, AttributeError, TypeError):
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD))
