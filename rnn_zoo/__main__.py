"""``python -m rnn_zoo``: the ``rnn-zoo`` command line."""

from rnn_zoo.cli import main

main(prog_name="rnn-zoo")
