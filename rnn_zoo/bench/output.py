"""The benchmark's output directory: its claim, one record per finished job, shares and parts.

A job is one (encoder, seed). Layout of OUT::

    bench.json                             what OUT benchmarks: zoo and its config (member
                                           architecture), settings, encoders, options, transfer
    runs/<encoder>/seed<k>.safetensors     a finished job's embeddings of every member (e), and
                                           ``transfer/<config>`` those of another config's members
    runs/<encoder>/seed<k>.json            its record, written last: the job's "finished" mark
    checkpoints/<encoder>/seed<k>/         its best encoder and emulator (safetensors + JSON)
    results.json, report.md, plots/        once every job is finished

Every file is written atomically, so a stopped bench keeps each finished job, and the same
command run again skips them. No pickle: tensors are safetensors, the rest JSON.
"""

from __future__ import annotations

import json
import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from rnn_zoo.errors import ZooError
from rnn_zoo.files import atomic_path, write_json
from rnn_zoo.zoo.schema import DEFAULT_CONFIG

CLAIM = "bench.json"
FORMAT = 1
IDENTITY = (
    "format",
    "zoo.name",
    "zoo.fingerprint",
    "zoo.config",
    "config",
    "encoders",
    "encoder_options",
    "transfer_to",
)


@dataclass(frozen=True)
class Job:
    """One encoder pre-trained and evaluated with one seed."""

    encoder: str
    seed: int

    def __str__(self) -> str:
        return f"{self.encoder} seed {self.seed}"


def file_stem(encoder: str) -> str:
    """The encoder's name as a file name: an import path's ``:`` and other signs become ``-``."""
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", encoder)


def plan_jobs(encoders: Sequence[str], seeds: int) -> list[Job]:
    """Every job of a bench, encoder by encoder, seeds in order."""
    stems: dict[str, str] = {}
    for encoder in encoders:
        other = stems.setdefault(file_stem(encoder), encoder)
        if other != encoder:
            raise ZooError(f"encoders {other!r} and {encoder!r} would share files; bench them apart")
    return [Job(encoder, seed) for encoder in dict.fromkeys(encoders) for seed in range(seeds)]


def share(jobs: Sequence[Job], part: tuple[int, int] | None) -> list[Job]:
    """Part i of n: every n-th job from the i-th (all jobs for None)."""
    if part is None:
        return list(jobs)
    index, count = part
    if not 0 <= index < count <= len(jobs):
        raise ZooError(
            f"--shard {index}/{count} does not fit the bench's {len(jobs)} jobs (encoders x seeds); "
            f"give i/n with 0 <= i < n <= {len(jobs)}"
        )
    return list(jobs[index::count])


def record_path(out: Path, job: Job) -> Path:
    return Path(out, "runs", file_stem(job.encoder), f"seed{job.seed}.json")


def embeddings_path(out: Path, job: Job) -> Path:
    return Path(out, "runs", file_stem(job.encoder), f"seed{job.seed}.safetensors")


def checkpoint_dir(out: Path, job: Job) -> Path:
    return Path(out, "checkpoints", file_stem(job.encoder), f"seed{job.seed}")


def is_finished(out: Path, job: Job) -> bool:
    """The job's record is written (it is written last)."""
    return record_path(out, job).is_file()


def save_job(
    out: Path,
    job: Job,
    record: Mapping[str, Any],
    embeddings: Tensor,
    transferred: Mapping[str, Tensor] | None = None,
) -> None:
    """Write the job's embeddings (and those of the configs it transferred to), then its record
    (each atomically); the record marks it finished."""
    from safetensors.torch import save_file

    tensors = {"embeddings": embeddings, **{f"transfer/{k}": v for k, v in (transferred or {}).items()}}
    with atomic_path(embeddings_path(out, job)) as temporary:
        save_file({key: value.detach().cpu().contiguous() for key, value in tensors.items()}, str(temporary))
    write_json(record_path(out, job), {"encoder": job.encoder, "seed": job.seed, **record})


def load_record(out: Path, job: Job) -> dict[str, Any]:
    """A finished job's record, as run_seed returned it."""
    record = json.loads(record_path(out, job).read_text(encoding="utf-8"))
    return {key: value for key, value in record.items() if key not in ("encoder", "seed")}


def load_embeddings(out: Path, job: Job, transfer: str | None = None) -> Tensor:
    """A finished job's embeddings (n, e) of every member, or of config ``transfer``'s members."""
    from safetensors.torch import load_file

    return load_file(str(embeddings_path(out, job)))[
        "embeddings" if transfer is None else f"transfer/{transfer}"
    ]


def make_claim(
    zoo: Mapping[str, str],
    config: Mapping[str, Any],
    encoders: Sequence[str],
    options: Any,
    transfer_to: Sequence[str] = (),
) -> dict:
    """bench.json's contents, as JSON would give them back (lists, not tuples)."""
    claim = {"format": FORMAT, "zoo": dict(zoo), "config": config, "encoders": list(encoders)}
    claim["encoder_options"] = {name: dict(options.get(name, {})) for name in encoders}
    claim["transfer_to"] = list(transfer_to)
    return json.loads(json.dumps(claim))


def read_claim(directory: Path) -> dict[str, Any]:
    """A bench directory's bench.json; a directory without one is not a bench."""
    path = Path(directory, CLAIM)
    if not path.is_file():
        raise ZooError(
            f"{directory} is not a bench output: it has no {CLAIM}; give the --out of `rnn-zoo bench`"
        )
    claim = json.loads(path.read_text(encoding="utf-8"))
    # A bench written before zoos of several configs is of the one config, with no transfer.
    claim.setdefault("zoo", {}).setdefault("config", DEFAULT_CONFIG)
    claim.setdefault("transfer_to", [])
    return claim


def difference(ours: Mapping[str, Any], theirs: Mapping[str, Any], labels: tuple[str, str]) -> str | None:
    """The first identity field where two claims differ, ``field: ours (label), theirs (label)``."""
    for key in IDENTITY:
        mine, other = _field(ours, key), _field(theirs, key)
        if mine != other:
            while isinstance(mine, dict) and isinstance(other, dict):
                inner = next(k for k in sorted({*mine, *other}) if mine.get(k) != other.get(k))
                key, mine, other = f"{key}.{inner}", mine.get(inner), other.get(inner)
            return f"{key}: {_shown(mine)} {labels[0]}, {_shown(other)} {labels[1]}"
    return None


def _shown(value: Any) -> str:
    text = json.dumps(value)
    return text if len(text) <= 40 else text[:37] + "..."


def _field(claim: Mapping[str, Any], dotted: str) -> Any:
    for part in dotted.split("."):
        claim = claim.get(part) if isinstance(claim, Mapping) else None
    return claim


def claim_out(out: Path, claim: Mapping[str, Any]) -> None:
    """Take ``out`` for this bench, or check that it already holds the same bench.

    A directory holding another bench, or files that are not a bench, is refused untouched.
    """
    out = Path(out)
    if (out / CLAIM).is_file():
        found = difference(claim, read_claim(out), ("asked now", f"in {out}"))
        if found:
            raise ZooError(
                f"{out} holds another bench ({found}); rerun that bench's command or give another --out"
            )
        return
    if out.exists() and any(not _temporary(path) for path in out.iterdir()):
        raise ZooError(f"{out} is not empty and holds no bench ({CLAIM}); give an empty or new --out")
    write_json(out / CLAIM, claim)


def _temporary(path: Path) -> bool:
    return path.name.startswith(".") and path.name.endswith(".tmp")


def gather_parts(parts: Sequence[Path]) -> tuple[dict[str, Any], dict[Job, Path]]:
    """The parts' common claim and, for every job of the bench, a part that finished it."""
    claim = read_claim(parts[0])
    for part in parts[1:]:
        found = difference(claim, read_claim(part), (f"in {parts[0]}", f"in {part}"))
        if found:
            raise ZooError(f"{parts[0]} and {part} are parts of different benches ({found})")
    holders: dict[Job, Path] = {}
    for job in plan_jobs(claim["encoders"], claim["config"]["seeds"]):
        holder = next((Path(part) for part in parts if is_finished(part, job)), None)
        if holder is None:
            raise ZooError(
                f"no part holds a finished {job}; run its share (`rnn-zoo bench --shard i/n`) first"
            )
        holders[job] = holder
    return claim, holders


def copy_jobs(holders: Mapping[Job, Path], out: Path) -> None:
    """Copy each job's checkpoint, embeddings and, last, record from its part into ``out``."""
    for job, part in holders.items():
        if Path(part).resolve() == Path(out).resolve() or is_finished(out, job):
            continue
        source = checkpoint_dir(part, job)
        files = sorted(source.glob("*")) if source.is_dir() else []
        _copy([(path, checkpoint_dir(out, job) / path.name) for path in files])
        _copy([(embeddings_path(part, job), embeddings_path(out, job))])
        _copy([(record_path(part, job), record_path(out, job))])


def _copy(pairs: Iterable[tuple[Path, Path]]) -> None:
    for source, target in pairs:
        with atomic_path(target) as temporary:
            shutil.copyfile(source, temporary)
