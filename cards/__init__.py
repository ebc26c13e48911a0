"""Dataset-card templates, installed as ``rnn_zoo.cards``."""
