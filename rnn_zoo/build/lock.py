"""The exclusive write lock of a build directory: one build or merge writes to an ``--out`` at a time.

The lock is an OS file lock (``flock``) on ``.build/lock`` in the directory, held for the
whole build or merge; the operating system drops it when its holder exits, however it
exits, so a killed build never leaves the directory locked. The holder writes its pid and
host into the file, and a second writer is refused with a line naming them. Once the lock
is held, temporary files that killed writers left behind are swept away.
"""

from __future__ import annotations

import fcntl
import functools
import os
import shutil
import socket
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, TypeVar

from rnn_zoo.errors import ZooError
from rnn_zoo.zoo.shards import BUILD_STATE

LOCK = f"{BUILD_STATE}/lock"
Function = TypeVar("Function", bound=Callable[..., Any])


@contextmanager
def output_lock(out: Path) -> Iterator[None]:
    """Hold the write lock of ``out`` (creating the directory); ZooError if another writer holds it.

    A directory this call created and that holds nothing but the lock afterwards is removed again.
    """
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise ZooError(f"--out {out} is a file; give a directory")
    created = not out.exists()
    try:
        (out / BUILD_STATE).mkdir(parents=True, exist_ok=True)
        handle = _acquire(out)
    except OSError as error:
        raise ZooError(
            f"cannot write to --out {out} ({error.strerror}); choose a directory you can write to"
        ) from None
    try:
        sweep_temporaries(out)
        yield
    finally:
        if created and sorted(os.listdir(out)) == [BUILD_STATE] and os.listdir(out / BUILD_STATE) == ["lock"]:
            shutil.rmtree(out)  # nothing was written: leave no empty directory behind
        handle.close()


def holds_output_lock(function: Function) -> Function:
    """Run ``function(recipe, out, ...)`` holding the write lock of ``out`` (see :func:`output_lock`)."""

    @functools.wraps(function)
    def locked(recipe: Any, out: Path, *args: Any, **kwargs: Any) -> Any:
        with output_lock(Path(out)):
            return function(recipe, out, *args, **kwargs)

    return locked  # type: ignore[return-value]


def _acquire(out: Path) -> IO[str]:
    path = out / LOCK
    while True:
        handle = open(path, "a+", encoding="utf-8")
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            handle.seek(0)
            holder = handle.read().strip() or "pid unknown"
            handle.close()
            raise ZooError(
                f"{out} is being written by another rnn-zoo build or merge ({holder}); "
                f"wait for it to finish, or choose another --out"
            ) from None
        if path.exists() and os.stat(path).st_ino == os.fstat(handle.fileno()).st_ino:
            break  # else its holder removed the file meanwhile; lock the new one
        handle.close()
    handle.seek(0)
    handle.truncate()
    handle.write(f"pid {os.getpid()} on host {socket.gethostname()}\n")
    handle.flush()
    return handle


def sweep_temporaries(out: Path) -> None:
    """Remove the temporary files (``.NAME.XXXXXXXX.tmp``) of writes that were killed midway.

    They lie in the output folder, its data/, weights/ and build-state folders, or their
    config folders (a zoo of several configs).
    """
    folders = [out / name for name in ("data", "weights", BUILD_STATE) if (out / name).is_dir()]
    configs = [sub for folder in folders for sub in folder.iterdir() if sub.is_dir() and not sub.is_symlink()]
    for folder in (out, *folders, *configs):
        for path in folder.glob(".*.tmp") if folder.is_dir() else ():
            if path.is_file() and not path.is_symlink():
                path.unlink()
