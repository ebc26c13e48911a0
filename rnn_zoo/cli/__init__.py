"""The ``rnn-zoo`` command line: a thin layer over the library, one module per command group.

The group and what commands share are in :mod:`rnn_zoo.cli.main`; importing this package
registers every command on it. Commands import the library only when they run.
"""

from rnn_zoo.cli import bench, build, publish, zoo
from rnn_zoo.cli.main import main

__all__ = ["bench", "build", "main", "publish", "zoo"]
