import hashlib
import json
from pathlib import Path

import pytest
import torch

from rnn_zoo.bench.config import bench_config
from rnn_zoo.bench.run import run_bench
from rnn_zoo.errors import ZooError
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.zoo.load import load_zoo
from rnn_zoo.zoo.synthetic import synthetic_schema, write_synthetic_zoo

ENCODERS = ["flat", "probing"]


def accept_with_eos(samples, tasks):
    """A stand-in acceptance rule: the sequence contains EOS (id 5)."""
    assert samples.shape[0] == len(tasks) and samples.shape[2] == 10
    return (samples == 5).any(-1)


def make_config(**overrides):
    emulation = dict(steps=4, validate_every=2, batch_members=8, emulator_hidden=16)
    downstream = dict(steps=5, supervised_steps=3, batch=16, hidden=8)
    return bench_config("tiny", seeds=2, emulation=emulation, downstream=downstream, **overrides)


@pytest.fixture(scope="module")
def bench_out(token_zoo, tmp_path_factory, encoder_builder):
    out = tmp_path_factory.mktemp("bench")
    events = []
    results = run_bench(
        token_zoo,
        ENCODERS,
        make_config(),
        out,
        encoder_builder=encoder_builder,
        encoder_options={"probing": {"width": 3}},
        accept=accept_with_eos,
        event=lambda kind, info: events.append((kind, dict(info))),
    )
    return out, results, events


def test_results_hold_every_encoder_property_split_and_seed(bench_out, token_zoo):
    out, returned, _ = bench_out
    results = json.loads((out / "results.json").read_text())
    assert results["properties"] == ["task", "performance", "training-step"]
    for encoder in ENCODERS:
        assert set(results["runs"][encoder]) == {"0", "1"}
        for record in results["runs"][encoder].values():
            assert record["emulation"]["best_validation_loss"] > 0
            for prop in results["properties"]:
                for mode in ("pre-trained", "supervised"):
                    assert set(record["downstream"][prop][mode]) == {"validation", "ood"}
        for prop in results["properties"]:
            for mode in ("pre-trained", "supervised"):
                for split in ("validation", "ood"):
                    assert results["summary"][encoder]["downstream"][prop][mode][split]
    index = (token_zoo.root / "weights" / "index.json").read_bytes()
    assert (
        results["zoo"]["fingerprint"] == hashlib.sha256(index).hexdigest() == returned["zoo"]["fingerprint"]
    )
    assert results["versions"]["torch"].startswith(torch.__version__.split("+")[0])


def test_report_has_the_paper_numbers_beside_ours(bench_out):
    out, results, _ = bench_out
    report = (out / "report.md").read_text()
    assert "| flat | " in report and "| 0.045 |" in report  # paper, formal languages
    assert "| probing | " in report and "| 0.015 |" in report
    assert "**task** — exact_match" in report
    for plot in results["plots"]:
        assert (out / plot).read_bytes()[:4] == b"\x89PNG"


def test_checkpoints_and_options_reach_the_encoders(bench_out):
    out, _, events = bench_out
    assert (out / "checkpoints/probing/seed1/encoder.safetensors").is_file()
    config = json.loads((out / "checkpoints/probing/seed1/config.json").read_text())
    assert config["encoder"] == {"name": "probing", "seed": 1}
    assert config["emulator"]["embedding_size"] == 3  # the option given for probing only
    emulation = [info for kind, info in events if kind == "emulation" and "loss" in info]
    assert [info["step"] for info in emulation if info["encoder"] in ENCODERS] == [1, 2, 3, 4] * 4
    assert [info["step"] for info in emulation if info["encoder"] == "oracle"] == [1, 2, 3, 4] * 2


def test_seeds_repeat_exactly(token_zoo, encoder_builder):
    config = make_config(properties=["performance"])
    config = type(config)(**{**config.__dict__, "seeds": 1, "supervised": False})
    first, second = (
        run_bench(token_zoo, ["flat"], config, encoder_builder=encoder_builder) for _ in range(2)
    )
    for runs in (first["runs"], second["runs"]):
        for seeds in runs.values():
            del seeds["0"]["emulation"]["seconds"]
    assert first["runs"] == second["runs"]


def test_each_job_records_the_cpu_threads_it_ran_on(token_zoo, encoder_builder):
    config = make_config(properties=["performance"])
    config = type(config)(**{**config.__dict__, "seeds": 1, "supervised": False})
    before = torch.get_num_threads()
    try:
        torch.set_num_threads(2)
        results = run_bench(token_zoo, ["flat"], config, encoder_builder=encoder_builder)
    finally:
        torch.set_num_threads(before)
    assert results["runs"]["flat"]["0"]["emulation"]["threads"] == 2


def test_a_property_the_zoo_lacks_is_refused(token_zoo, encoder_builder):
    with pytest.raises(ZooError, match="no property 'rotation'"):
        run_bench(token_zoo, ["flat"], make_config(properties=["rotation"]), encoder_builder=encoder_builder)


def test_a_zoo_without_probes_is_refused(probeless_zoo, encoder_builder):
    with pytest.raises(ZooError, match="no probe data"):
        run_bench(probeless_zoo, ["flat"], make_config(), encoder_builder=encoder_builder)


def test_a_zoo_missing_a_split_is_refused(tmp_path, encoder_builder):
    schema = synthetic_schema(MemberSpec(6, 4, 1, 6), probes=2, length=4)
    zoo = write_synthetic_zoo(tmp_path, {"train": 2, "validation": 1}, schema=schema)
    with pytest.raises(ZooError, match="too few members for the benchmark: no ood split"):
        run_bench(zoo, ["flat"], make_config(), encoder_builder=encoder_builder)


def test_clones_are_scored_against_their_members(bench_out):
    out, results, _ = bench_out
    for encoder in ENCODERS:
        cloned = results["runs"][encoder]["0"]["cloned"]
        assert len(cloned["original"]) == len(cloned["cloned"]) == 12  # every validation member (< 16)
        assert all(0 <= value <= 1 for value in cloned["cloned"]) and -1 <= cloned["pearson_r"] <= 1
        assert "cloned_pearson_r" in results["summary"][encoder]
    assert "plots/cloned-performance.png" in results["plots"]
    assert "## Cloned performance" in (out / "report.md").read_text()


def test_a_real_valued_zoo_gets_its_properties_and_clone_agreement(real_zoo, encoder_builder, tmp_path):
    results = run_bench(real_zoo, ["flat"], make_config(), tmp_path, encoder_builder=encoder_builder)
    assert results["properties"] == ["rotation", "training-step"]
    assert results["zoo"]["family"] == "mnist"
    assert 0 <= results["runs"]["flat"]["0"]["cloned"]["agreement"] <= 1
    assert "| 0.024 |" in (tmp_path / "report.md").read_text()  # the paper's MNIST number for flat


def test_results_record_the_validation_subset_every_job_was_scored_on(bench_out, token_zoo):
    out, _, _ = bench_out
    results = json.loads((out / "results.json").read_text())
    recorded = results["emulation_validation"]
    validation, stored = load_zoo(token_zoo, "validation")[:]["sequences"].shape[:2]
    k = min(results["config"]["emulation"]["validation_sequences"], stored)
    assert recorded["split"] == "validation" and len(recorded["sequences"]) == min(validation, 256)
    assert 1 < k <= stored
    assert all(len(set(row)) == len(row) == k for row in recorded["sequences"])  # k distinct each
    assert len({tuple(row) for row in recorded["sequences"]}) > 1  # not the same ones for all


def test_report_links_the_differences_from_the_authors_code(bench_out):
    out, _, _ = bench_out
    report = (out / "report.md").read_text()
    assert "[docs/fidelity.md](docs/fidelity.md)" in report
    doc = (Path(__file__).resolve().parent.parent / "docs" / "fidelity.md").read_text()
    for row in ("tie-break", "shuffle", "without replacement", "ordered", "s - 1", "agreement"):
        assert row in doc
