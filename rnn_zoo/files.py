"""Files every stage writes and reads: atomic writes, JSON records, sha256, library versions.

Every file rnn-zoo writes goes to a temporary name beside it (``.NAME.XXXXXXXX.tmp``) and is
renamed into place only when whole, with the mode the umask gives (0644 by default); the
temporaries of a write that was killed midway are swept by the next run into the same output
folder (:mod:`rnn_zoo.folder`). JSON is read with one clear error for whatever a damaged file
holds, and a record read from JSON or TOML becomes a frozen dataclass with unknown keys refused.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

from rnn_zoo.errors import ZooError

SEAL = "self_sha256"  # the key under which a sealed JSON file records its own sha256
_ZERO = "0" * 64
Record = TypeVar("Record")


@contextmanager
def atomic_path(path: Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; rename it into place only on success.

    The file gets the mode the umask gives, even when the writer replaced the temporary
    (safetensors' ``save_file`` creates its files 0600).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(handle)
    mode = 0o666 & ~_umask()  # mkstemp makes 0600 files, unreadable to colleagues
    try:
        yield Path(temporary)
        os.chmod(temporary, mode)
        os.replace(temporary, path)
    finally:
        if os.path.exists(temporary):
            os.remove(temporary)


def is_temporary(path: Path) -> bool:
    """Whether ``path`` is named like the temporary of an atomic write (``.NAME.XXXX.tmp``)."""
    return path.name.startswith(".") and path.name.endswith(".tmp")


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def write_text(path: Path, text: str) -> None:
    """Atomically write a text file."""
    with atomic_path(path) as temporary:
        temporary.write_text(text, encoding="utf-8")


def json_text(data: Any) -> str:
    """Pretty JSON, keys in the order given, with a final newline."""
    return json.dumps(data, indent=2, sort_keys=False) + "\n"


def write_json(path: Path, data: Any) -> None:
    """Atomically write pretty JSON."""
    write_text(path, json_text(data))


def parse_json(raw: bytes, where: str, remedy: str = "the zoo is damaged") -> dict[str, Any]:
    """A JSON object from ``raw``; anything else is a ZooError naming ``where`` and ``remedy``."""
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ZooError(f"{where} is not valid JSON ({error}); {remedy}") from None
    if not isinstance(data, dict):
        raise ZooError(f"{where} holds a JSON {type(data).__name__}, not an object; {remedy}")
    return data


def read_bytes(path: Path, remedy: str) -> bytes:
    """The bytes of file ``path``; one that cannot be read is a ZooError ending in ``remedy``."""
    try:
        return Path(path).read_bytes()
    except OSError as error:
        raise ZooError(f"{path} cannot be read ({error.strerror}); {remedy}") from None


def read_json(path: Path, remedy: str) -> dict[str, Any]:
    """The JSON object in file ``path``; an unreadable or damaged file is one ZooError ending in ``remedy``."""
    return parse_json(read_bytes(path, remedy), str(path), remedy)


def seal_json(data: dict[str, Any]) -> str:
    """``data`` as pretty JSON with a last key ``self_sha256``: the sha256 of this text with it zeroed."""
    text = json.dumps({**data, SEAL: _ZERO}, indent=2) + "\n"
    digest = hashlib.sha256(text.encode()).hexdigest()
    return text.replace(f'"{SEAL}": "{_ZERO}"', f'"{SEAL}": "{digest}"')


def unseal_json(raw: bytes, where: str, remedy: str = "the zoo is damaged") -> dict[str, Any]:
    """Parse a file written by :func:`seal_json`; raise ZooError naming ``where`` if any byte changed."""
    data = parse_json(raw, where, remedy)
    digest = data.get(SEAL)
    if not isinstance(digest, str) or len(digest) != 64:
        raise ZooError(f"{where} records no sha256 of itself; {remedy} (or it is from an older rnn-zoo)")
    zeroed = raw.replace(f'"{SEAL}": "{digest}"'.encode(), f'"{SEAL}": "{_ZERO}"'.encode(), 1)
    if hashlib.sha256(zeroed).hexdigest() != digest:
        raise ZooError(f"{where}: its sha256 does not match the one it records; {remedy}")
    return data


def sha256(path: Path) -> str:
    """Hex sha256 of a file, read in 1 MiB blocks (uncached: see ``zoo.integrity.file_sha256``)."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(2**20), b""):
            digest.update(block)
    return digest.hexdigest()


def from_mapping(cls: type[Record], values: Mapping[str, Any], where: str) -> Record:
    """The dataclass ``cls`` built from ``values``; keys it has no field for are a ZooError naming ``where``."""
    known = [field.name for field in dataclasses.fields(cls)]  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ZooError(f"{where} has no option {', '.join(unknown)}; its options: {', '.join(known)}")
    return cls(**values)


def library_versions() -> dict[str, str]:
    """Versions of the libraries that write and read a zoo."""
    from importlib.metadata import PackageNotFoundError, version

    versions = {}
    for package in ("rnn-zoo", "torch", "numpy", "safetensors", "pyarrow", "datasets", "huggingface_hub"):
        try:
            versions[package] = version(package)
        except PackageNotFoundError:
            versions[package] = "unknown"
    return versions
