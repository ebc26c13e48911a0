"""The formal-language task family: languages, the string sampler, acceptance and the split rule."""

from __future__ import annotations

import math
from collections import Counter

import pytest
import torch

from rnn_zoo.member.spec import Member, MemberSpec
from rnn_zoo.tasks import formal_languages as fl
from rnn_zoo.tasks import formal_tasks as ft
from tests.reference import stack_members

SYMBOL_IDS = {"a": fl.A, "b": fl.B, "c": fl.C, "d": fl.D, "^": fl.BOS, "$": fl.EOS}


def make_string(text: str) -> torch.Tensor:
    """BOS + ``text`` (letters, ^ for BOS, $ for EOS) + EOS padding, 42 ids."""
    ids = [fl.BOS] + [SYMBOL_IDS[char] for char in text]
    return torch.tensor(ids + [fl.EOS] * (fl.LENGTH - len(ids)))


@pytest.mark.parametrize(
    ("task", "text", "accepted"),
    [
        ((0, 0, 0, 0), "", True),
        ((0, 0, 0, 0), "abcd", True),
        ((0, 0, 0, 0), "aabbccdd", True),
        ((0, 0, 0, 0), "abdc", False),  # counts right, order wrong
        ((0, 0, 0, 0), "aabbcd", False),
        ((0, 1, -1, 0), "abbd", True),  # n = 1: a bb d
        ((0, 1, -1, 0), "abbcd", False),
        ((0, -3, 2, 1), "aaacccccdddd", True),  # n = 3, no b
        ((0, -3, 2, 1), "ccd", False),  # n = 0 is too small
        ((0, 2, 0, -1), "abbbc", True),
        ((0, 2, 0, -1), "abbbc$aaaa", True),  # what follows the first EOS does not count
        ((0, 2, 0, -1), "abb^bc", False),  # BOS inside the word
        ((0, 0, 0, 0), "ba", False),
    ],
)
def test_acceptance_of_hand_written_strings(task: tuple, text: str, accepted: bool) -> None:
    result = fl.accepts(make_string(text)[None], torch.tensor([task]))
    assert result.tolist() == [accepted]


def test_a_string_without_eos_is_rejected() -> None:
    no_eos = torch.tensor([[fl.BOS] + [fl.A] * (fl.LENGTH - 1)])
    assert not fl.accepts(no_eos, torch.tensor([[0, -3, -3, -3]])).item()


def test_every_sampled_training_string_is_accepted_and_ends_in_eos() -> None:
    tasks = ft.all_tasks()
    seeds = torch.arange(len(tasks)) * 7919 + 3
    for step in (0, 1, 999):
        strings = fl.training_strings(tasks, seeds, step, batch_size=64)  # (216, 64, 42)
        assert (strings[..., 0] == fl.BOS).all()
        assert (strings[..., -1] == fl.EOS).all()  # the word and its EOS always fit
        assert fl.accepts(strings, tasks[:, None, :]).all()


def test_sampler_covers_exactly_the_n_that_fit() -> None:
    tasks = ft.all_tasks()
    strings = fl.training_strings(tasks, torch.arange(len(tasks)), step=5, batch_size=400)
    drawn_n = (strings == fl.A).sum(-1)  # (216, 400)
    for task, drawn in zip(tasks.tolist(), drawn_n, strict=True):
        fitting = [n for n in range(max(0, -min(task)), 10) if 4 * n + sum(task) + 1 <= 41]
        assert sorted(set(drawn.tolist())) == fitting


def test_task_entropy_against_hand_computed_values() -> None:
    # [0, -3, 2, 2]: t' = [4, 1, 6, 6] / 17
    expected = -sum(p * math.log(p) for p in (4 / 17, 1 / 17, 6 / 17, 6 / 17))
    got = ft.task_entropy(torch.tensor([[0, -3, 2, 2], [0, 0, 0, 0]]))
    assert got[0].item() == pytest.approx(expected, rel=1e-12)
    assert got[1].item() == pytest.approx(math.log(4), rel=1e-12)


def test_split_rule_gives_151_32_33_with_ood_the_highest_entropy_tasks() -> None:
    splits = ft.task_splits()
    assert len(splits) == 216
    assert Counter(splits.values()) == {"train": 151, "validation": 32, "ood": 33}
    entropy = dict(
        zip(map(tuple, ft.all_tasks().tolist()), ft.task_entropy(ft.all_tasks()).tolist(), strict=True)
    )
    lowest_ood = min(entropy[t] for t, s in splits.items() if s == "ood")
    highest_other = max(entropy[t] for t, s in splits.items() if s != "ood")
    assert lowest_ood >= highest_other
    assert splits[(0, 0, 0, 0)] == "ood"
    assert ft.task_splits() == splits  # fixed, not drawn


def test_drawn_tasks_cover_every_split_first_and_use_each_task_once_per_block() -> None:
    drawn = fl.draw_tasks(216 + 5, seed=4)
    assert [split for _, split in drawn[:3]] == ["train", "validation", "ood"]
    assert len({task for task, _ in drawn[:216]}) == 216
    assert fl.draw_tasks(10, seed=4) == drawn[:10]  # a run's task does not depend on the run count
    assert fl.draw_tasks(10, seed=5) != drawn[:10]
    splits = ft.task_splits()
    assert all(splits[task] == split for task, split in drawn)


def test_sampled_log_probs_are_the_members_own_outputs_on_the_sampled_strings() -> None:
    spec = MemberSpec(6, 8, 2, 6)
    with torch.random.fork_rng():
        torch.manual_seed(0)
        members = [Member(spec) for _ in range(2)]
    params = stack_members(members)
    with torch.no_grad():
        sequences, log_probs = fl.sample_strings(params, spec, torch.tensor([5, 6]), 0, 7, kept=3)
        assert sequences.shape == (2, 7, 42) and log_probs.shape == (2, 3, 41, 6)
        assert (sequences[..., 0] == fl.BOS).all()
        for index, member in enumerate(members):
            outputs, _ = member(fl.one_hot(sequences[index, 4:, :-1]))
            torch.testing.assert_close(log_probs[index], outputs.log_softmax(-1), rtol=1e-5, atol=1e-5)
