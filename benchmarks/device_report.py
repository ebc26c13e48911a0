"""What benchmarks/device_check.py writes: the summary table, the step logs' tails, the figures.

Everything under OUT is small and few (a device call brings back at most 8 files of 16 MiB):
``summary.md``, ``check.log`` and ``figures.json``, each rewritten or extended after every step,
so a call cut short still brings back the rows done so far.
"""

from __future__ import annotations

import json
import re
import sys
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

LOG_TAIL_BYTES = 64_000
FAILED = ("failed", "stopped")
PROJECTION = re.compile(r"([\d.]+) steps/s; the full preset projects to (\d+) s")


@dataclass(frozen=True)
class Row:
    """One row of the summary: a step, its wall time, its status and its result."""

    name: str
    wall: float
    status: str  # ok, failed, stopped (at its cap), projected (a build that could not finish) or skipped
    result: str

    def markdown(self) -> str:
        cell = self.result.replace("|", "/").replace("\n", " ")
        return f"| {self.name} | {self.wall:.1f} s | {self.status} | {cell} |"


class Report:
    """The rows so far, in OUT/summary.md and OUT/figures.json; each step's log tail in OUT/check.log."""

    def __init__(self, out: Path, scratch: Path) -> None:
        self.out, self.logs = out, scratch / "logs"
        self.out.mkdir(parents=True, exist_ok=True)
        self.logs.mkdir(parents=True, exist_ok=True)
        (self.out / "check.log").write_text("")
        self.rows: list[Row] = []
        self.figures: dict[str, Any] = {"scratch": str(scratch)}

    def log_path(self, name: str) -> Path:
        """A fresh log file for step ``name``, in the scratch folder."""
        slug = re.sub("[^A-Za-z0-9]+", "-", name).strip("-")
        return self.logs / f"{len(list(self.logs.iterdir())):02d}-{slug}.log"

    def add(self, rows: list[Row], log: Path | None = None) -> None:
        """Record ``rows`` (printed at once) and the tail of ``log``; rewrite the summary and figures."""
        for row in rows:
            self.rows.append(row)
            print(row.markdown(), flush=True)
            found = PROJECTION.search(row.result)
            if found:
                self.figures.setdefault("builds", {})[row.name] = {
                    "steps_per_s": float(found[1]),
                    "projected_s": int(found[2]),
                }
        if log is not None and log.exists():
            tail = log.read_bytes()[-LOG_TAIL_BYTES:].decode(errors="replace")
            with (self.out / "check.log").open("a") as sink:
                sink.write(f"===== {rows[0].name} ({log.name}) =====\n{tail}\n")
        self.figures["steps"] = [asdict(row) for row in self.rows]
        (self.out / "figures.json").write_text(json.dumps(self.figures, indent=1) + "\n")
        (self.out / "summary.md").write_text(self.table() + "\n")

    def table(self) -> str:
        return "\n".join(
            [
                "| step | wall | status | result |",
                "| --- | --- | --- | --- |",
                *(r.markdown() for r in self.rows),
            ]
        )

    def failed(self) -> bool:
        return any(row.status in FAILED for row in self.rows)

    def finish(self, budget: float) -> None:
        """Print the whole table and a last line: the time used of the budget, the steps by status."""
        wall = sum(row.wall for row in self.rows)
        counts = {
            status: sum(row.status == status for row in self.rows)
            for status in dict.fromkeys(r.status for r in self.rows)
        }
        line = f"{len(self.rows)} rows, {wall:.0f} s of a {budget:.0f} s budget: " + ", ".join(
            f"{n} {s}" for s, n in counts.items()
        )
        self.figures["total_wall_s"] = wall
        (self.out / "figures.json").write_text(json.dumps(self.figures, indent=1) + "\n")
        (self.out / "summary.md").write_text(self.table() + "\n\n" + line + "\n")
        print("\n" + self.table() + "\n\n" + line)


def paper_bench_size(site_paths: list[str]) -> tuple[int, int]:
    """Seeds and emulation steps per seed of ``rnn-zoo bench --preset paper``, from the installed project."""
    sys.path[:0] = [path for path in site_paths if path not in sys.path]
    from rnn_zoo.bench.config import bench_config

    config = bench_config("paper")
    return config.seeds, config.emulation.steps


def bench_projection(figures_file: Path, site_paths: list[str], figures: dict[str, Any]) -> Row:
    """The projected emulation time of ``rnn-zoo bench --preset paper``, per encoder and in all."""
    name = "bench --preset paper, projected"
    if not figures_file.is_file():
        return Row(name, 0.0, "skipped", "no figures from the bench throughput")
    try:
        rates = {
            key: float(value["steps_per_s"])
            for key, value in json.loads(figures_file.read_text())["encoders"].items()
        }
        seeds, steps = paper_bench_size(site_paths)
    except Exception as error:  # the row says why; the check goes on
        return Row(name, 0.0, "failed", f"{type(error).__name__}: {error}")
    seconds = {key: seeds * steps / rate for key, rate in rates.items() if rate > 0}
    figures["bench"] = {
        "seeds": seeds,
        "steps_per_seed": steps,
        "encoders": {
            key: {"steps_per_s": rates[key], "projected_s": value} for key, value in seconds.items()
        },
        "total_projected_s": sum(seconds.values()),
    }
    parts = ", ".join(f"{key} {value / 3600:.1f} h" for key, value in seconds.items())
    return Row(
        name,
        0.0,
        "ok",
        f"emulation only, {seeds} seeds x {steps:,} steps at the measured steps/s: {parts}; "
        f"all {sum(seconds.values()) / 3600:.1f} h",
    )
