"""Zoo recipes (one TOML file per zoo), installed as ``rnn_zoo.recipes``."""
