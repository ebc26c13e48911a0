"""PNG plots of a benchmark: embedding PCA, training curves, cloned vs original performance.

matplotlib is imported only when a plot is drawn, with the non-interactive Agg backend.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from rnn_zoo.files import atomic_path


def _pyplot() -> Any:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def principal_components(embeddings: Tensor, k: int = 2) -> Tensor:
    """Projection (n, k) of centred embeddings (n, e) on their first k principal axes."""
    centred = embeddings.double() - embeddings.double().mean(0)
    _, _, axes = torch.linalg.svd(centred, full_matrices=False)  # axes (e, e), rows = directions
    return (centred @ axes[:k].T).float()


def _save(figure: Any, path: Path) -> None:
    with atomic_path(path) as temporary:
        figure.savefig(temporary, format="png", dpi=110, bbox_inches="tight")
    _pyplot().close(figure)


def plot_embedding_pca(path: Path, embeddings: Tensor, colours: Mapping[str, np.ndarray], title: str) -> None:
    """One scatter of the first two principal components per colouring (e.g. task, performance)."""
    plt = _pyplot()
    points = principal_components(embeddings).numpy()
    figure, axes = plt.subplots(
        1, len(colours), figsize=(4.8 * len(colours), 4), squeeze=False, layout="constrained"
    )
    for axis, (label, values) in zip(axes[0], colours.items(), strict=True):
        scatter = axis.scatter(points[:, 0], points[:, 1], c=values, s=6, cmap="viridis")
        figure.colorbar(scatter, ax=axis, label=label)
        axis.set(title=f"{title}: coloured by {label}", xlabel="PC 1", ylabel="PC 2")
    _save(figure, path)


def validation_curves(results: Mapping[str, Any]) -> dict[str, list[Any]]:
    """A bench's validation curves (its results.json): each run's name -> one curve per seed."""
    return {
        name: [seed["emulation"]["curve"] for seed in seeds.values()]
        for name, seeds in results["runs"].items()
    }


def plot_training_curves(
    path: Path, curves: Mapping[str, Sequence[Sequence[Mapping[str, float]]]], dashed: Sequence[str] = ()
) -> None:
    """Validation emulation loss over steps: one colour per encoder, one line per seed; the rows
    named in ``dashed`` (the floor and the ceiling) in black and grey dashes."""
    plt = _pyplot()
    figure, axis = plt.subplots(figsize=(6.5, 4))
    colours = iter(f"C{index}" for index in range(len(curves)))
    greys = iter(("black", "grey", "silver"))
    for encoder, seeds in curves.items():
        style = {"color": next(greys), "linestyle": "--"} if encoder in dashed else {"color": next(colours)}
        for seed, curve in enumerate(seeds):
            steps = [point["step"] for point in curve]
            losses = [point["validation_loss"] for point in curve]
            axis.plot(steps, losses, alpha=0.8, label=encoder if seed == 0 else None, **style)
    title = "Emulation training" + (" (dashed: floor and ceiling)" if dashed else "")
    axis.set(xlabel="step", ylabel="validation emulation loss", title=title)
    axis.legend(fontsize="small")
    _save(figure, path)


def plot_cloned(path: Path, pairs: Mapping[str, tuple[np.ndarray, np.ndarray]]) -> None:
    """Cloned (emulator) performance against the member's own, one panel per encoder."""
    plt = _pyplot()
    figure, axes = plt.subplots(1, len(pairs), figsize=(4 * len(pairs), 4), squeeze=False)
    for axis, (encoder, (original, cloned)) in zip(axes[0], pairs.items(), strict=True):
        axis.scatter(original, cloned, s=6)
        axis.plot([0, 1], [0, 1], color="grey", linewidth=0.8)
        axis.set(title=encoder, xlabel="member performance", ylabel="cloned performance")
    _save(figure, path)


def task_colours(task: np.ndarray) -> np.ndarray:
    """Colour values for tasks: the angle for scalar tasks, an index per distinct task vector."""
    if task.ndim == 1:
        return task.astype(float)
    return np.unique(task, axis=0, return_inverse=True)[1].reshape(-1).astype(float)
