"""Keras: a registry entry as a model, the trainer that trains groups of them, Ray tasks, and converting runs of
the old Keras format. Imported only by `python -m aecompare.train` (the dashboard never imports TensorFlow)."""
