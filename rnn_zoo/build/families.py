"""The task families a recipe can name: a registry from task name to the function that builds one."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rnn_zoo.build.recipe import Recipe, options_from
from rnn_zoo.errors import ZooError
from rnn_zoo.tasks.family import TaskFamily


@dataclass(frozen=True)
class DataSources:
    """Where families find data the recipe does not hold (the build's --mnist, --mnist-dir)."""

    mnist: str = "auto"
    mnist_dir: Path | None = None


def _formal_languages(recipe: Recipe, data: DataSources) -> TaskFamily:
    from rnn_zoo.member.lstm import MemberSpec
    from rnn_zoo.tasks.formal_languages import SYMBOLS, FormalLanguageOptions, FormalLanguages

    spec = MemberSpec(SYMBOLS, recipe.hidden_size, recipe.num_layers, SYMBOLS)
    return FormalLanguages(spec, options_from(FormalLanguageOptions, recipe.task_options, recipe.task))


def _mnist(recipe: Recipe, data: DataSources) -> TaskFamily:
    from rnn_zoo.member.lstm import MemberSpec
    from rnn_zoo.tasks.mnist import load_mnist
    from rnn_zoo.tasks.mnist.family import INPUTS, MnistOptions, SequentialMnist
    from rnn_zoo.tasks.mnist.images import CLASSES

    options = options_from(MnistOptions, recipe.task_options, recipe.task)
    spec = MemberSpec(INPUTS, recipe.hidden_size, recipe.num_layers, CLASSES)
    return SequentialMnist(spec, options, load_mnist(data.mnist, data.mnist_dir))


TASK_FAMILIES: dict[str, Callable[[Recipe, DataSources], TaskFamily]] = {
    "formal-languages": _formal_languages,
    "mnist": _mnist,
}


def task_family(recipe: Recipe, data: DataSources | None = None) -> TaskFamily:
    """The task family a recipe trains, configured by the recipe's task_options.

    ``data`` says where families with external data (MNIST) find it; loading it here means
    a build fails before it writes anything when the data cannot be had.
    """
    if recipe.task not in TASK_FAMILIES:
        raise ZooError(f"unknown task {recipe.task!r}; choose one of: {', '.join(TASK_FAMILIES)}")
    return TASK_FAMILIES[recipe.task](recipe, data or DataSources())
