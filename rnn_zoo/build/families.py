"""The task families a recipe can name: a registry from task name to the function that builds one."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from rnn_zoo.build.recipe import Recipe
from rnn_zoo.errors import ZooError
from rnn_zoo.tasks.family import DataSources, TaskFamily, options_from

Architecture = Mapping[str, Any]  # MemberSpec fields beyond the task's input and output sizes
FamilyOf = Callable[[Architecture], TaskFamily]  # the task family of members of one architecture


def _formal_languages(recipe: Recipe, data: DataSources) -> FamilyOf:
    from rnn_zoo.member.spec import MemberSpec
    from rnn_zoo.tasks.formal_languages import SYMBOLS, FormalLanguageOptions, FormalLanguages

    options = options_from(FormalLanguageOptions, recipe.task_options, recipe.task)
    return lambda architecture: FormalLanguages(
        MemberSpec(input_size=SYMBOLS, output_size=SYMBOLS, **architecture), options
    )


def _mnist(recipe: Recipe, data: DataSources) -> FamilyOf:
    from rnn_zoo.member.spec import MemberSpec
    from rnn_zoo.tasks.mnist import load_mnist
    from rnn_zoo.tasks.mnist.family import INPUTS, MnistOptions, SequentialMnist
    from rnn_zoo.tasks.mnist.images import CLASSES

    options = options_from(MnistOptions, recipe.task_options, recipe.task)
    images = load_mnist(data.mnist, data.mnist_dir)  # once, shared by every architecture
    return lambda architecture: SequentialMnist(
        MemberSpec(input_size=INPUTS, output_size=CLASSES, **architecture), options, images
    )


TASK_FAMILIES: dict[str, Callable[[Recipe, DataSources], FamilyOf]] = {
    "formal-languages": _formal_languages,
    "mnist": _mnist,
}


def task_families(recipe: Recipe, data: DataSources | None = None) -> list[TaskFamily]:
    """The task family of each architecture of a recipe, in its order, configured by its task_options.

    ``data`` says where families with external data (MNIST) find it; loading it here means
    a build fails before it writes anything when the data cannot be had.
    """
    if recipe.task not in TASK_FAMILIES:
        raise ZooError(f"unknown task {recipe.task!r}; choose one of: {', '.join(TASK_FAMILIES)}")
    family_of = TASK_FAMILIES[recipe.task](recipe, data or DataSources())
    return [family_of(architecture) for architecture in recipe.architectures()]


def task_family(recipe: Recipe, data: DataSources | None = None) -> TaskFamily:
    """The task family of a recipe of one architecture (see :func:`task_families`)."""
    families = task_families(recipe, data)
    if len(families) != 1:
        raise ZooError(f"recipe {recipe.variant!r} of task {recipe.task!r} has {len(families)} architectures")
    return families[0]
