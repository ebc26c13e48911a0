"""bench.json: what a bench's output folder holds, and how two claims differ.

It records the zoo (name, fingerprint, where it was found, the config benched), the resolved
bench config, the encoders with their options, the configs transferred to and the reference
rows that run; a bench resumes,
and parts merge, only into a folder whose claim names the same bench.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from rnn_zoo.errors import ZooError
from rnn_zoo.files import SEAL, parse_json, read_bytes, seal_json, unseal_json, write_text
from rnn_zoo.zoo.schema import DEFAULT_CONFIG

CLAIM = "bench.json"
FORMAT = 1
KEYS = {"format", "zoo", "config", "encoders", "encoder_options", "transfer_to", "references"}
CLAIM_FIELDS = {
    "zoo": dict,
    "zoo.fingerprint": str,
    "zoo.config": str,
    "config": dict,
    "config.seeds": int,
    "encoders": list,
    "encoder_options": dict,
    "transfer_to": list,
    "references": list,
}
IDENTITY = (
    "format",
    "zoo.name",
    "zoo.fingerprint",
    "zoo.config",
    "config",
    "encoders",
    "encoder_options",
    "transfer_to",
    "references",
)


def make_claim(
    zoo: Mapping[str, str],
    config: Mapping[str, Any],
    encoders: Sequence[str],
    options: Any,
    transfer_to: Sequence[str] = (),
    references: Sequence[str] = (),
) -> dict:
    """bench.json's contents, as JSON would give them back (lists, not tuples); ``references``
    are the reference rows whose jobs run (rnn_zoo.bench.references)."""
    claim = {"format": FORMAT, "zoo": dict(zoo), "config": config, "encoders": list(encoders)}
    claim["encoder_options"] = {name: dict(options.get(name, {})) for name in encoders}
    claim["transfer_to"] = list(transfer_to)
    claim["references"] = list(references)
    return json.loads(json.dumps(claim))


def read_claim(directory: Path) -> dict[str, Any]:
    """A bench directory's bench.json, checked to say what a bench needs; no bench.json: not a bench."""
    path = Path(directory, CLAIM)
    if not path.is_file():
        raise ZooError(
            f"{directory} is not a bench output: it has no {CLAIM}; give the --out of `rnn-zoo bench`"
        )
    remedy = f"it says which bench {directory} holds: delete {directory} (or give another --out) and run the bench again"
    raw = read_bytes(path, remedy)
    claim = parse_json(raw, str(path), remedy)
    if SEAL in claim:  # bench.json written before it was sealed has no seal to check
        claim = unseal_json(raw, str(path), remedy)
        del claim[SEAL]
    unknown = sorted(set(claim) - KEYS)
    if unknown:
        raise ZooError(f"{path} has unknown key(s) {', '.join(unknown)}; {remedy}")
    # A bench written before zoos of several configs is of the one config, with no transfer.
    if isinstance(claim.get("zoo"), dict):
        claim["zoo"].setdefault("config", DEFAULT_CONFIG)
    claim.setdefault("transfer_to", [])
    claim.setdefault("references", [])  # a bench from before the reference rows ran none
    if isinstance(claim.get("config"), dict):
        claim["config"].pop("bos", None)  # recorded before the BOS token came from the task family
    for key, kind in CLAIM_FIELDS.items():
        if not isinstance(_field(claim, key), kind):
            raise ZooError(f"{path} has no {key} ({kind.__name__}); {remedy}")
    if not all(isinstance(name, str) for name in claim["encoders"]):
        raise ZooError(f"{path} has an encoder that is no name; {remedy}")
    return claim


def write_claim(directory: Path, claim: Mapping[str, Any]) -> None:
    """Write bench.json, sealed with its own sha256."""
    write_text(Path(directory, CLAIM), seal_json({k: v for k, v in claim.items() if k != SEAL}))


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
