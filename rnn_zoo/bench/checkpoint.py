"""Emulation checkpoints: the encoder's and the emulator's weights (safetensors) and config.json."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import asdict
from pathlib import Path
from typing import TYPE_CHECKING, Any

from torch import nn

from rnn_zoo.bench.emulator import Emulator, EmulatorConfig
from rnn_zoo.errors import ZooError
from rnn_zoo.files import atomic_path, write_json

if TYPE_CHECKING:
    from rnn_zoo.bench.config import EmulationConfig


def save_checkpoint(
    directory: str | Path,
    encoder: nn.Module,
    emulator: Emulator,
    config: EmulationConfig,
    best: Mapping[str, Any],
) -> None:
    """Write encoder.safetensors, emulator.safetensors and config.json (each atomically);
    ``best`` holds the encoder's own config (``encoder``), the ``step`` and its ``validation_loss``."""
    from safetensors.torch import save_model

    directory = Path(directory)
    for name, module in (("encoder", encoder), ("emulator", emulator)):
        with atomic_path(directory / f"{name}.safetensors") as temporary:
            save_model(module, str(temporary))
    meta = {
        "emulation": asdict(config),
        "emulator": emulator.config.to_dict(),
        "encoder": dict(best.get("encoder") or {}),
        "step": best["step"],
        "validation_loss": best["validation_loss"],
    }
    write_json(directory / "config.json", meta)


def load_checkpoint(directory: str | Path, encoder: nn.Module) -> tuple[Emulator, dict[str, Any]]:
    """Load a checkpoint's weights into ``encoder`` (built by the caller from config['encoder']).

    Returns the rebuilt emulator and the checkpoint's config.json contents.
    """
    from safetensors.torch import load_model

    directory = Path(directory)
    if not (directory / "config.json").is_file():
        raise ZooError(f"{directory} is not an emulation checkpoint: config.json is missing")
    meta = json.loads((directory / "config.json").read_text(encoding="utf-8"))
    emulator = Emulator(EmulatorConfig(**meta["emulator"]))
    load_model(emulator, str(directory / "emulator.safetensors"))
    load_model(encoder, str(directory / "encoder.safetensors"))
    return emulator.eval(), meta
