"""Task families: what the members of a zoo learn, in one registry (:mod:`rnn_zoo.tasks.registry`).

A family is one class (:class:`rnn_zoo.tasks.family.TaskFamily`) plus its recipe; the builder,
the bench, the report and the command line ask the family that a zoo's zoo.json names.
"""

from rnn_zoo.tasks.registry import (
    family_names,
    family_of,
    get_family,
    outdated_probes,
    recipe_version,
    register_family,
    runs_for_ood_tasks,
    unregister_family,
)

__all__ = [
    "family_names",
    "family_of",
    "get_family",
    "outdated_probes",
    "recipe_version",
    "register_family",
    "runs_for_ood_tasks",
    "unregister_family",
]
