"""The canonical zoo member: its spec and module, the cell families and their population layers, its symmetry."""
