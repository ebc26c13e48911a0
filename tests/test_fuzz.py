"""Random damage to every file of a zoo: verify names the file, loaders refuse, nothing else escapes.

One small zoo is written once; each case flips one to three random bytes of one of its files
(seeded), runs the checks, and puts the file back. A loader may also return, but then only
exactly what the undamaged zoo holds: a silent corruption fails the test, and so does any
exception other than ZooError.
"""

from __future__ import annotations

import random
from pathlib import Path

import pytest
import torch
from click.testing import CliRunner
from hub_sandbox import make_small_zoo

import rnn_zoo
from rnn_zoo.cli import main
from rnn_zoo.errors import ZooError
from rnn_zoo.zoo.load import ZooWeights

CASES = 220
SPLITS = ("train", "validation", "ood")


@pytest.fixture(scope="module")
def zoo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_small_zoo(tmp_path_factory.mktemp("fuzz") / "zoo").root


def zoo_files(root: Path) -> list[str]:
    """Every file a zoo publishes: card, manifest, index and shards (not the build's own records)."""
    names = [path.relative_to(root).as_posix() for path in root.rglob("*") if path.is_file()]
    return sorted(name for name in names if not name.startswith("."))


def damage(path: Path, rng: random.Random) -> None:
    data = bytearray(path.read_bytes())
    for offset in rng.sample(range(len(data)), rng.randint(1, 3)):
        data[offset] ^= rng.randint(1, 255)
    path.write_bytes(bytes(data))


def assert_same(loaded: ZooWeights, original: ZooWeights) -> None:
    assert loaded.metadata.equals(original.metadata)
    for name, tensor in original.params.items():
        assert torch.equal(loaded.params[name].view(torch.int32), tensor.view(torch.int32)), name


def assert_verify_names(root: Path, name: str) -> None:
    result = CliRunner().invoke(main, ["verify", str(root)])
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit), (name, result.exception)
    assert len(lines) == 1 and name in lines[0], (name, result.output)


def assert_loaders_refuse_or_agree(root: Path, name: str, originals: dict[tuple, ZooWeights]) -> None:
    split = next((split for split in SPLITS if f"/{split}-" in name), None)
    config = next((config for config, _ in originals if config and f"/{config}/" in name), None)
    for each_config, each in originals:
        if (split and each != split) or (config and each_config != config):
            continue
        try:
            assert_same(rnn_zoo.load_weights(root, each, config=each_config), originals[each_config, each])
        except ZooError:
            pass
    if name.endswith(".safetensors"):
        return  # load_zoo reads the parquet shards only
    with pytest.raises(ZooError):  # its shard or the zoo's own records are damaged: no datasets work
        rnn_zoo.load_zoo(root, split=split, config=config or next(iter(originals))[0])


def assert_damage_never_goes_unnoticed(root: Path, configs: tuple, cases: int, seed: int) -> None:
    """Damage ``cases`` files of the zoo in turn; verify and the loaders of every config must notice."""
    rng = random.Random(seed)
    originals = {
        (config, split): rnn_zoo.load_weights(root, split, config=config)
        for config in configs
        for split in SPLITS
    }
    names = zoo_files(root)
    for case in range(cases):
        name = names[case % len(names)]
        path = root / name
        intact = path.read_bytes()
        damage(path, rng)
        try:
            assert_verify_names(root, name)
            assert_loaders_refuse_or_agree(root, name, originals)
        finally:
            path.write_bytes(intact)


def test_random_damage_to_any_file_never_goes_unnoticed(zoo: Path) -> None:
    assert len(zoo_files(zoo)) == 11
    assert_damage_never_goes_unnoticed(zoo, (None,), CASES, seed=14)


def test_random_damage_to_any_file_of_a_zoo_of_several_configs_never_goes_unnoticed(
    configs_copy: Path,
) -> None:
    assert len(zoo_files(configs_copy)) == 19
    assert_damage_never_goes_unnoticed(configs_copy, ("lstm-1x16", "lstm-2x8"), 2 * 19, seed=15)
