"""What makes a zoo trustworthy: file names that stay inside it, and hashes that match.

Every file a zoo names (in weights/index.json, zoo.json or the card) is a *name*, not a
path: relative, forward slashes, no ``..``, and once symbolic links are followed it must
still lie inside the zoo's storage folder. Every file's sha256 is recorded when it is
written; readers compare before they trust. Hashes are cached per file, keyed by
(device, inode, size, mtime_ns, ctime_ns), in memory and in ``hashes.json`` in rnn-zoo's
cache folder, so a later load of an unchanged file, in this process or another, costs a
``stat``. No one can set a file's ctime: any write to a file, or putting another file in
its place, changes its key. A file changed in the last second before it was hashed is
never cached, because file times are only as fine as the kernel's clock tick.
``RNN_ZOO_HASH_CACHE=0`` keeps the cache in memory only.
"""

from __future__ import annotations

import json
import os
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path, PurePosixPath

from rnn_zoo.errors import ZooError
from rnn_zoo.files import sha256

_RACY_NS = 1_000_000_000
HASH_CACHE_ENV = "RNN_ZOO_HASH_CACHE"
HASH_CACHE_ENTRIES = 4096  # the newest are kept: far more files than a machine's zoos have shards
_hashes: dict[tuple[int, ...], str] = {}


def check_name(name: object, where: str) -> str:
    """Return ``name`` if it is a plain relative file name; raise ZooError naming ``where`` otherwise."""
    if not isinstance(name, str) or not name or "\\" in name or "\0" in name:
        raise ZooError(f"{where} names a file {name!r} that is not a relative path; the zoo is damaged")
    parts = PurePosixPath(name).parts
    if name.startswith("/") or any(part in ("..", ".") for part in parts) or name.endswith("/"):
        raise ZooError(f"{where} names {name!r}, which points outside the zoo; the zoo is damaged")
    return name


def inside(root: Path, name: str, where: str, storage: Path | None = None) -> Path:
    """The path of file ``name`` under ``root``, refused if it (or a link on the way) leaves ``storage``.

    ``storage`` defaults to ``root``; a zoo in the Hugging Face cache links into its repo's blobs.
    """
    path = root / check_name(name, where)
    allowed = (storage or root).resolve()
    if not path.resolve().is_relative_to(allowed):
        raise ZooError(f"{where} names {name!r}, which links outside the zoo ({allowed}); the zoo is damaged")
    return path


def file_sha256(path: Path) -> str:
    """Hex sha256 of a file, cached while the file's identity, size and times stay the same."""
    before = os.stat(path)
    key = _identity(before)
    if key not in _hashes:
        _hashes.update(_read_hash_cache())
    if key in _hashes:
        return _hashes[key]
    started = time.time_ns()
    digest = sha256(path)
    settled = started - max(before.st_mtime_ns, before.st_ctime_ns) > _RACY_NS
    if settled and _identity(os.stat(path)) == key:
        _hashes[key] = digest
        _write_hash_cache(key, digest)
    return digest


def _hash_cache_file() -> Path | None:
    from rnn_zoo.cache import cache_dir

    return None if os.environ.get(HASH_CACHE_ENV, "1") == "0" else cache_dir() / "hashes.json"


def _read_hash_cache() -> dict[tuple[int, ...], str]:
    """The hashes recorded on disk; a missing or damaged record is an empty one."""
    path = _hash_cache_file()
    try:
        entries = json.loads(path.read_text()) if path is not None else []
        return {tuple(int(part) for part in key.split(":")): digest for key, digest in entries}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


def _write_hash_cache(key: tuple[int, ...], digest: str) -> None:
    """Add one hash to the record on disk (atomically; a record that cannot be written is skipped)."""
    path = _hash_cache_file()
    if path is None:
        return
    entries = {":".join(map(str, old)): value for old, value in _read_hash_cache().items()}
    entries[":".join(map(str, key))] = digest
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        temp = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
        temp.write_text(json.dumps(list(entries.items())[-HASH_CACHE_ENTRIES:]))
        os.replace(temp, path)
    except OSError:
        pass


def file_sha256s(paths: Sequence[Path]) -> list[str]:
    """:func:`file_sha256` of several files, hashed in parallel threads (hashlib releases the GIL)."""
    if len(paths) < 2:
        return [file_sha256(path) for path in paths]
    with ThreadPoolExecutor(max_workers=min(len(paths), os.cpu_count() or 1)) as pool:
        return list(pool.map(file_sha256, paths))


def _identity(stat: os.stat_result) -> tuple[int, ...]:
    return (stat.st_dev, stat.st_ino, stat.st_size, stat.st_mtime_ns, stat.st_ctime_ns)


def check_sha256s(files: Sequence[tuple[Path, str, str]], record: str = "weights/index.json") -> None:
    """Raise ZooError naming the first of these (path, expected sha256, name) whose file differs."""
    for (_, expected, name), found in zip(files, file_sha256s([path for path, _, _ in files]), strict=True):
        if found != expected:
            raise ZooError(
                f"{name}: sha256 does not match {record}; the zoo is damaged (re-download or rebuild it)"
            )


@contextmanager
def reading(name: str) -> Iterator[None]:
    """Turn what a damaged file makes pyarrow, safetensors or the OS raise into one ZooError naming it."""
    from safetensors import SafetensorError

    try:
        yield
    except ZooError:
        raise
    except (OSError, ValueError, KeyError, TypeError, SafetensorError) as error:  # ArrowInvalid: a ValueError
        reason = " ".join(str(error).split())[:200] or type(error).__name__
        raise ZooError(f"{name} cannot be read ({reason}); the zoo is damaged") from None
