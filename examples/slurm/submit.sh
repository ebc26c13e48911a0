#!/usr/bin/env bash
# Build a zoo and benchmark encoders on it as four dependent SLURM jobs:
#   build parts (array) -> merge -> bench parts (array) -> merge.
#   BUILD_PARTS_COUNT=8 BENCH_PARTS_COUNT=30 examples/slurm/submit.sh
# Every setting of the four scripts may be set here too (TASK, PRESET, ZOO, ENCODER, ...):
# sbatch passes the environment on. Run it from the directory the outputs should go in.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(sbatch --parsable --array=0-$((${BUILD_PARTS_COUNT:-8} - 1)) "$here/build-zoo.sbatch")
merge=$(sbatch --parsable --dependency=afterok:"$build" "$here/merge-zoo.sbatch")
bench=$(sbatch --parsable --dependency=afterok:"$merge" --array=0-$((${BENCH_PARTS_COUNT:-30} - 1)) "$here/bench.sbatch")
sbatch --parsable --dependency=afterok:"$bench" "$here/merge-bench.sbatch"
