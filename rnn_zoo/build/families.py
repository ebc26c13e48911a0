"""The task families of a recipe: its task's family (from :mod:`rnn_zoo.tasks.registry`), one per architecture."""

from __future__ import annotations

from rnn_zoo.build.recipe import Recipe
from rnn_zoo.errors import ZooError
from rnn_zoo.member.spec import MemberSpec
from rnn_zoo.tasks.family import DataSources, TaskFamily
from rnn_zoo.tasks.registry import get_family

__all__ = ["DataSources", "task_families", "task_family"]


def task_families(recipe: Recipe, data: DataSources | None = None) -> list[TaskFamily]:
    """The task family of each architecture of a recipe, in its order, configured by its task_options.

    ``data`` says where families with external data (MNIST) find it; loading it here means
    a build fails before it writes anything when the data cannot be had.
    """
    family = get_family(recipe.task)
    make = family.configure(recipe.task_options, data or DataSources())
    sizes = {"input_size": family.input_size, "output_size": family.output_size}
    return [make(MemberSpec(**sizes, **architecture)) for architecture in recipe.architectures()]


def task_family(recipe: Recipe, data: DataSources | None = None) -> TaskFamily:
    """The task family of a recipe of one architecture (see :func:`task_families`)."""
    families = task_families(recipe, data)
    if len(families) != 1:
        raise ZooError(f"recipe {recipe.variant!r} of task {recipe.task!r} has {len(families)} architectures")
    return families[0]
