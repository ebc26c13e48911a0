"""The resumable output folder of a build or a bench (``--out``): accepted, locked, sealed, split, merged.

One type serves both stages:

- **Accepted before anything is written**: a directory (or nothing yet) with no link inside
  it, so no write follows a link out of ``--out``; empty, or holding the same work (the
  stage's claim, checked by the stage). A refused folder is left exactly as it was.
- **Locked** while written: an OS file lock (``flock``) on ``STATE/lock``, held for the whole
  build, bench or merge; the operating system drops it when its holder exits, however it
  exits. A second writer is refused with a line naming the holder's pid and host. Once the
  lock is held, the temporaries (``.NAME.XXXXXXXX.tmp``) of writes that were killed midway
  are swept away.
- **Sealed**: a unit of work (a zoo's shard, a bench's job) records the sha256 of its files,
  written after them; the files are trusted, resumed from or copied onward only while they
  match. A finished folder can carry an index of every file's sha256, itself sealed.
- **Split in parts**: ``--shard i/n`` takes every n-th unit from the i-th.
"""

from __future__ import annotations

import fcntl
import os
import shutil
import socket
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, TypeVar

from rnn_zoo.errors import ZooError
from rnn_zoo.files import atomic_path, is_temporary, seal_json, sha256, unseal_json, write_text

Item = TypeVar("Item")
Hasher = Callable[[Path], str]


@dataclass(frozen=True)
class OutputFolder:
    """The folder ``root``, with its lock and records under the hidden folder ``state``.

    ``what`` names the work it holds in messages (``rnn-zoo build``, ``bench``).
    """

    root: Path
    state: str
    what: str

    @property
    def lock_file(self) -> Path:
        return self.root / self.state / "lock"

    def check_place(self) -> None:
        """Refuse a root that is a file, or that holds a link (rnn-zoo writes only inside it)."""
        if self.root.exists() and not self.root.is_dir():
            raise ZooError(f"--out {self.root} is a file; give a directory")
        link = next(self._links(), None)
        if link is not None:
            raise ZooError(
                f"{link} is a link; rnn-zoo writes only inside --out {self.root}: "
                "replace the link with the folder or file itself, or choose another --out"
            )

    def _links(self) -> Iterator[Path]:
        if not self.root.is_dir():
            return
        for folder, folders, files in os.walk(self.root):
            for name in (*folders, *files):
                if os.path.islink(os.path.join(folder, name)):
                    yield Path(folder, name)

    def holds_nothing(self) -> bool:
        """Whether the folder is missing or holds nothing but its state folder and temporaries."""
        if not self.root.is_dir():
            return True
        return all(path.name == self.state or is_temporary(path) for path in self.root.iterdir())

    @contextmanager
    def writing(self, accept: Callable[[], None]) -> Iterator[None]:
        """Hold the folder's write lock (creating it) once ``accept()`` has not refused it.

        ``accept`` (the stage's claim check) runs before the lock is taken, so a refused folder
        gets no lock file, and again once it is held, when no other writer can change the folder.
        A refusal before the lock is final only where no writer has ever locked the folder: a
        writer locks before it writes anything, so where a lock file exists the folder may be
        changing under the first check (a build writing its claim, a merge finishing), and the
        check under the lock decides. A folder this call created that holds nothing but the lock
        afterwards is removed again.
        """
        self.check_place()
        try:
            accept()
        except ZooError:
            if not self.lock_file.is_file():
                raise
        created = not self.root.exists()
        try:
            self.lock_file.parent.mkdir(parents=True, exist_ok=True)
            handle = self._acquire()
        except OSError as error:
            raise ZooError(
                f"cannot write to --out {self.root} ({error.strerror}); choose a directory you can write to"
            ) from None
        try:
            self.sweep_temporaries()
            self.check_place()
            accept()
            yield
        finally:
            if created and self.holds_nothing() and os.listdir(self.root / self.state) == ["lock"]:
                shutil.rmtree(self.root)  # nothing was written: leave no empty directory behind
            handle.close()

    def _acquire(self) -> IO[str]:
        path = self.lock_file
        while True:
            handle = open(path, "a+", encoding="utf-8")
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                handle.seek(0)
                holder = handle.read().strip() or "pid unknown"
                handle.close()
                raise ZooError(
                    f"{self.root} is being written by another {self.what} or merge ({holder}); "
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

    def sweep_temporaries(self) -> None:
        """Remove the temporary files (``.NAME.XXXXXXXX.tmp``) of writes that were killed midway."""
        for folder, _, files in os.walk(self.root):
            for name in files:
                path = Path(folder, name)
                if is_temporary(path) and path.is_file() and not path.is_symlink():
                    path.unlink()

    def path(self, name: str) -> Path:
        """The file ``name`` (relative, forward slashes) inside the folder; anything else is refused."""
        parts = PurePosixPath(name).parts
        if not name or "\\" in name or "\0" in name or name.startswith("/") or ".." in parts:
            raise ZooError(f"{self.root} records a file {name!r} outside it; it is damaged")
        return self.root / name

    def check_files(
        self, recorded: Mapping[str, str], remedy: str, hasher: Hasher = sha256, *, missing_ok: bool = False
    ) -> None:
        """Raise ZooError naming the first file of ``recorded`` ({name: sha256}) missing or changed."""
        for name, digest in recorded.items():
            path = self.path(name)
            if not path.is_file():
                if missing_ok and not path.exists():
                    continue
                raise ZooError(f"{path} is missing; {remedy}")
            if hasher(path) != digest:
                raise ZooError(f"{path} is damaged (its sha256 is not the one recorded); {remedy}")

    def matches(self, recorded: Mapping[str, str], hasher: Hasher = sha256) -> bool:
        """Whether every file of ``recorded`` ({name: sha256}) is in place with that sha256."""
        try:
            self.check_files(recorded, "", hasher)
        except ZooError:
            return False
        return True

    def digests(self, names: Sequence[str], hasher: Hasher = sha256) -> dict[str, str]:
        """{name: sha256} of files in the folder."""
        return {name: hasher(self.path(name)) for name in names}

    def copy_from(self, source: OutputFolder, recorded: Mapping[str, str], hasher: Hasher = sha256) -> None:
        """Copy the files of ``recorded`` ({name: sha256}) from ``source``, each checked as it lands."""
        for name, digest in recorded.items():
            with atomic_path(self.path(name)) as temporary:
                shutil.copyfile(source.path(name), temporary)
                if hasher(temporary) != digest:
                    raise ZooError(f"{source.path(name)} changed while it was copied; merge again")

    def files(self, *, leave_out: Sequence[str] = ()) -> list[str]:
        """Every file's name in the folder, sorted, but the state folder's, temporaries and ``leave_out``."""
        names = []
        for folder, folders, files in os.walk(self.root):
            folders[:] = sorted(f for f in folders if Path(folder, f) != self.root / self.state)
            for name in files:
                relative = Path(folder, name).relative_to(self.root).as_posix()
                if not is_temporary(Path(name)) and relative not in leave_out:
                    names.append(relative)
        return sorted(names)

    def write_index(self, name: str) -> None:
        """Write the index ``name``: every other file's sha256, sealed with its own; written last."""
        write_text(self.path(name), seal_json({"files": self.digests(self.files(leave_out=[name]))}))

    def check_index(self, name: str, remedy: str, *, missing_ok: bool = False) -> None:
        """Check the files an index lists, if the folder has one; a damaged index or file is a ZooError.

        ``missing_ok``: files deleted since the index was written are not checked.
        """
        path = self.path(name)
        if not path.is_file():
            return
        index = unseal_json(path.read_bytes(), str(path), remedy)
        files = index.get("files")
        if not isinstance(files, dict) or not all(isinstance(d, str) for d in files.values()):
            raise ZooError(f"{path} lists no files; {remedy}")
        self.check_files(files, remedy, missing_ok=missing_ok)


def parse_part(text: str | None) -> tuple[int, int] | None:
    """``"i/n"`` -> (i, n), checked to be a part: 0 <= i < n."""
    if text is None:
        return None
    try:
        index, count = (int(piece) for piece in text.split("/"))
    except ValueError:
        raise ZooError(f"--shard {text!r} is not of the form i/n, e.g. 0/4") from None
    return check_part(index, count)


def check_part(index: int, count: int) -> tuple[int, int]:
    """(i, n) if it names a part, 0 <= i < n; else a ZooError."""
    if count < 1 or not 0 <= index < count:
        raise ZooError(f"--shard {index}/{count} is out of range; give i/n with 0 <= i < n")
    return index, count


def take_part(items: Sequence[Item], part: tuple[int, int] | None, what: str) -> list[Item]:
    """Part i of n of ``items`` (every n-th from the i-th); all of them for None.

    ``what`` names the items in the error when n is out of range, e.g. ``shards``.
    """
    if part is None:
        return list(items)
    index, count = check_part(*part)
    if count > len(items):
        raise ZooError(
            f"--shard {index}/{count}: there are only {len(items)} {what}; use at most that many parts"
        )
    return list(items[index::count])
