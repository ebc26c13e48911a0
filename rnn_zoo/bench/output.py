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

import re
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from torch import Tensor

from rnn_zoo.bench.claim import CLAIM, difference, read_claim, write_claim
from rnn_zoo.errors import ZooError, first_line
from rnn_zoo.files import (
    SEAL,
    atomic_path,
    is_temporary,
    read_bytes,
    seal_json,
    unseal_json,
    write_text,
)
from rnn_zoo.folder import OutputFolder, take_part

INDEX = "index.json"  # a finished bench's index of every file's sha256, written last
STATE = ".bench"  # the write lock
FILES = "files"  # the key under which a job's record lists the sha256 of its other files


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
    return take_part(jobs, part, "jobs (encoders x seeds) in the bench")


def bench_folder(out: Path) -> OutputFolder:
    """``out`` as the output folder of a bench (or bench-merge)."""
    return OutputFolder(Path(out), STATE, "bench")


def record_path(out: Path, job: Job) -> Path:
    return Path(out, job_record(job))


def job_record(job: Job) -> str:
    """The name of the job's record in the output folder."""
    return f"runs/{file_stem(job.encoder)}/seed{job.seed}.json"


def embeddings_path(out: Path, job: Job) -> Path:
    return Path(out, "runs", file_stem(job.encoder), f"seed{job.seed}.safetensors")


def checkpoint_dir(out: Path, job: Job) -> Path:
    return Path(out, "checkpoints", file_stem(job.encoder), f"seed{job.seed}")


def _rerun(out: Path, job: Job) -> str:
    return f"delete {record_path(out, job)} to run {job} again (the same command then reruns it)"


def is_finished(out: Path, job: Job) -> bool:
    """Whether the job's record is written (it is written last); a damaged job is a ZooError."""
    if not record_path(out, job).is_file():
        return False
    check_job(out, job)
    return True


def check_job(out: Path, job: Job) -> dict[str, Any]:
    """A finished job's record, once it and every file it records match their sha256; else a ZooError."""
    path, remedy = record_path(out, job), _rerun(out, job)
    record = unseal_json(read_bytes(path, remedy), str(path), remedy)
    files = record.get(FILES)
    if not isinstance(files, dict) or not all(isinstance(digest, str) for digest in files.values()):
        raise ZooError(f"{path} records no sha256 of the job's files; {remedy}")
    if record.get("encoder") != job.encoder or record.get("seed") != job.seed:
        raise ZooError(f"{path} is the record of another job; {remedy}")
    bench_folder(out).check_files(files, remedy)
    return record


def job_files(out: Path, job: Job) -> list[str]:
    """The names of the job's files but its record: embeddings and checkpoint."""
    folder = checkpoint_dir(out, job)
    names = [embeddings_path(out, job), *(sorted(folder.iterdir()) if folder.is_dir() else [])]
    return [path.relative_to(out).as_posix() for path in names if not is_temporary(path)]


def save_job(
    out: Path,
    job: Job,
    record: Mapping[str, Any],
    embeddings: Tensor,
    transferred: Mapping[str, Tensor] | None = None,
) -> None:
    """Write the job's embeddings (and those of the configs it transferred to), then its record
    with the sha256 of the job's files, sealed with its own (each atomically); the record marks it
    finished."""
    from safetensors.torch import save

    tensors = {"embeddings": embeddings, **{f"transfer/{k}": v for k, v in (transferred or {}).items()}}
    with atomic_path(embeddings_path(out, job)) as temporary:
        temporary.write_bytes(
            save({key: value.detach().cpu().contiguous() for key, value in tensors.items()})
        )
    files = bench_folder(out).digests(job_files(out, job))
    data = {"encoder": job.encoder, "seed": job.seed, **record, FILES: files}
    write_text(record_path(out, job), seal_json(data))


def load_record(out: Path, job: Job) -> dict[str, Any]:
    """A finished job's record, as run_seed returned it (checked, with its files)."""
    record = check_job(out, job)
    return {key: value for key, value in record.items() if key not in ("encoder", "seed", FILES, SEAL)}


def load_embeddings(out: Path, job: Job, transfer: str | None = None) -> Tensor:
    """A finished job's embeddings (n, e) of every member, or of config ``transfer``'s members."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file

    key = "embeddings" if transfer is None else f"transfer/{transfer}"
    path = embeddings_path(out, job)
    try:
        return load_file(str(path))[key]
    except (OSError, KeyError, SafetensorError) as error:
        raise ZooError(f"{path} cannot be read ({first_line(error)}); {_rerun(out, job)}") from None


@contextmanager
def claim_out(out: Path, claim: Mapping[str, Any]) -> Iterator[None]:
    """Take ``out`` for this bench, or check that it already holds the same bench, and hold its
    write lock. A finished bench's index is checked (files deleted since, to run their job again,
    aside), then dropped: results, report and plots are written again, the index last.

    A directory holding another bench, files that are not a bench, or damaged files is refused untouched.
    """
    folder = bench_folder(out)
    with folder.writing(lambda: _accept(folder, claim)):
        if not (folder.root / CLAIM).is_file():
            write_claim(folder.root, claim)
        # A file deleted since the index was written is a job to run again; a changed one is damage.
        folder.check_index(
            INDEX, f"delete {folder.root / INDEX} and run the same command again", missing_ok=True
        )
        (folder.root / INDEX).unlink(missing_ok=True)  # written again last
        yield


def _accept(folder: OutputFolder, claim: Mapping[str, Any]) -> None:
    out = folder.root
    if (out / CLAIM).is_file():
        found = difference(claim, read_claim(out), ("asked now", f"in {out}"))
        if found:
            raise ZooError(
                f"{out} holds another bench ({found}); rerun that bench's command or give another --out"
            )
    elif not folder.holds_nothing():
        raise ZooError(f"{out} is not empty and holds no bench ({CLAIM}); give an empty or new --out")


def seal_bench(out: Path) -> None:
    """Write the finished bench's index of every file's sha256 (index.json), last."""
    bench_folder(out).write_index(INDEX)


def gather_parts(parts: Sequence[Path]) -> tuple[dict[str, Any], dict[Job, Path]]:
    """The parts' common claim and, for every job of the bench, a part that finished it (checked)."""
    claim = read_claim(parts[0])
    for part in parts[1:]:
        found = difference(claim, read_claim(part), (f"in {parts[0]}", f"in {part}"))
        if found:
            raise ZooError(f"{parts[0]} and {part} are parts of different benches ({found})")
    for part in parts:
        folder = bench_folder(part)
        folder.check_place()
        folder.check_index(INDEX, f"delete {folder.root / INDEX} and run that part's command again")
    holders: dict[Job, Path] = {}
    for job in plan_jobs([*claim["encoders"], *claim["references"]], claim["config"]["seeds"]):
        holder = next((Path(part) for part in parts if is_finished(part, job)), None)
        if holder is None:
            raise ZooError(
                f"no part holds a finished {job} ({job_record(job)}); "
                "run its share (`rnn-zoo bench --shard i/n`) first"
            )
        holders[job] = holder
    return claim, holders


def copy_jobs(holders: Mapping[Job, Path], out: Path) -> None:
    """Copy each job's checkpoint, embeddings and, last, record from its part into ``out``, each
    file checked against the record as it lands."""
    target = bench_folder(out)
    for job, part in holders.items():
        if Path(part).resolve() == Path(out).resolve() or is_finished(out, job):
            continue
        source = bench_folder(part)
        files = check_job(part, job)[FILES]
        target.copy_from(source, files)
        record = job_record(job)
        target.copy_from(source, source.digests([record]))
