#!/usr/bin/env bash
# Fetch the wheels that benchmarks/device_check.py needs on a GPU machine without the network
# (Python 3.12, x86-64; it has torch, pyarrow, pandas, huggingface_hub and click, not datasets).
#   bash benchmarks/device_wheels.sh [FOLDER]      (default .whl; then --wheels FOLDER)
set -euo pipefail
folder="${1:-.whl}"
platforms=()
for tag in manylinux_2_28_x86_64 manylinux_2_17_x86_64 manylinux2014_x86_64 manylinux1_x86_64; do
    platforms+=(--platform "$tag")
done
# The versions installed here, which the test suite has run with.
pinned=$(python3 -c 'from importlib.metadata import version as v; print(*(f"{n}=={v(n)}" for n in ("datasets", "dill", "multiprocess")))')
# shellcheck disable=SC2086 # one word per requirement
python3 -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
    "${platforms[@]}" -d "$folder" $pinned
ls "$folder"
