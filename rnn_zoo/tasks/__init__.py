"""Task families: what the members of a zoo learn. A registry maps a task name to its family."""

from __future__ import annotations

from collections.abc import Callable

from rnn_zoo.errors import ZooError
from rnn_zoo.recipe import Recipe, options_from
from rnn_zoo.train import TaskFamily


def _formal_languages(recipe: Recipe) -> TaskFamily:
    from rnn_zoo.lstm import MemberSpec
    from rnn_zoo.tasks.formal_languages import SYMBOLS, FormalLanguageOptions, FormalLanguages

    spec = MemberSpec(SYMBOLS, recipe.hidden_size, recipe.num_layers, SYMBOLS)
    return FormalLanguages(spec, options_from(FormalLanguageOptions, recipe.task_options, recipe.task))


TASK_FAMILIES: dict[str, Callable[[Recipe], TaskFamily]] = {
    "formal-languages": _formal_languages,
}


def task_family(recipe: Recipe) -> TaskFamily:
    """The task family a recipe trains, configured by the recipe's task_options."""
    if recipe.task not in TASK_FAMILIES:
        raise ZooError(f"unknown task {recipe.task!r}; choose one of: {', '.join(TASK_FAMILIES)}")
    return TASK_FAMILIES[recipe.task](recipe)
