"""Sequential MNIST: classifiers that read a rotated digit as 50 tiles (the paper's second zoo).

A run's task is one rotation angle in degrees, uniform in [0, 360); every image the member
sees is rotated by it (counter-clockwise, nearest neighbour, zero fill), cut into a zero BOS
tile and 49 row-major 4x4 tiles and normalised (rnn_zoo.tasks.mnist). The member predicts the
digit after every tile; the loss is the mean cross-entropy over all 50 positions.

Shape letters: n members, b images per member, t time (50 positions), i inputs (16 pixels),
o outputs (10 classes).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnn_zoo.errors import ZooError
from rnn_zoo.member import functional
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.tasks import streams
from rnn_zoo.tasks.family import Run, target_log_probs
from rnn_zoo.tasks.mnist import STEPS, MnistImages, SequenceMaker, split_indices
from rnn_zoo.tasks.mnist.angles import draw_tasks
from rnn_zoo.tasks.mnist.images import CLASSES
from rnn_zoo.zoo.schema import Column, ZooSchema

INPUTS = 16  # pixels per tile
STREAM_TRAIN = 1  # counter-based stream of the training images a member sees
STREAM_PROBES = 2  # counter-based stream of the train-split images that probe a member's snapshots
EVAL_CHUNK = 250  # images per member evaluated at once (bounds memory, not the results)


@dataclass(frozen=True)
class MnistOptions:
    """How many images the snapshot metrics use (spread evenly through each split; 0: all of
    it) and how many random train-split images probe each snapshot."""

    metric_train_images: int = 1000
    metric_eval_images: int = 1000
    probe_sequences: int = 100

    def __post_init__(self) -> None:
        if min(self.metric_train_images, self.metric_eval_images) < 0 or self.probe_sequences < 1:
            raise ZooError(
                "mnist task_options: metric_train_images and metric_eval_images must be 0 (all) or more, "
                f"probe_sequences at least 1; got {self.metric_train_images}, {self.metric_eval_images}, "
                f"{self.probe_sequences}"
            )


def sequence_loss(outputs: Tensor, labels: Tensor) -> Tensor:
    """Cross-entropy after every tile, averaged over positions: (n, b, t, o), (n, b) -> (n, b)."""
    return -target_log_probs(outputs, labels[:, :, None].expand(*outputs.shape[:3])).mean(dim=-1)


def spread(count: int, total: int) -> Tensor:
    """``count`` indices spread evenly over ``total`` items in order: floor(k * total / count).

    Metric images are taken this way rather than as the first ones, because some sources (the
    npm package) order their digits by class. ``count`` 0 (or more than ``total``) is all of them.
    """
    count = total if count == 0 else min(count, total)
    return torch.arange(count, dtype=torch.int64) * total // max(count, 1)


def stream_indices(seeds: Tensor, stream: int, step: int | Tensor, per_member: int, count: int) -> Tensor:
    """``per_member`` indices into ``count`` images for each member at ``step``: (n,) -> (n, b) int64.

    Drawn with replacement from the member's own counter-based stream (seed, stream, step), so
    a member's data does not depend on the rest of its population.
    """
    index = torch.arange(per_member, device=seeds.device)
    low = torch.zeros((), dtype=torch.int64, device=seeds.device)
    return streams.integers(low, low + count, seeds[:, None], stream, step, index)


def training_indices(seeds: Tensor, step: int | Tensor, batch_size: int, count: int) -> Tensor:
    """Which of ``count`` train-split images each member trains on at ``step``: (n,) -> (n, b)."""
    return stream_indices(seeds, STREAM_TRAIN, step, batch_size, count)


def probe_indices(seeds: Tensor, step: int, sequences: int, count: int) -> Tensor:
    """Which of ``count`` train-split images probe each member's snapshot after ``step``: (n,) -> (n, s)."""
    return stream_indices(seeds, STREAM_PROBES, step, sequences, count)


class SequentialMnist:
    """The sequential-MNIST task family, as the population trainer and the builder use it."""

    name = "mnist"
    title = "Sequential-MNIST"  # the zoo's name in words: "Sequential-MNIST LSTM zoo"
    summary_metric = "eval_accuracy"

    def __init__(self, spec: MemberSpec, options: MnistOptions, mnist: MnistImages) -> None:
        if (spec.input_size, spec.output_size) != (INPUTS, CLASSES):
            raise ValueError(f"MNIST members read {INPUTS} pixels and predict {CLASSES} digits, got {spec}")
        self.spec, self.options, self.source = spec, options, mnist.source
        train, held_out = (torch.from_numpy(part) for part in split_indices(len(mnist)))
        self.train_images, self.train_labels = mnist.images[train], mnist.labels[train]
        self.eval_images, self.eval_labels = mnist.images[held_out], mnist.labels[held_out]
        self.metric_train = spread(options.metric_train_images, len(train))  # into the train split
        self.metric_eval = spread(options.metric_eval_images, len(held_out))  # into the eval split
        self.metric_counts = (len(self.metric_train), len(self.metric_eval))
        self.build_record = {"mnist": mnist.source.to_dict()}
        self.description = describe(mnist, len(train), len(held_out), self.metric_counts, options)
        self._on_device: dict[torch.device, tuple[Tensor, Tensor]] = {}
        self._maker: tuple[Tensor, SequenceMaker] | None = None

    def schema(self) -> ZooSchema:
        probes = self.options.probe_sequences
        train_count, eval_count = self.metric_counts
        return ZooSchema(
            self.spec,
            metadata=(
                Column("task", "float32", (), "rotation angle in degrees, counter-clockwise"),
                Column("weight_decay", "float32", (), "AdamW weight decay of the run"),
                Column("eval_accuracy", "float32", (), f"last-step accuracy on {eval_count} eval images"),
                Column(
                    "train_loss", "float32", (), f"mean loss over 50 positions, {train_count} train images"
                ),
                Column("eval_loss", "float32", (), f"mean loss over 50 positions, {eval_count} eval images"),
                Column("generalization_gap", "float32", (), "eval_loss - train_loss"),
            ),
            probes=(
                Column(
                    "sequences",
                    "float16",
                    (probes, STEPS, INPUTS),
                    "rotated random train-split images drawn per snapshot, BOS tile first",
                ),
                Column(
                    "log_probs",
                    "float16",
                    (probes, STEPS, CLASSES),
                    "member log-probabilities after every tile",
                ),
            ),
        )

    def draw_tasks(self, count: int, seed: int) -> list[tuple[tuple[float, ...], str]]:
        return draw_tasks(count, seed)

    def task_tensor(self, runs: Sequence[Run], device: torch.device) -> Tensor:
        return torch.tensor([run.task[0] for run in runs], dtype=torch.float32, device=device)

    def batch(
        self, tasks: Tensor, seeds: Tensor, step: int | Tensor, batch_size: int
    ) -> tuple[Tensor, Tensor]:
        images, labels = self._train_split(tasks.device)
        picks = training_indices(seeds, step, batch_size, len(images))  # (n, b)
        return self._sequence_maker(tasks)(images[picks]), labels[picks]

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return sequence_loss(outputs, targets).mean(dim=1)

    def member_bytes(self, batch_size: int) -> int:
        per_position = self.spec.num_layers * 16 * self.spec.hidden_size + 4 * (INPUTS + CLASSES)
        training = 2 * 4 * batch_size * STEPS * per_position
        evaluation = 4 * EVAL_CHUNK * STEPS * (INPUTS + 2 * CLASSES + 4 * self.spec.hidden_size)
        return max(training, evaluation)

    def snapshot_columns(
        self, params: Mapping[str, Tensor], runs: Sequence[Run], step: int, train_loss: Tensor
    ) -> dict[str, np.ndarray]:
        """Metrics on fixed images of each split and probes on random train-split images, all
        rotated by each member's angle.

        ``train_loss`` (the running training loss) is not stored: ``train_loss`` is measured
        on fixed images like ``eval_loss``, so that the two make a generalization gap. The probe
        images come from each member's own stream at this ``step``, so every snapshot has its own.
        """
        device = train_loss.device
        maker = self._sequence_maker(self.task_tensor(runs, device))
        train_images, train_labels = (
            part[self.metric_train.to(device)] for part in self._train_split(device)
        )
        eval_images, eval_labels = self.eval_images[self.metric_eval], self.eval_labels[self.metric_eval]
        fit_loss, _ = evaluate(params, self.spec, maker, train_images, train_labels)
        eval_loss, accuracy = evaluate(
            params, self.spec, maker, eval_images.to(device), eval_labels.to(device)
        )
        images, _ = self._train_split(device)
        seeds = torch.tensor([run.seed for run in runs], dtype=torch.int64, device=device)
        picks = probe_indices(seeds, step, self.options.probe_sequences, len(images))  # (n, s)
        sequences, log_probs = probe(params, self.spec, maker, images[picks])
        return {
            "task": np.array([run.task[0] for run in runs], dtype=np.float32),
            "weight_decay": np.array([run.weight_decay for run in runs], dtype=np.float32),
            "eval_accuracy": accuracy.cpu().numpy().astype(np.float32),
            "train_loss": fit_loss.cpu().numpy().astype(np.float32),
            "eval_loss": eval_loss.cpu().numpy().astype(np.float32),
            "generalization_gap": (eval_loss - fit_loss).cpu().numpy().astype(np.float32),
            "sequences": sequences.cpu().numpy(),
            "log_probs": log_probs.cpu().numpy().astype(np.float16),
        }

    def _train_split(self, device: torch.device) -> tuple[Tensor, Tensor]:
        """The train-split images and labels, copied to ``device`` once."""
        if device not in self._on_device:
            self._on_device[device] = (self.train_images.to(device), self.train_labels.to(device))
        return self._on_device[device]

    def _sequence_maker(self, angles: Tensor) -> SequenceMaker:
        """The rotation of these members, built once per population (the trainer reuses ``angles``)."""
        if self._maker is None or self._maker[0] is not angles:
            self._maker = (angles, SequenceMaker(angles.cpu(), device=angles.device))
        return self._maker[1]

    @staticmethod
    def oracle_features(columns: Mapping[str, np.ndarray]) -> Tensor | None:
        """What the metadata says about each member (the bench's oracle): its rotation angle,
        its snapshot and its weight decay, (n, f); None without task and step columns."""
        from rnn_zoo.tasks import metadata_features as features

        if not features.has_columns(columns, ("task", "step")) or np.ndim(columns["task"]) != 1:
            return None
        angle = features.angle_features(columns["task"])
        snapshot = features.snapshot_features(columns["step"])
        return torch.cat([angle, snapshot, *features.hyperparameter_features(columns)], dim=1)


def evaluate(
    params: Mapping[str, Tensor], spec: MemberSpec, maker: SequenceMaker, images: Tensor, labels: Tensor
) -> tuple[Tensor, Tensor]:
    """Every member on the same images (b, 28, 28), each rotated by its angle: (n,) loss and accuracy."""
    n = next(iter(params.values())).shape[0]
    loss_sum = torch.zeros(n, device=images.device)
    correct = torch.zeros(n, device=images.device)
    for start in range(0, len(images), EVAL_CHUNK):
        chunk, chunk_labels = images[start : start + EVAL_CHUNK], labels[start : start + EVAL_CHUNK]
        outputs, _ = functional.forward(params, spec, maker(chunk.expand(n, *chunk.shape)))  # (n, b, t, o)
        targets = chunk_labels.expand(n, len(chunk))  # (n, b)
        loss_sum += sequence_loss(outputs, targets).sum(dim=1)
        correct += (outputs[:, :, -1].argmax(dim=-1) == targets).sum(dim=1)
    return loss_sum / max(len(images), 1), correct / max(len(images), 1)


def probe(
    params: Mapping[str, Tensor], spec: MemberSpec, maker: SequenceMaker, images: Tensor
) -> tuple[Tensor, Tensor]:
    """Probe inputs (n, s, t, i) float16 of each member's images (n, s, 28, 28) and the member's
    log-probabilities (n, s, t, o) on them.

    The inputs are rounded to float16 before the member reads them, so the stored
    log-probabilities are the member's outputs on exactly the stored sequences.
    """
    sequences = maker(images).half()
    outputs, _ = functional.forward(params, spec, sequences.float())
    return sequences, outputs.log_softmax(dim=-1)


def describe(
    mnist: MnistImages, train: int, held_out: int, metric_counts: tuple[int, int], options: MnistOptions
) -> str:
    """The zoo's description for its card: data source, split, task, loss and metrics."""
    source = mnist.source
    return (
        "Recurrent networks trained as sequential-MNIST classifiers on rotated digits. Each run has one "
        "rotation angle (`task`, degrees, uniform in [0, 360)), applied to every image it sees "
        "(counter-clockwise about the centre, nearest neighbour, zero fill, as Pillow's "
        "Image.rotate); a digit is read as a zero BOS tile and 49 row-major 4x4 tiles (50 steps "
        "of 16 inputs, normalised with mean 0.1307, std 0.3081), and the member predicts the "
        "digit after every tile. Training: batches of images drawn with replacement from the "
        "train split by a counter-based stream of the member's seed and step, loss = mean "
        "cross-entropy over all 50 positions, AdamW with the run's `weight_decay`. "
        f"Data: {source.images:,} MNIST training images from {source.origin} (source "
        f"`{source.backend}`, sha256 {source.sha256[:16]}...), split 80/20 by a BLAKE2b hash of "
        f"each image's index into {train:,} train and {held_out:,} eval images. Metrics after "
        f"each snapshot: `train_loss` on {metric_counts[0]:,} train-split images, `eval_loss` and "
        f"`eval_accuracy` (prediction after the last tile) on {metric_counts[1]:,} eval-split "
        "images, each set spread evenly through its split in source order (image k * size // count), "
        "all rotated by the member's angle; `generalization_gap` = eval_loss - train_loss. "
        f"`sequences` are {options.probe_sequences} train-split images drawn at random (with "
        "replacement) for each snapshot by a counter-based stream of the member's seed and step, "
        "rotated by its angle, as the member reads them (float16), "
        "`log_probs` its log-probabilities after every tile. Splits by angle: angles >= 306 "
        "degrees (the top 15 % of the range) are ood; of the others, a fixed 15/85 chosen by a "
        "hash of the run id are validation (15 % of all runs), the rest train."
    )
