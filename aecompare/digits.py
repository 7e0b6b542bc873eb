"""Which test digits to show: the first of each class, typed indices, a seeded random draw, or a
model's best and worst reconstructions. Pure numpy; indices into the 10,000 test images."""

from __future__ import annotations

import numpy as np


def first_per_class(labels: np.ndarray, n: int) -> np.ndarray:
    """Indices of the first `n` images of each class (0-9), ordered by class: the probe digits that
    training records after every epoch are `first_per_class(test labels, 2)`."""
    labels = np.asarray(labels)
    return np.concatenate([np.flatnonzero(labels == d)[:n] for d in range(10)])


def choose_digits(mode: str, labels: np.ndarray, *, indices=(), seed: int = 0, n: int = 1,
                  per_image_error: np.ndarray | None = None) -> np.ndarray:
    """Test-set indices to show, for one of the sidebar's modes (see views.state.DIGIT_MODES)."""
    labels = np.asarray(labels)
    if mode == "typed":
        return np.array([i for i in indices if 0 <= i < len(labels)], dtype=int)
    if mode == "random":
        return np.sort(np.random.default_rng(seed).choice(len(labels), size=min(n, len(labels)), replace=False))
    if mode in ("worst", "best") and per_image_error is not None:
        order = np.argsort(per_image_error, kind="stable")
        return order[::-1][:n] if mode == "worst" else order[:n]
    return first_per_class(labels, n)
