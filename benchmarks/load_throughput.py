"""Read one split's weights as stacked tensors: rnn_zoo.load_weights versus datasets.

Writes a zoo of random members (formal-language sized rows: 13,766 parameters, 100 probe
sequences of 42 symbols with float16 log-probabilities), then, in one run, times

  (a) rnn_zoo.load_weights(zoo, "train")                        safetensors, memory-mapped
  (b) load_dataset(zoo, split="train").with_format("torch")     parquet -> arrow -> torch
      and stacking every parameter column of the split.

(a) verifies every shard it reads against its sha256 in weights/index.json; it is timed on
its first call ever (every shard hashed), in a later process (the hashes come from the
record rnn-zoo keeps in its cache folder), again in the same process, and with
verify=False. (b) is timed cold (datasets converts the parquet into its arrow cache first)
and warm (from that cache). Each warm timing is the best of three, since the machine may
be busy with other work. The last line, ``speedup X``, is (b) warm over (a) in a later
process: both sides then read what their caches hold; the line before gives the ratio for
the first load ever and for one in the same process.

    python benchmarks/load_throughput.py [--members 2000]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--members", type=int, default=2000, help="rows in the train split (even)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        os.environ["HF_DATASETS_CACHE"] = str(Path(scratch, "cache"))
        os.environ["RNN_ZOO_CACHE"] = str(Path(scratch, "rnn-zoo-cache"))  # its record of hashes
        import datasets

        import rnn_zoo
        from rnn_zoo.zoo.synthetic import synthetic_schema, write_synthetic_zoo

        root = Path(scratch, "zoo")
        print(f"writing a zoo with {args.members} train members ...", flush=True)
        schema = synthetic_schema(probes=100, length=42)
        write_synthetic_zoo(root, {"train": args.members // 2}, steps=(0, 100), schema=schema)
        names = schema.spec.parameter_names

        def via_datasets() -> dict:
            rows = datasets.load_dataset(str(root), split="train").with_format("torch")
            return {name: rows[name][:] for name in names}

        time.sleep(1.1)  # zoos are read well after they are written; hashes of younger files are not cached
        from rnn_zoo.zoo import integrity

        def first_load() -> dict:
            integrity._hashes.clear()  # a new process on a new machine: every shard is hashed
            os.environ[integrity.HASH_CACHE_ENV] = "0"
            try:
                return rnn_zoo.load_weights(root, "train").params
            finally:
                del os.environ[integrity.HASH_CACHE_ENV]

        def new_process_load() -> dict:
            integrity._hashes.clear()  # a new process: the hashes come from the record on disk
            return rnn_zoo.load_weights(root, "train").params

        bulk_seconds, bulk = best_of(3, first_load)
        rnn_zoo.load_weights(root, "train")  # records the hashes on disk
        process_seconds, _ = best_of(3, new_process_load)
        cached_seconds, _ = best_of(3, lambda: rnn_zoo.load_weights(root, "train").params)
        unverified_seconds, _ = best_of(3, lambda: rnn_zoo.load_weights(root, "train", verify=False).params)
        cold_seconds, _ = timed(via_datasets)
        warm_seconds, stacked = best_of(3, via_datasets)
        assert all(bulk[name].shape == stacked[name].shape for name in names)
        print(f"load_weights, first (sha256 of every shard)  {bulk_seconds:8.3f} s")
        print(f"load_weights, a later process (hashes on disk) {process_seconds:6.3f} s")
        print(f"load_weights, again (hashes cached)          {cached_seconds:8.3f} s")
        print(f"load_weights, verify=False                   {unverified_seconds:8.3f} s")
        print(
            f"load_dataset + torch format, cold            {cold_seconds:8.3f} s   ({cold_seconds / bulk_seconds:.1f}x)"
        )
        print(
            f"load_dataset + torch format, warm            {warm_seconds:8.3f} s   ({warm_seconds / bulk_seconds:.1f}x)"
        )
        print(
            f"first load {warm_seconds / bulk_seconds:.1f}x, in-process cached {warm_seconds / cached_seconds:.1f}x"
        )
        print(f"speedup {warm_seconds / process_seconds:.1f}")


def best_of(repeats: int, function):
    """The shortest of ``repeats`` timings (the machine may be shared) and the last result."""
    timings = [timed(function) for _ in range(repeats)]
    return min(seconds for seconds, _ in timings), timings[-1][1]


def timed(function):
    start = time.perf_counter()
    result = function()
    return time.perf_counter() - start, result


if __name__ == "__main__":
    main()
