#!/usr/bin/env bash
# The first GPU run, rehearsed here: the exact device call of benchmarks/device_prepare.py with
# --smoke, in a fresh venv holding the device image's packages that matter -- and neither
# rnn-zoo nor datasets --, from a copy of the checkout as a call gets it (tracked and unignored
# files, plus the carried folder), with an empty HOME and, where `unshare -n` works, no network.
#   bash benchmarks/device_rehearsal.sh [WORK]     (default: a new temporary folder)
# Exits with the device check's status; prints its table and the rehearsal's wall time.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
work="${1:-$(mktemp -d -t rnn-zoo-rehearsal-XXXXXX)}"
started=$SECONDS
mkdir -p "$work/tree" "$work/home" "$work/out"

# The image's packages that the steps import (the device: Python 3.12 with torch 2.11; here this
# machine's Python and its torch file). pip takes them from the registry; the device call will not.
python -m venv "$work/venv"
"$work/venv/bin/pip" install -q torch==2.13.0
"$work/venv/bin/pip" install -q numpy einops safetensors pyarrow pandas xxhash fsspec huggingface_hub click tqdm pyyaml pytest
for absent in rnn_zoo datasets dill multiprocess; do
    if (cd "$work/home" && "$work/venv/bin/python" -c "import $absent" 2>/dev/null); then
        echo "the rehearsal's venv must not hold $absent" >&2
        exit 2
    fi
done

# The checkout as a call copies it, and the carried folder prepared in it (wheels for this Python).
(cd "$root" && git ls-files -z --cached --others --exclude-standard | tar --null --ignore-failed-read -T - -cf -) |
    tar -xf - -C "$work/tree"
version=$("$work/venv/bin/python" -c 'import sys; print(f"{sys.version_info[0]}.{sys.version_info[1]}")')
(cd "$work/tree" && python benchmarks/device_prepare.py --python-version "$version")
command=$("$work/venv/bin/python" -c 'import json, sys; print(json.load(open(sys.argv[1]))["command"])' "$work/tree/.device/call.json")

isolate=()
if unshare -n true 2>/dev/null; then
    isolate=(unshare -n)
    echo "no network: unshare -n"
else
    echo "unshare -n is not permitted here: the network stays, pip and the hub are told to stay offline"
fi
echo "device command: $command --smoke"
set +e
(cd "$work/tree" && env -u PYTHONPATH HOME="$work/home" PYTHONNOUSERSITE=1 PIP_NO_INDEX=1 \
    PATH="$work/venv/bin:$PATH" OUT="$work/out" "${isolate[@]}" bash -c "$command --smoke")
status=$?
set -e
if [ "$status" -eq 0 ] && grep -Eq '^\|[^|]*\|[^|]*\| (failed|stopped) \|' "$work/out/summary.md"; then
    status=1  # a row failed, whatever the exit status said
fi
echo "rehearsal: exit $status, $((SECONDS - started)) s wall (venv, wheels and check); files in $work/out:"
ls "$work/out"
exit "$status"
