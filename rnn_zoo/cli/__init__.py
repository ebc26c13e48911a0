"""The ``rnn-zoo`` command line: a thin layer over the library."""
