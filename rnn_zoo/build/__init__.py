"""Building zoos: recipes, the population trainer, run planning, the builder, its output folder."""
