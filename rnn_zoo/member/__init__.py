"""The canonical zoo member: its spec and module, the population LSTM layer, its symmetry."""
