"""rnn-zoo push: what is staged, what the Hub client receives, and that bad input sends nothing."""

from __future__ import annotations

import json
import shutil
from fnmatch import fnmatch
from pathlib import Path
from unittest.mock import create_autospec

import datasets
import httpx2
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from click.testing import CliRunner
from hub_sandbox import REPO_ID, isolate_hugging_face, make_small_zoo
from huggingface_hub import DatasetCard, HfApi, constants
from huggingface_hub.errors import HfHubHTTPError
from huggingface_hub.hf_api import CommitInfo
from huggingface_hub.utils import filter_repo_objects

from rnn_zoo.cli import main
from rnn_zoo.errors import ZooError
from rnn_zoo.files import seal_json
from rnn_zoo.publish import push as publish
from rnn_zoo.publish.push import Release, push_zoo, stage_zoo
from rnn_zoo.zoo.index import card_sha256
from rnn_zoo.zoo.manifest import Zoo, open_zoo

OID = "0123456789abcdef0123456789abcdef01234567"
JUNK = (
    "notes.txt",
    ".zoo.json.abc.tmp",
    "data/.train-00000-of-00002.parquet.x.tmp",
    ".cache/huggingface/x.lock",
)


@pytest.fixture(scope="module")
def built_zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_small_zoo(tmp_path_factory.mktemp("built")).root


@pytest.fixture
def zoo(built_zoo: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Zoo:
    """A fresh copy of the small zoo, with junk lying beside its files, in a sandboxed HF home."""
    isolate_hugging_face(monkeypatch, tmp_path / "hf", offline=False)
    root = tmp_path / "zoo"
    shutil.copytree(built_zoo, root)
    for name in JUNK:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text("not part of the zoo")
    return open_zoo(root)


@pytest.fixture
def api() -> HfApi:
    """An HfApi stand-in with HfApi's exact signatures; upload_folder records what the folder held."""
    mock = create_autospec(HfApi, instance=True)
    mock.staged = {}

    def upload_folder(**kwargs: object) -> CommitInfo:
        folder = Path(str(kwargs["folder_path"]))
        mock.staged.update(
            {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*") if p.is_file()}
        )
        url = f"https://huggingface.co/datasets/{kwargs['repo_id']}/commit/{OID}"
        return CommitInfo(url, str(kwargs["commit_message"]), "", OID)

    mock.upload_folder.side_effect = upload_folder
    return mock


def expected_files(root: Path) -> set[str]:
    """The zoo's files as the format defines them, listed from the folder itself."""
    shards = [p.relative_to(root).as_posix() for p in (root / "data").glob("*.parquet")]
    shards += [p.relative_to(root).as_posix() for p in (root / "weights").glob("*.safetensors")]
    return {"README.md", "zoo.json", "weights/index.json", *shards}


def test_stage_folder_is_exactly_the_zoo_and_loads_like_it(zoo: Zoo, tmp_path: Path) -> None:
    stage = tmp_path / "stage"
    staged = stage_zoo(zoo, stage, "me/my-zoo")
    on_disk = {p.relative_to(stage).as_posix() for p in stage.rglob("*") if p.is_file()}
    assert on_disk == set(staged) == expected_files(zoo.root)
    loaded = datasets.load_dataset(str(stage), cache_dir=str(tmp_path / "cache"))
    assert set(loaded) == {"train", "validation", "ood"}
    for split, dataset in loaded.items():
        files = sorted((zoo.root / "data").glob(f"{split}-*.parquet"))
        reference = pa.concat_tables([pq.read_table(path) for path in files])
        assert dataset.data.table.to_pydict() == reference.to_pydict()


def test_staged_card_names_the_target_repo(zoo: Zoo, tmp_path: Path) -> None:
    stage_zoo(zoo, tmp_path / "stage", "me/my-zoo")
    card = DatasetCard.load(tmp_path / "stage" / "README.md")
    assert 'load_dataset("me/my-zoo")' in card.text
    assert "rnn-zoo/synthetic" not in card.text
    assert card.data.license == "cc-by-4.0"
    assert "written by rnn-zoo 0.1.0" in " ".join(card.text.split())
    assert "MIT licence" in card.text and "bit for bit" in card.text


def test_push_sends_the_zoo_in_one_named_commit(zoo: Zoo, api: HfApi) -> None:
    commit = push_zoo(zoo.root, Release(REPO_ID, private=True, tag="v1.0"), token="hf_test", api=api)
    assert commit.oid == OID
    api.create_repo.assert_called_once_with(repo_id=REPO_ID, repo_type="dataset", private=True, exist_ok=True)
    api.create_branch.assert_not_called()
    kwargs = api.upload_folder.call_args.kwargs
    assert kwargs["repo_type"] == "dataset" and kwargs["revision"] is None
    assert set(kwargs["allow_patterns"]) == expected_files(zoo.root) == set(api.staged)
    everything = [p.relative_to(zoo.root).as_posix() for p in zoo.root.rglob("*") if p.is_file()]
    allowed = filter_repo_objects(everything, allow_patterns=kwargs["allow_patterns"])
    assert set(allowed) == expected_files(zoo.root)  # the Hub client's own filter drops the junk
    for name in expected_files(zoo.root) - {"README.md"}:
        assert api.staged[name] == (zoo.root / name).read_bytes()
    assert kwargs["commit_message"] == "Upload zoo synthetic (rnn-zoo 0.1.0, format v1, seed 0)"
    assert "train: 6 rows from 3 runs" in kwargs["commit_description"]
    stale = ["data/train-00002-of-00003.parquet", "weights/ood-00001-of-00002.safetensors"]
    assert all(any(fnmatch(path, p) for p in kwargs["delete_patterns"]) for path in stale)
    assert not any(fnmatch(path, p) for p in kwargs["delete_patterns"] for path in ("README.md", "zoo.json"))
    api.create_tag.assert_called_once_with(
        repo_id=REPO_ID, repo_type="dataset", tag="v1.0", revision=OID, tag_message=kwargs["commit_message"]
    )


def test_push_to_a_branch_creates_it_and_commits_there(zoo: Zoo, api: HfApi) -> None:
    push_zoo(zoo.root, Release(REPO_ID, revision="rebuild"), token="hf_test", api=api)
    api.create_branch.assert_called_once_with(
        repo_id=REPO_ID, repo_type="dataset", branch="rebuild", exist_ok=True
    )
    assert api.upload_folder.call_args.kwargs["revision"] == "rebuild"
    api.create_tag.assert_not_called()


def test_token_comes_from_hf_token(zoo: Zoo, api: HfApi, monkeypatch: pytest.MonkeyPatch) -> None:
    tokens = []
    monkeypatch.setattr(publish, "hub_api", lambda token: tokens.append(token) or api)
    monkeypatch.setenv("HF_TOKEN", "hf_from_environment")
    push_zoo(zoo.root, Release(REPO_ID))
    assert tokens == ["hf_from_environment"]
    assert api.upload_folder.called


def flip_a_byte(zoo: Zoo) -> None:
    path = zoo.root / zoo.shards("train")[1]["weights_file"]
    data = bytearray(path.read_bytes())
    data[-3] ^= 0xFF
    path.write_bytes(bytes(data))


def break_card(zoo: Zoo, front_matter: str) -> None:
    """Give the zoo a card with this YAML block, recorded in a resealed index as if built so."""
    card = zoo.root / "README.md"
    body = card.read_text().split("\n---\n", 1)[1]
    card.write_text(f"---\n{front_matter}\n---\n{body}")
    index_path = zoo.root / "weights" / "index.json"
    index = json.loads(index_path.read_text())
    index["files"]["README.md"] = card_sha256(card.read_bytes(), zoo.name)
    index_path.write_text(seal_json(index))


BAD_CARDS = {
    "not YAML": ("license: [cc-by-4.0\nconfigs: x", "not valid YAML"),
    "not a mapping": ("- license\n- configs", "cannot be read"),
    "unknown size": (
        "license: cc-by-4.0\nsize_categories: [huge]\nconfigs:\n- config_name: default\n  data_files: data/*.parquet",
        "size category 'huge'",
    ),
    "licence name": (
        "license: CC BY 4.0\nconfigs:\n- config_name: default\n  data_files: data/*.parquet",
        "not a Hub licence id",
    ),
    "split name": (
        "configs:\n- config_name: default\n  data_files:\n  - split: train-all\n    path: data/*.parquet",
        "configs are malformed",
    ),
    "missing files": (
        "configs:\n- config_name: default\n  data_files:\n  - split: test\n    path: data/test-*.parquet",
        "does not have",
    ),
    "no configs": ("license: cc-by-4.0", "no configs"),
}
NO_DAMAGE = None
BAD_INPUTS = {  # case: (damage to the zoo, repo id, token in the environment, expected message)
    "no token": (NO_DAMAGE, REPO_ID, None, "no Hugging Face token"),
    "repo without org": (NO_DAMAGE, "tiny-zoo", "hf_test", "not a Hub repo id"),
    "nested repo": (NO_DAMAGE, "a/b/c", "hf_test", "not a Hub repo id"),
    "double dash": (NO_DAMAGE, "some--one/zoo", "hf_test", "not a Hub repo id"),
    "flipped byte": (flip_a_byte, REPO_ID, "hf_test", "sha256 does not match"),
    "no card": (lambda zoo: (zoo.root / "README.md").unlink(), REPO_ID, "hf_test", "has no README.md"),
    **{
        f"card: {case}": (lambda zoo, yaml=yaml: break_card(zoo, yaml), REPO_ID, "hf_test", message)
        for case, (yaml, message) in BAD_CARDS.items()
    },
}


def prepare(case: str, zoo: Zoo, monkeypatch: pytest.MonkeyPatch) -> tuple[str, str]:
    """Damage the zoo and set the token as the case says; return its repo id and expected message."""
    damage, repo_id, token, message = BAD_INPUTS[case]
    if token is not None:
        monkeypatch.setenv("HF_TOKEN", token)
    if damage is not None:
        damage(zoo)
    return repo_id, message


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_sends_nothing(case: str, zoo: Zoo, api: HfApi, monkeypatch: pytest.MonkeyPatch) -> None:
    repo_id, message = prepare(case, zoo, monkeypatch)
    with pytest.raises(ZooError, match=message) as error:
        push_zoo(zoo.root, Release(repo_id), api=api)
    assert "\n" not in str(error.value)
    assert api.method_calls == []


@pytest.mark.parametrize("case", ["no token", "nested repo", "flipped byte", "card: unknown size"])
def test_cli_bad_input_is_one_line(case: str, zoo: Zoo, api: HfApi, monkeypatch: pytest.MonkeyPatch) -> None:
    repo_id, message = prepare(case, zoo, monkeypatch)
    monkeypatch.setattr(publish, "hub_api", lambda token: api)
    result = CliRunner().invoke(main, ["push", str(zoo.root), "--repo-id", repo_id])
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: ") and message.split("'")[0] in lines[0]
    assert api.method_calls == []


def test_cli_push(zoo: Zoo, api: HfApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(publish, "hub_api", lambda token: api if token == "hf_flag" else None)
    args = ["push", str(zoo.root), "--repo-id", REPO_ID, "--token", "hf_flag", "--tag", "v1", "--private"]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"to {REPO_ID}: https://huggingface.co/datasets/{REPO_ID}/commit/{OID}" in result.output
    assert api.create_repo.call_args.kwargs["private"] is True
    assert api.create_tag.call_args.kwargs["tag"] == "v1"


def test_offline_push_sends_nothing(zoo: Zoo, api: HfApi, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(ZooError, match=f"cannot push to {REPO_ID}: HF_HUB_OFFLINE is set"):
        push_zoo(zoo.root, Release(REPO_ID), token="hf_test", api=api)
    assert api.method_calls == []


def test_lost_connection_says_how_to_resume(zoo: Zoo, api: HfApi) -> None:
    api.upload_folder.side_effect = httpx2.ConnectError("Name or service not known")
    with pytest.raises(ZooError, match="lost its connection.*run the same command again"):
        push_zoo(zoo.root, Release(REPO_ID), token="hf_test", api=api)


def test_hub_refusal_is_one_line(zoo: Zoo, api: HfApi) -> None:
    response = httpx2.Response(403, request=httpx2.Request("POST", "https://huggingface.co/api/repos/create"))
    api.create_repo.side_effect = HfHubHTTPError(
        "403 Forbidden: no write access\nmore detail", response=response
    )
    with pytest.raises(ZooError, match=f"refused the push to {REPO_ID}: 403 Forbidden") as error:
        push_zoo(zoo.root, Release(REPO_ID), token="hf_test", api=api)
    assert "\n" not in str(error.value)
    api.upload_folder.assert_not_called()


def test_a_zoo_of_several_configs_is_pushed_whole_and_loads_by_config(
    configs_zoo: Path, api: HfApi, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    isolate_hugging_face(monkeypatch, tmp_path / "hf", offline=False)
    commit = push_zoo(configs_zoo, Release(REPO_ID), token="hf_test", api=api)
    assert commit.oid == OID
    kwargs = api.upload_folder.call_args.kwargs
    shards = {
        p.relative_to(configs_zoo).as_posix() for p in configs_zoo.glob("[dw]*/lstm-*/*") if p.is_file()
    }
    assert len(shards) == 16 and set(api.staged) == {"README.md", "zoo.json", "weights/index.json", *shards}
    assert "format v2" in kwargs["commit_message"]
    assert "lstm-2x8 train: 6 rows from 3 runs" in kwargs["commit_description"]
    stage = tmp_path / "stage"
    for name, data in api.staged.items():
        (stage / name).parent.mkdir(parents=True, exist_ok=True)
        (stage / name).write_bytes(data)
    loaded = datasets.load_dataset(str(stage), "lstm-1x16", split="ood", cache_dir=str(tmp_path / "cache"))
    assert loaded.num_rows == 2 and f'"{REPO_ID}", "lstm-1x16"' in api.staged["README.md"].decode()
