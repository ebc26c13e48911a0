"""Formal languages: occurrence-difference languages over a, b, c, d (the paper's first zoo).

A task is a vector [0, m_b, m_c, m_d] with each m in {-3, ..., 2} (216 tasks); its language
is a^n b^(n+m_b) c^(n+m_c) d^(n+m_d). A string is BOS + word + EOS padding, 42 symbols with
ids a, b, c, d, BOS, EOS = 0..5. Training draws n uniformly from
[max(0, -min m), 10), further limited so that word + EOS fit into the 41 symbols after BOS
(the paper's sampler cut longer words, leaving them without EOS).

Shape letters: n members, b strings per member, t time (positions), s symbols.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

from rnn_zoo.member import functional
from rnn_zoo.member.spec import MemberSpec, Params
from rnn_zoo.tasks import streams
from rnn_zoo.tasks.family import Run, target_log_probs
from rnn_zoo.zoo.schema import SPLITS, Column, ZooSchema

A, B, C, D, BOS, EOS = range(6)
SYMBOLS = 6
LETTERS = 4
LENGTH = 42  # BOS + 41 symbols
MAX_N = 10  # n is drawn from [low, MAX_N), as in the paper
OFFSETS = tuple(range(-3, 3))
OOD_FRACTION, VALIDATION_FRACTION = 0.15, 0.15
SPLIT_SEED = 0  # the fixed shuffle of in-distribution tasks into train and validation
STREAM_TRAIN, STREAM_SAMPLE, STREAM_TASKS = 1, 2, 3


def all_tasks() -> Tensor:
    """The 216 task vectors [0, m_b, m_c, m_d], (216, 4) int64, in lexicographic order."""
    return torch.tensor([(0, *m) for m in itertools.product(OFFSETS, repeat=3)], dtype=torch.int64)


def task_entropy(tasks: Tensor) -> Tensor:
    """Entropy of p = t' / sum(t') with t' = 1 + t - min(t), per task; (k, 4) -> (k,) float64."""
    shifted = 1 + tasks - tasks.min(dim=-1, keepdim=True).values
    p = shifted.sort(dim=-1).values.double()  # sorted: equal multisets give equal bits
    p = p / p.sum(dim=-1, keepdim=True)
    return -(p * p.log()).sum(dim=-1)


def task_splits() -> dict[tuple[int, ...], str]:
    """The split of each of the 216 tasks, by the paper's rule (151 train, 32 validation, 33 ood).

    Tasks are sorted by entropy (ties by the task vector); the highest-entropy 15 % are ood,
    the rest are shuffled with a fixed seed into train (70 % of all) and validation.
    """
    tasks = all_tasks()
    entropy = task_entropy(tasks).tolist()
    ranked = sorted(range(len(tasks)), key=lambda k: (round(entropy[k], 12), tasks[k].tolist()))
    in_distribution = int((1 - OOD_FRACTION) * len(tasks))
    train_count = int((1 - OOD_FRACTION - VALIDATION_FRACTION) * len(tasks))
    shuffle = torch.randperm(in_distribution, generator=torch.Generator().manual_seed(SPLIT_SEED))
    shuffled = [ranked[k] for k in shuffle.tolist()]
    splits = {k: "train" for k in shuffled[:train_count]}
    splits.update({k: "validation" for k in shuffled[train_count:]})
    splits.update({k: "ood" for k in ranked[in_distribution:]})
    return {tuple(tasks[k].tolist()): split for k, split in splits.items()}


def draw_tasks(count: int, seed: int) -> list[tuple[tuple[int, ...], str]]:
    """Tasks and splits for ``count`` runs: the 216 tasks without replacement, block after block.

    The first block starts with one task of each split, so a build of three or more runs
    has members in every split. Run r's task does not depend on ``count``.
    """
    splits = task_splits()
    tasks = list(splits)
    generator = torch.Generator().manual_seed(streams.seed_of(seed, STREAM_TASKS))
    order: list[int] = []
    while len(order) < count:
        block = torch.randperm(len(tasks), generator=generator).tolist()
        if not order:
            firsts = [next(k for k in block if splits[tasks[k]] == split) for split in SPLITS]
            block = firsts + [k for k in block if k not in firsts]
        order += block
    return [(tasks[k], splits[tasks[k]]) for k in order[:count]]


def word_range(tasks: Tensor) -> tuple[Tensor, Tensor]:
    """Per task (..., 4): the range [low, high) of n such that the word and its EOS fit."""
    low = (-tasks.min(dim=-1).values).clamp_min(0)
    fits = (LENGTH - 2 - tasks.sum(dim=-1)).div(LETTERS, rounding_mode="floor") + 1
    return low, fits.clamp_max(MAX_N)


def make_strings(tasks: Tensor, n: Tensor) -> Tensor:
    """BOS + a^n b^(n+m_b) c^(n+m_c) d^(n+m_d) + EOS padding: tasks (..., 4), n (...) -> (..., 42)."""
    ends = (n.unsqueeze(-1) + tasks).cumsum(dim=-1)  # (..., 4) where each letter's run ends
    position = torch.arange(LENGTH - 1, device=tasks.device)
    letter = (position.unsqueeze(-1) >= ends.unsqueeze(-2)).sum(dim=-1)  # (..., 41), 4 = past the word
    symbols = torch.where(letter == LETTERS, EOS, letter)
    bos = torch.full_like(symbols[..., :1], BOS)
    return torch.cat([bos, symbols], dim=-1)


def training_strings(tasks: Tensor, seeds: Tensor, step: int | Tensor, batch_size: int) -> Tensor:
    """Each member's batch at ``step``: tasks (n, 4), seeds (n,) -> (n, b, 42) int64.

    n is drawn from the member's own counter-based stream, so a member's data does not
    depend on the rest of its population.
    """
    low, high = word_range(tasks)  # (n,)
    index = torch.arange(batch_size, device=tasks.device)
    n = streams.integers(low[:, None], high[:, None], seeds[:, None], STREAM_TRAIN, step, index)
    return make_strings(tasks[:, None, :], n)  # (n, b, 42)


def accepts(sequences: Tensor, tasks: Tensor) -> Tensor:
    """Whether each string is in its task's language: sequences (..., 42) with BOS first.

    The word is what comes before the first EOS after BOS; there must be an EOS, the word
    must be letters in the order a* b* c* d*, and its counts must differ from the count of
    a by [0, m_b, m_c, m_d]. Vectorised: no loop over strings.
    """
    word = sequences[..., 1:]  # (..., 41)
    is_eos = word == EOS
    has_eos = is_eos.any(dim=-1)
    end = torch.where(has_eos, is_eos.int().argmax(dim=-1), word.shape[-1])
    inside = torch.arange(word.shape[-1], device=word.device) < end.unsqueeze(-1)
    letters = (word < LETTERS) | ~inside
    ordered = (word[..., 1:] >= word[..., :-1]) | ~inside[..., 1:]
    letter_ids = torch.arange(LETTERS, device=word.device)
    counts = ((word.unsqueeze(-1) == letter_ids) & inside.unsqueeze(-1)).sum(dim=-2)  # (..., 4)
    differences = counts - counts[..., :1]
    return has_eos & letters.all(dim=-1) & ordered.all(dim=-1) & (differences == tasks).all(dim=-1)


def next_symbol_loss(outputs: Tensor, sequences: Tensor) -> Tensor:
    """Teacher-forced cross-entropy per member: outputs (n, b, 41, 6), sequences (n, b, 42) -> (n,)."""
    return -target_log_probs(outputs, sequences[..., 1:]).mean(dim=(1, 2))


def one_hot(symbols: Tensor) -> Tensor:
    """Symbol ids (...) -> float one-hot inputs (..., 6).

    By comparison with the ids, not F.one_hot, which reads its input's range back to the host
    (a GPU sync that a CUDA graph of the training step cannot hold).
    """
    return (symbols.unsqueeze(-1) == torch.arange(SYMBOLS, device=symbols.device)).float()


def sample_strings(
    params: Params, spec: MemberSpec, seeds: Tensor, counter: int, count: int, *, kept: int
) -> tuple[Tensor, Tensor]:
    """``count`` strings sampled by each member, BOS first, and its log-probabilities on the last ``kept``.

    Returns sequences (n, count, 42) int64 and log_probs (n, kept, 41, 6) float32, the
    member's log-probabilities for positions 1..41 given each prefix. The uniform numbers
    come from the member's own stream (seed, ``counter``), so sampling is batched over the
    population without making members depend on each other.
    """
    n = seeds.shape[0]
    sample = torch.arange(count, device=seeds.device)
    symbols = torch.full((n, count), BOS, dtype=torch.int64, device=seeds.device)
    sequences, log_probs, state = [symbols], [], None
    for position in range(1, LENGTH):
        outputs, state = functional.step(params, spec, one_hot(symbols), state)  # (n, count, 6)
        step_log_probs = outputs.log_softmax(dim=-1)
        u = streams.uniform(seeds[:, None], STREAM_SAMPLE, counter, sample, position)  # (n, count)
        cdf = step_log_probs.exp().cumsum(dim=-1)
        symbols = (cdf < u.unsqueeze(-1)).sum(dim=-1).clamp_max(SYMBOLS - 1)
        sequences.append(symbols)
        log_probs.append(step_log_probs[:, count - kept :])
    return torch.stack(sequences, dim=-1), torch.stack(log_probs, dim=-2)


def training_bytes(spec: MemberSpec, batch_size: int) -> int:
    """Rough working memory of one member in a training step (activations kept for backward)."""
    per_position = spec.num_layers * 16 * spec.hidden_size + 4 * SYMBOLS
    return 2 * 4 * batch_size * (LENGTH - 1) * per_position


def sampling_bytes(spec: MemberSpec, count: int, kept: int) -> int:
    """Rough working memory of one member sampling ``count`` strings, keeping ``kept`` log-probs."""
    state = 4 * count * spec.num_layers * 8 * spec.hidden_size
    return state + 8 * count * LENGTH + 4 * math.prod((kept, LENGTH - 1, SYMBOLS)) * 2


@dataclass(frozen=True)
class FormalLanguageOptions:
    """The family's own recipe settings: strings sampled per snapshot for performance and probes."""

    performance_samples: int = 1000
    probe_sequences: int = 100


class FormalLanguages:
    """The formal-language task family, as the population trainer and the builder use it."""

    name = "formal-languages"
    title = "Formal-language"  # the zoo's name in words: "Formal-language LSTM zoo"
    summary_metric = "performance"

    def __init__(self, spec: MemberSpec, options: FormalLanguageOptions) -> None:
        if (spec.input_size, spec.output_size) != (SYMBOLS, SYMBOLS):
            raise ValueError(f"formal-language members read and predict {SYMBOLS} symbols, got {spec}")
        self.spec = spec
        self.options = options
        self.description = (
            "Recurrent networks trained as generative models of occurrence-difference languages "
            "a^n b^(n+m_b) c^(n+m_c) d^(n+m_d) over the task vectors [0, m_b, m_c, m_d], "
            "m in {-3, ..., 2} (216 tasks), with teacher-forced next-symbol cross-entropy on "
            "BOS + word + EOS padding (42 symbols; ids a, b, c, d, BOS, EOS = 0..5). Training "
            "draws n uniformly from [max(0, -min m), 10), further limited so that the word and "
            "its EOS fit into 41 symbols (the paper's sampler cut longer words instead). "
            f"`performance` is the fraction of {options.performance_samples} strings sampled "
            "from the member whose word before the first EOS is in the language (order and "
            f"counts checked). `sequences` are {options.probe_sequences} further strings "
            "sampled from the member, `log_probs` its log-probabilities on them. Splits by "
            "task: the 15 % highest-entropy tasks are ood, the rest a fixed 70/15 shuffle."
        )

    def schema(self) -> ZooSchema:
        probes, length = self.options.probe_sequences, LENGTH
        return ZooSchema(
            self.spec,
            metadata=(
                Column("task", "int64", (4,), "occurrence differences [0, m_b, m_c, m_d]"),
                Column("performance", "float32", (), "fraction of sampled strings in the language"),
                Column("train_loss", "float32", (), "mean training loss since the previous snapshot"),
                Column("weight_decay", "float32", (), "AdamW weight decay of the run"),
            ),
            probes=(
                Column("sequences", "uint8", (probes, length), "strings sampled from the member, BOS first"),
                Column(
                    "log_probs",
                    "float16",
                    (probes, length - 1, SYMBOLS),
                    "member log-probabilities for positions 1..41 given each prefix",
                ),
            ),
        )

    def draw_tasks(self, count: int, seed: int) -> list[tuple[tuple[float, ...], str]]:
        return draw_tasks(count, seed)

    def task_tensor(self, runs: Sequence[Run], device: torch.device) -> Tensor:
        return torch.tensor([run.task for run in runs], dtype=torch.int64, device=device)

    def batch(
        self, tasks: Tensor, seeds: Tensor, step: int | Tensor, batch_size: int
    ) -> tuple[Tensor, Tensor]:
        strings = training_strings(tasks, seeds, step, batch_size)
        return one_hot(strings[..., :-1]), strings

    def loss(self, outputs: Tensor, targets: Tensor) -> Tensor:
        return next_symbol_loss(outputs, targets)

    def member_bytes(self, batch_size: int) -> int:
        count = self.options.performance_samples + self.options.probe_sequences
        kept = self.options.probe_sequences
        return max(training_bytes(self.spec, batch_size), sampling_bytes(self.spec, count, kept))

    def snapshot_columns(
        self, params: Mapping[str, Tensor], runs: Sequence[Run], step: int, train_loss: Tensor
    ) -> dict[str, np.ndarray]:
        device = train_loss.device
        seeds = torch.tensor([run.seed for run in runs], dtype=torch.int64, device=device)
        tasks = self.task_tensor(runs, device)
        judged, probes = self.options.performance_samples, self.options.probe_sequences
        sequences, log_probs = sample_strings(params, self.spec, seeds, step, judged + probes, kept=probes)
        performance = accepts(sequences[:, :judged], tasks[:, None, :]).float().mean(dim=1)
        return {
            "task": tasks.cpu().numpy(),
            "performance": performance.cpu().numpy().astype(np.float32),
            "train_loss": train_loss.cpu().numpy().astype(np.float32),
            "weight_decay": np.array([run.weight_decay for run in runs], dtype=np.float32),
            "sequences": sequences[:, judged:].cpu().numpy().astype(np.uint8),
            "log_probs": log_probs.cpu().numpy().astype(np.float16),
        }

    @staticmethod
    def oracle_features(columns: Mapping[str, np.ndarray]) -> Tensor | None:
        """What the metadata says about each member (the bench's oracle): its task's occurrence
        differences, its snapshot and its weight decay, (n, f); None without task and step columns."""
        from rnn_zoo.tasks import metadata_features as features

        if not features.has_columns(columns, ("task", "step")) or np.ndim(columns["task"]) != 2:
            return None
        task = features.occurrence_difference_features(columns["task"])
        snapshot = features.snapshot_features(columns["step"])
        return torch.cat([task, snapshot, *features.hyperparameter_features(columns)], dim=1)
