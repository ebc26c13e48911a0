"""Publish a zoo as a Hugging Face dataset repo: ``rnn-zoo push``.

Nothing is sent until the zoo has passed ``verify_zoo`` and its card's metadata has passed
the checks below. The upload goes through ``upload_folder``, which in huggingface_hub 2.x is
the resumable path (files are chunked and deduplicated, large folders are committed in
batches, and re-running an interrupted push skips what the repo already has), so no
separate "large folder" mode is needed. Only the zoo's own files are staged and allowed.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rnn_zoo.errors import ZooError, first_line
from rnn_zoo.zoo.card import default_repo_id
from rnn_zoo.zoo.card_checks import check_card
from rnn_zoo.zoo.hub import CARD, REPO_TYPE, check_repo_id
from rnn_zoo.zoo.manifest import INDEX, MANIFEST, Zoo
from rnn_zoo.zoo.shards import FORMAT_VERSION
from rnn_zoo.zoo.verify import verify_zoo

if TYPE_CHECKING:
    from huggingface_hub import HfApi
    from huggingface_hub.hf_api import CommitInfo

# Shards a previous push may have left that this zoo does not have (say, after a rebuild with
# other shard counts) would be read as rows of this zoo, so the push deletes them.
STALE_PATTERNS = ("data/*.parquet", "weights/*.safetensors")


@dataclass(frozen=True)
class Release:
    """Where a zoo goes: the dataset repo, its visibility, the branch to commit to, a tag to add."""

    repo_id: str
    private: bool = False
    revision: str | None = None
    tag: str | None = None


def zoo_files(zoo: Zoo) -> list[str]:
    """The zoo's own files, relative to its root: card, manifest, index and every indexed shard."""
    shards = [entry[kind] for _, entry in zoo.indexed_shards() for kind in ("data_file", "weights_file")]
    return [CARD, MANIFEST, INDEX, *shards]


def stage_zoo(zoo: Zoo, folder: Path, repo_id: str | None = None) -> list[str]:
    """Put exactly the zoo's files into ``folder`` (as symbolic links); return their paths.

    With ``repo_id``, the card's loading examples name that repo instead of the default
    ``rnn-zoo/<name>``; everything else is the zoo's own bytes.
    """
    if not (zoo.root / CARD).is_file():
        raise ZooError(f"zoo {zoo.root} has no {CARD} (its dataset card); rebuild the zoo to write it")
    files = zoo_files(zoo)
    for name in files:
        target = folder / name
        target.parent.mkdir(parents=True, exist_ok=True)
        if name == CARD and repo_id is not None:
            target.write_text(card_for_repo(zoo, repo_id), encoding="utf-8")
        else:
            _link_or_copy(zoo.path(name), target)
    return files


def card_for_repo(zoo: Zoo, repo_id: str) -> str:
    """The zoo's README.md with its loading examples pointed at ``repo_id``."""
    text = (zoo.root / CARD).read_text(encoding="utf-8")
    return text.replace(f'"{default_repo_id(zoo.name)}"', f'"{repo_id}"')


def _link_or_copy(source: Path, target: Path) -> None:
    try:
        os.symlink(source.resolve(), target)
    except OSError:  # a file system without symbolic links
        shutil.copyfile(source, target)


def commit_message(zoo: Zoo) -> str:
    """A commit title naming the build: zoo, rnn-zoo version, format version, preset and seed."""
    manifest = zoo.manifest
    version = manifest.get("versions", {}).get("rnn-zoo", "unknown")
    parts = [f"rnn-zoo {version}", f"format v{manifest.get('format_version', FORMAT_VERSION)}"]
    for key in ("preset", "seed"):
        value = _build_setting(manifest, key)
        if value is not None:
            parts.append(f"{key} {value}")
    return f"Upload zoo {zoo.name} ({', '.join(parts)})"


def _build_setting(manifest: Mapping[str, Any], key: str) -> Any:
    for section in ("build", "recipe"):
        value = manifest.get(section, {}).get(key)
        if value is not None:
            return value
    return None


def commit_description(zoo: Zoo) -> str:
    """The commit body: rows and runs per split, and how the zoo was checked before upload."""
    lines = []
    for part in zoo.each_config():
        named = f"{part.config_name} " if zoo.multi_config else ""
        counts = part.manifest.get("counts", {})
        lines += [
            f"{named}{split}: {c['rows']:,} rows from {c['runs']:,} runs" for split, c in counts.items()
        ]
    lines.append(
        "Verified before upload with rnn-zoo verify: every shard matches its sha256 in "
        "weights/index.json and the parquet and safetensors weights agree bit for bit."
    )
    return "\n".join(lines)


def upload_release(
    api: HfApi, folder: Path, files: list[str], release: Release, *, message: str, description: str
) -> CommitInfo:
    """Send a staged zoo: create the repo (and branch), upload the allowed files, add the tag.

    ``api`` is a ``huggingface_hub.HfApi`` that carries the token. Returns the CommitInfo.
    """
    repo = {"repo_id": release.repo_id, "repo_type": REPO_TYPE}
    api.create_repo(**repo, private=release.private, exist_ok=True)
    if release.revision is not None:
        api.create_branch(**repo, branch=release.revision, exist_ok=True)
    commit = api.upload_folder(
        **repo,
        folder_path=folder,
        revision=release.revision,
        commit_message=message,
        commit_description=description,
        allow_patterns=files,
        delete_patterns=list(STALE_PATTERNS),
    )
    if release.tag is not None:
        api.create_tag(**repo, tag=release.tag, revision=commit.oid, tag_message=message)
    return commit


def resolve_token(token: str | None) -> str:
    """The given token, else HF_TOKEN or the saved login; raise ZooError when there is none."""
    from huggingface_hub import get_token

    token = token or get_token()
    if not token:
        raise ZooError(
            "no Hugging Face token: pass --token, set HF_TOKEN, or log in with `hf auth login` "
            "(a token with write access to the repo)"
        )
    return token


def hub_api(token: str) -> HfApi:
    """An ``HfApi`` client that sends ``token`` and names rnn-zoo in its user agent."""
    from huggingface_hub import HfApi

    from rnn_zoo import __version__

    return HfApi(token=token, library_name="rnn-zoo", library_version=__version__)


def push_zoo(
    root: str | Path, release: Release, *, token: str | None = None, api: HfApi | None = None
) -> CommitInfo:
    """Check and publish the zoo at ``root``; return the CommitInfo of the upload.

    Checks, in order, before anything is sent: the repo id's form, ``verify_zoo`` (a damaged zoo
    is refused whatever the environment), that the Hub may be reached (HF_HUB_OFFLINE unset), a
    token, and the card's metadata. ``api`` defaults to ``hub_api(token)``.
    """
    check_repo_id(release.repo_id)
    zoo = verify_zoo(root)
    _check_online(release.repo_id)
    token = resolve_token(token)
    with tempfile.TemporaryDirectory(prefix="rnn-zoo-push-") as folder:
        files = stage_zoo(zoo, Path(folder), release.repo_id)
        check_card(Path(folder) / CARD, Path(folder))
        message, description = commit_message(zoo), commit_description(zoo)
        with _push_errors(release.repo_id):
            return upload_release(
                api or hub_api(token), Path(folder), files, release, message=message, description=description
            )


def _check_online(repo_id: str) -> None:
    from huggingface_hub.constants import is_offline_mode

    if is_offline_mode():
        raise ZooError(f"cannot push to {repo_id}: HF_HUB_OFFLINE is set; unset it to reach the Hub")


@contextmanager
def _push_errors(repo_id: str) -> Iterator[None]:
    """The Hub's refusals and lost connections as one-line ZooErrors."""
    from huggingface_hub.errors import HfHubHTTPError

    try:
        from httpx2 import TransportError  # the HTTP client of huggingface_hub 2.x
    except ImportError:
        TransportError = ConnectionError
    try:
        yield
    except HfHubHTTPError as error:
        raise ZooError(
            f"the Hub refused the push to {repo_id}: {first_line(error, with_type=False)}"
        ) from None
    except (TransportError, ConnectionError) as error:
        raise ZooError(
            f"the push to {repo_id} lost its connection to the Hub ({first_line(error, with_type=False)}); "
            f"run the same command again to resume it"
        ) from None
