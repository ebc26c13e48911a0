"""Loading a zoo by Hub id from the Hugging Face cache, offline: what works and what says why not."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterable
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from hub_sandbox import REPO_ID, RUNS, isolate_hugging_face, make_small_zoo
from huggingface_hub import scan_cache_dir, try_to_load_from_cache

from rnn_zoo import load_weights, load_zoo
from rnn_zoo.cli import main
from rnn_zoo.errors import ZooError
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.zoo.card import default_repo_id
from rnn_zoo.zoo.manifest import Zoo
from rnn_zoo.zoo.synthetic import synthetic_schema, write_synthetic_zoo

MAIN = "a" * 40
TAGGED = "b" * 40
LFS_SUFFIXES = (".parquet", ".safetensors")


@pytest.fixture(scope="module")
def zoos(tmp_path_factory: pytest.TempPathFactory) -> tuple[Zoo, Zoo]:
    """Two builds of the same zoo with different seeds: main, and the one tagged v1."""
    return make_small_zoo(tmp_path_factory.mktemp("main")), make_small_zoo(
        tmp_path_factory.mktemp("v1"), seed=1
    )


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty hub cache, offline, with the working directory away from any zoo."""
    monkeypatch.chdir(tmp_path)
    return isolate_hugging_face(monkeypatch, tmp_path / "hf", offline=True)


def cache_repo(
    cache: Path, zoo: Zoo, commit: str, ref: str, files: Iterable[str] | None = None, repo: str = REPO_ID
) -> Path:
    """Lay ``files`` of the zoo (default: all) into the cache as a download of ``commit`` at ``ref`` would.

    datasets--ORG--NAME/blobs/<etag> holds the bytes (sha256 for LFS files, git's blob sha1
    otherwise), snapshots/<commit>/<path> links to the blob, refs/<ref> holds the commit.
    """
    storage = cache / ("datasets--" + repo.replace("/", "--"))
    names = files or [p.relative_to(zoo.root).as_posix() for p in zoo.root.rglob("*") if p.is_file()]
    for name in names:
        data = (zoo.root / name).read_bytes()
        if name.endswith(LFS_SUFFIXES):
            etag = hashlib.sha256(data).hexdigest()
        else:
            etag = hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()
        blob = storage / "blobs" / etag
        blob.parent.mkdir(parents=True, exist_ok=True)
        blob.write_bytes(data)
        link = storage / "snapshots" / commit / name
        link.parent.mkdir(parents=True, exist_ok=True)
        if not link.is_symlink():  # already cached
            link.symlink_to(os.path.relpath(blob, link.parent))
    (storage / "refs").mkdir(exist_ok=True)
    (storage / "refs" / ref).write_text(commit)
    return storage / "snapshots" / commit


def split_files(zoo: Zoo, split: str) -> list[str]:
    return [shard[kind] for shard in zoo.shards(split) for kind in ("data_file", "weights_file")]


def test_cache_layout_is_the_one_huggingface_hub_reads(cache: Path, zoos: tuple[Zoo, Zoo]) -> None:
    snapshot = cache_repo(cache, zoos[0], MAIN, "main")
    (repo,) = scan_cache_dir(cache).repos
    assert (repo.repo_id, repo.repo_type) == (REPO_ID, "dataset")
    (revision,) = repo.revisions
    assert revision.commit_hash == MAIN and revision.refs == {"main"}
    assert revision.nb_files == sum(1 for p in zoos[0].root.rglob("*") if p.is_file())
    found = try_to_load_from_cache(REPO_ID, "weights/index.json", repo_type="dataset")
    assert found == str(snapshot / "weights" / "index.json")


@pytest.mark.parametrize("load", [lambda: load_zoo(REPO_ID), lambda: load_weights(REPO_ID, "train")])
def test_offline_with_empty_cache_says_so(cache: Path, load) -> None:
    with pytest.raises(
        ZooError, match=f"zoo {REPO_ID} is not in the Hugging Face cache.*HF_HUB_OFFLINE"
    ) as error:
        load()
    assert "\n" not in str(error.value)


def test_cli_offline_with_empty_cache_is_one_line(cache: Path) -> None:
    result = CliRunner().invoke(main, ["info", REPO_ID])
    assert result.exit_code == 1
    assert result.output.count("\n") == 1 and "not in the Hugging Face cache" in result.output


def test_cli_info_reads_a_cached_zoo(cache: Path, zoos: tuple[Zoo, Zoo]) -> None:
    cache_repo(cache, zoos[0], MAIN, "main")
    result = CliRunner().invoke(main, ["info", REPO_ID])
    assert result.exit_code == 0, result.output
    assert "Synthetic LSTM zoo" in result.output and "validation" in result.output


def test_load_zoo_from_cache_gives_the_local_rows(cache: Path, zoos: tuple[Zoo, Zoo]) -> None:
    cache_repo(cache, zoos[0], MAIN, "main")
    from_hub, local = load_zoo(REPO_ID), load_zoo(zoos[0].root)
    assert set(from_hub) == set(local) == {"train", "validation", "ood"}
    for split in local:
        assert from_hub[split].data.table.to_pydict() == local[split].data.table.to_pydict()
    row = load_zoo(REPO_ID, split="validation")[1]
    assert torch.equal(row["lstm.weight_hh_l0"], local["validation"][1]["lstm.weight_hh_l0"])
    assert row["lstm.weight_hh_l0"].shape == (16, 4)


def test_load_weights_from_cache_equals_local(cache: Path, zoos: tuple[Zoo, Zoo]) -> None:
    cache_repo(cache, zoos[0], MAIN, "main")
    from_hub, local = load_weights(REPO_ID, "train"), load_weights(zoos[0].root, "train")
    assert from_hub.spec == local.spec and len(from_hub) == len(local) == 6
    assert from_hub.params.keys() == local.params.keys()
    assert all(torch.equal(from_hub.params[name], local.params[name]) for name in local.params)
    assert from_hub.metadata.equals(local.metadata)


def test_one_split_needs_only_its_own_shards(cache: Path, zoos: tuple[Zoo, Zoo]) -> None:
    zoo = zoos[0]
    cache_repo(
        cache, zoo, MAIN, "main", ["README.md", "zoo.json", "weights/index.json", *split_files(zoo, "ood")]
    )
    assert len(load_weights(REPO_ID, "ood")) == 2
    assert load_zoo(REPO_ID, split="ood")["model_id"] == load_zoo(zoo.root, split="ood")["model_id"]
    with pytest.raises(ZooError, match=f"zoo {REPO_ID} is not in the Hugging Face cache"):
        load_weights(REPO_ID, "train")


def test_revision_picks_the_tagged_build(cache: Path, zoos: tuple[Zoo, Zoo]) -> None:
    cache_repo(cache, zoos[0], MAIN, "main")
    cache_repo(cache, zoos[1], TAGGED, "v1")
    name = "lstm.weight_ih_l0"
    tagged = load_weights(zoos[1].root, "train").params[name]
    assert torch.equal(load_weights(REPO_ID, "train", revision="v1").params[name], tagged)
    assert torch.equal(load_weights(REPO_ID, "train", revision=TAGGED).params[name], tagged)
    assert not torch.equal(load_weights(REPO_ID, "train").params[name], tagged)
    with pytest.raises(ZooError, match="at revision 'v2' is not in the Hugging Face cache"):
        load_zoo(REPO_ID, revision="v2")


def test_local_directory_wins_over_the_hub(cache: Path, zoos: tuple[Zoo, Zoo]) -> None:
    local = Path.cwd() / REPO_ID
    make_small_zoo(local, seed=1)
    assert load_weights(REPO_ID, "ood").metadata.equals(load_weights(local, "ood").metadata)


@pytest.mark.parametrize("name", ["no-such-zoo", "a/b/c", "some--one/zoo"])
def test_unknown_zoo_name(cache: Path, name: str) -> None:
    with pytest.raises(ZooError, match=f"no zoo at '{name}'.*not a Hub id ORG/NAME"):
        load_zoo(name)


def test_load_weights_downloads_only_its_split(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, zoos: tuple[Zoo, Zoo]
) -> None:
    """Online, against a stand-in for the Hub that serves the zoo and records each request."""
    import huggingface_hub
    from huggingface_hub.utils import filter_repo_objects

    cache = isolate_hugging_face(monkeypatch, tmp_path / "hf", offline=False)
    zoo, requests = zoos[0], []
    everything = [p.relative_to(zoo.root).as_posix() for p in zoo.root.rglob("*") if p.is_file()]

    def serve(repo_id: str, *, repo_type: str, revision: str | None, allow_patterns: list[str]) -> str:
        assert (repo_id, repo_type) == (REPO_ID, "dataset")
        requests.append((revision, sorted(allow_patterns)))
        wanted = list(filter_repo_objects(everything, allow_patterns=allow_patterns))
        return str(cache_repo(cache, zoo, MAIN, "main", wanted))

    monkeypatch.setattr(huggingface_hub, "snapshot_download", serve)
    weights = load_weights(REPO_ID, "train")
    assert torch.equal(weights.params["head.weight"], load_weights(zoo.root, "train").params["head.weight"])
    assert requests == [
        (None, ["README.md", "weights/index.json", "zoo.json"]),
        (MAIN, sorted(split_files(zoo, "train"))),  # pinned to the commit the index came from
    ]
    load_weights(REPO_ID, "train")
    assert len(requests) == 3  # the manifest is asked for again (main may have moved), the shards not


def pushed_copy(zoo: Zoo, root: Path, change_index: Callable[[dict], None] | None = None) -> Zoo:
    """A copy of ``zoo`` as a push leaves it on the Hub (card pointed at REPO_ID), index optionally changed."""
    from rnn_zoo.files import seal_json
    from rnn_zoo.publish.push import card_for_repo

    shutil.copytree(zoo.root, root)
    (root / "README.md").write_text(card_for_repo(zoo, REPO_ID), encoding="utf-8")
    if change_index is not None:
        index = json.loads((root / "weights" / "index.json").read_text())
        change_index(index)
        (root / "weights" / "index.json").write_text(seal_json(index))
    return Zoo(root, zoo.manifest, zoo.index)


def test_a_pushed_card_naming_its_repo_opens_and_verifies(
    cache: Path, zoos: tuple[Zoo, Zoo], tmp_path: Path
) -> None:
    cache_repo(cache, pushed_copy(zoos[0], tmp_path / "pushed"), MAIN, "main")
    assert len(load_weights(REPO_ID, "ood")) == 2
    result = CliRunner().invoke(main, ["verify", REPO_ID])
    assert result.exit_code == 0 and "verified" in result.output, result.output


def test_a_hub_index_naming_files_outside_the_snapshot_is_refused(
    cache: Path, zoos: tuple[Zoo, Zoo], tmp_path: Path
) -> None:
    def escape(index: dict) -> None:
        index["splits"]["ood"]["shards"][0]["weights_file"] = "../../../../outside.safetensors"

    cache_repo(cache, pushed_copy(zoos[0], tmp_path / "pushed", escape), MAIN, "main")
    for load in (lambda: load_weights(REPO_ID, "ood"), lambda: load_zoo(REPO_ID, split="ood")):
        with pytest.raises(ZooError, match="outside the zoo"):
            load()


def test_one_config_of_a_zoo_of_several_needs_only_its_own_shards(cache: Path, configs_zoo: Path) -> None:
    from rnn_zoo.zoo.load import locate_zoo

    zoo = locate_zoo(configs_zoo).config("lstm-2x8")
    cache_repo(
        cache, zoo, MAIN, "main", ["README.md", "zoo.json", "weights/index.json", *split_files(zoo, "ood")]
    )
    from_hub, local = (load_weights(where, "ood", config="lstm-2x8") for where in (REPO_ID, configs_zoo))
    assert from_hub.spec == local.spec and from_hub.metadata.equals(local.metadata)
    assert all(torch.equal(from_hub.params[name], local.params[name]) for name in local.params)
    assert (
        load_zoo(REPO_ID, split="ood", config="lstm-2x8")["model_id"]
        == local.metadata["model_id"].to_pylist()
    )
    with pytest.raises(ZooError, match=f"zoo {REPO_ID} is not in the Hugging Face cache"):
        load_weights(REPO_ID, "ood", config="lstm-1x16")


@pytest.mark.parametrize("cell", ["gru", "rnn"])
def test_the_card_example_of_a_non_lstm_zoo_runs_as_written(cache: Path, tmp_path: Path, cell: str) -> None:
    spec = MemberSpec(6, 4, 1, 6, cell=cell)
    zoo = write_synthetic_zoo(
        tmp_path / "zoo", RUNS, rows_per_shard=4, schema=synthetic_schema(spec, probes=2, length=5)
    )
    card = (zoo.root / "README.md").read_text()
    assert f"- {cell}\n" in card and "- lstm\n" not in card  # tagged with its own cell
    example = card.split("```python\n", 1)[1].split("```", 1)[0]
    assert f'"{cell}.weight_hh_l0"' in example and "lstm" not in example
    cache_repo(cache, zoo, MAIN, "main", repo=default_repo_id(zoo.name))
    scope: dict = {}
    # its rnn_zoo part, as written (datasets' load_dataset reads its own cache, not the hub's)
    exec("import rnn_zoo" + example.split("import rnn_zoo", 1)[1], scope)  # noqa: S102
    reference = getattr(torch.nn, cell.upper())(
        6, 4, num_layers=1, batch_first=True
    )  # the row fits nn.GRU/nn.RNN
    row = {k.split(".", 1)[1]: v[0] for k, v in scope["weights"].params.items() if k.startswith(f"{cell}.")}
    reference.load_state_dict(row)
    assert scope["weights"].params[f"{cell}.weight_hh_l0"].shape[1:] == ({"gru": 12, "rnn": 4}[cell], 4)
