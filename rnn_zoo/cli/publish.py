"""``rnn-zoo push``: a verified zoo published as a Hugging Face dataset repo."""

from __future__ import annotations

from pathlib import Path

import click

from rnn_zoo.cli.main import main


@main.command()
@click.argument("zoo", type=click.Path(path_type=Path))
@click.option("--repo-id", required=True, help="The Hub dataset repo, as ORG/NAME (created if missing).")
@click.option(
    "--private", is_flag=True, help="Create the repo as private (an existing repo keeps its visibility)."
)
@click.option(
    "--revision", default=None, help="Branch to commit to (created from main if missing); default main."
)
@click.option("--tag", default=None, help="Tag to put on the uploaded commit, e.g. v1.0.")
@click.option(
    "--token", default=None, help="Hub token with write access; default HF_TOKEN or the saved login."
)
def push(
    zoo: Path, repo_id: str, private: bool, revision: str | None, tag: str | None, token: str | None
) -> None:
    """Publish ZOO as the Hugging Face dataset repo REPO_ID, after verifying it and its card.

    Uploads only the zoo's own files, in one resumable upload (rerun the same command to resume),
    with a commit message that names the build.
    """
    from rnn_zoo.publish.push import Release, push_zoo

    release = Release(repo_id=repo_id, private=private, revision=revision, tag=tag)
    commit = push_zoo(zoo, release, token=token)
    branch = f" (branch {revision})" if revision else ""
    click.echo(f"pushed {zoo} to {repo_id}{branch}: {commit.commit_url}")
