"""Zoos on the Hugging Face Hub: recognise a Hub id and fetch what a reader needs into the cache.

A zoo on the Hub is read from the standard Hugging Face cache (``HF_HUB_CACHE``), one commit
at a time: opening it downloads only ``zoo.json``, ``weights/index.json`` and the card; a
reader then asks for the shards it needs (``Zoo.fetch``), pinned to the same commit, so a
push to the repo while reading never mixes two versions. With ``HF_HUB_OFFLINE=1`` the same
calls work from the cache alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from rnn_zoo.errors import ZooError, first_line
from rnn_zoo.zoo.manifest import CARD, INDEX, MANIFEST, Zoo, open_zoo

REPO_TYPE = "dataset"
COMMIT = re.compile(r"[0-9a-f]{40}")  # a snapshot folder is named by the commit it holds


def check_repo_id(repo_id: str) -> str:
    """Return ``repo_id`` if it has the Hub's ORG/NAME form; raise ZooError naming it otherwise."""
    from huggingface_hub.errors import HFValidationError
    from huggingface_hub.utils import validate_repo_id

    try:
        validate_repo_id(repo_id)
    except HFValidationError as error:
        reason = str(error).rstrip(".")
    else:
        if repo_id.count("/") == 1:
            return repo_id
        reason = "it has no organisation or user part"
    raise ZooError(
        f"{repo_id!r} is not a Hub repo id ({reason}); give it as ORG/NAME, e.g. rnn-zoo/formal-languages"
    )


def is_repo_id(text: str) -> bool:
    """Whether ``text`` reads as a Hub id of the form ORG/NAME."""
    try:
        check_repo_id(text)
    except ZooError:
        return False
    return True


@dataclass(frozen=True, kw_only=True)
class HubZoo(Zoo):
    """A zoo read from one commit of a Hub dataset repo; ``root`` is its snapshot in the cache."""

    repo_id: str
    revision: str | None
    commit: str

    @property
    def storage(self) -> Path:
        """The repo's folder in the cache: snapshot files link into its ``blobs/``."""
        return self.root.parent.parent

    def fetch(self, files: Iterable[str]) -> None:
        """Download these files of the zoo (at this zoo's commit) into the cache, if not there yet."""
        missing = sorted({name for name in files if not (self.root / name).is_file()})
        if missing:
            what = f"{len(missing)} file(s) this needs, such as {missing[0]}, were never downloaded"
            _download(self.repo_id, self.commit, missing, what=what, asked=self.revision)


def fetch_zoo(repo_id: str, revision: str | None = None) -> HubZoo:
    """Open the zoo at ``revision`` (default: main) of the Hub dataset repo ``repo_id``."""
    files = [MANIFEST, INDEX, CARD]
    snapshot = _download(repo_id, revision, files, what="its manifest was never downloaded", asked=revision)
    opened = open_zoo(snapshot, repo_id=repo_id, storage=snapshot.parent.parent)
    return HubZoo(
        opened.root, opened.manifest, opened.index, repo_id=repo_id, revision=revision, commit=snapshot.name
    )


def _download(repo_id: str, revision: str | None, files: list[str], *, what: str, asked: str | None) -> Path:
    """Snapshot ``files`` of the repo at ``revision`` into the cache; return the snapshot folder.

    ``what`` says what is missing if the files are not cached; ``asked`` is the revision the
    user gave, for messages.
    """
    from huggingface_hub import snapshot_download

    with _hub_errors(repo_id, asked, what):
        snapshot = Path(
            snapshot_download(repo_id, repo_type=REPO_TYPE, revision=revision, allow_patterns=files)
        )
    _check_in_cache(repo_id, revision, snapshot)
    # Offline, a snapshot folder may be returned without the files asked for.
    absent = [name for name in files if name != CARD and not (snapshot / name).is_file()]
    if absent:
        raise ZooError(_not_cached(repo_id, asked, what))
    return snapshot


def _check_in_cache(repo_id: str, revision: str | None, snapshot: Path) -> None:
    """Refuse a snapshot that is not a commit's folder inside the repo's cache folder.

    Offline, huggingface_hub takes the commit from ``refs/<revision>`` in the cache as it is: a
    ref naming ``../../outside`` would point the reader at a folder outside the cache.
    """
    from huggingface_hub import constants
    from huggingface_hub.file_download import repo_folder_name

    storage = Path(constants.HF_HUB_CACHE) / repo_folder_name(repo_id=repo_id, repo_type=REPO_TYPE)
    inside = snapshot.parent == storage / "snapshots" and COMMIT.fullmatch(snapshot.name) is not None
    if not inside or not snapshot.resolve().is_relative_to(storage.resolve()):
        ref = storage / "refs" / (revision or "main")
        raise ZooError(
            f"the Hugging Face cache of {repo_id} names a snapshot outside its folder ({snapshot}); "
            f"the cache is damaged: delete {ref} (or the folder {storage}) and load the zoo again online"
        )


@contextmanager
def _hub_errors(repo_id: str, revision: str | None, what: str) -> Iterator[None]:
    """Turn huggingface_hub's errors into one-line ZooErrors naming the repo and the fix."""
    from huggingface_hub import errors

    at = f" at revision {revision!r}" if revision else ""
    try:
        yield
    except errors.RevisionNotFoundError:
        raise ZooError(
            f"the Hub dataset repo {repo_id} has no revision {revision!r}; give a branch, tag or commit it has"
        ) from None
    except errors.RepositoryNotFoundError:
        raise ZooError(
            f"no dataset repo {repo_id} on the Hugging Face Hub (or it is private or gated): check the "
            f"id, or log in with `hf auth login` / set HF_TOKEN"
        ) from None
    except errors.LocalEntryNotFoundError as error:
        raise ZooError(
            _not_cached(repo_id, revision, what, reason=first_line(error, with_type=False))
        ) from None
    except errors.HfHubHTTPError as error:
        raise ZooError(
            f"the Hub refused to send {repo_id}{at}: {first_line(error, with_type=False)}"
        ) from None


def _not_cached(repo_id: str, revision: str | None, what: str, reason: str = "") -> str:
    from huggingface_hub.constants import is_offline_mode

    at = f" at revision {revision!r}" if revision else ""
    if is_offline_mode():
        return (
            f"zoo {repo_id}{at} is not in the Hugging Face cache ({what}) and HF_HUB_OFFLINE is "
            f"set: load it once online, or unset HF_HUB_OFFLINE"
        )
    because = f" ({reason})" if reason else ""
    return (
        f"zoo {repo_id}{at} could not be downloaded{because} and is not in the Hugging Face cache "
        f"({what}): check the network connection and try again"
    )
