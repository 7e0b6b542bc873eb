"""The models folder: what a run's files must hold (schema), writing and reading them (artifacts), and every run
loaded and checked for reading (catalog)."""
