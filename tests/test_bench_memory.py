"""The bench's allocator setting: the large blocks one step frees serve the next, no new pages."""

from __future__ import annotations

import subprocess
import sys

import pytest

from rnn_zoo.bench.memory import keep_freed_memory

# A step's worth of large tensors (16 and 64 MiB), allocated and freed 10 times after a warm-up:
# print the page faults per step.
FAULTS = """
import resource, sys, torch
if sys.argv[1] == "keep":
    from rnn_zoo.bench.memory import keep_freed_memory
    assert keep_freed_memory()
def step():
    a = torch.ones(4 << 20); b = a * 2; c = torch.ones(16 << 20); d = b + 1
    return float(d[0] + c[0])
for _ in range(3):
    step()
before = resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for _ in range(10):
    step()
print((resource.getrusage(resource.RUSAGE_SELF).ru_minflt - before) // 10)
"""
PAGES = (3 * (16 << 20) + (64 << 20)) // 4096  # what one step touches


def faults_per_step(mode: str) -> int:
    done = subprocess.run([sys.executable, "-c", FAULTS, mode], capture_output=True, text=True, check=True)
    return int(done.stdout)


@pytest.mark.skipif(not keep_freed_memory(), reason="a C library without glibc's mallopt")
def test_the_blocks_a_step_frees_serve_the_next_without_new_pages() -> None:
    assert faults_per_step("default") > PAGES // 3  # glibc maps most of them afresh
    assert faults_per_step("keep") < PAGES // 6
