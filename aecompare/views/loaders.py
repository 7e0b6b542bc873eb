"""Data the dashboard loads once per process and shares with every visitor (never mutated).

MNIST comes from `aecompare.data.load_mnist` without the Keras download (no TensorFlow here).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from ..catalog import Catalog, load_catalog
from ..compare import test_set_errors
from ..data import Mnist, MnistError, load_mnist


@st.cache_resource(show_spinner="Loading MNIST ...")
def mnist_or_error() -> tuple[Mnist | None, str | None]:
    """(MNIST, None) or (None, the MnistError message): the page shows the message, never a traceback."""
    try:
        return load_mnist(download=False), None
    except MnistError as e:
        return None, str(e)


@st.cache_resource(show_spinner="Loading models ...")
def catalog(models_dir: str) -> Catalog:
    """Every run in the folder (numpy weights, histories, probes), loaded once per process."""
    return load_catalog(Path(models_dir))


@st.cache_resource(show_spinner=False)
def test_x_unit() -> np.ndarray | None:
    """The 10,000 test images as float32 (n, 784) on [0, 1] (31 MB, shared)."""
    m, _ = mnist_or_error()
    if m is None:
        return None
    x = m.test_x.reshape(-1, 784).astype(np.float32) / 255
    x.setflags(write=False)
    return x


@st.cache_resource(show_spinner="Reconstructing the 10,000 test images with each model ...")
def test_errors(models_dir: str, name: str) -> dict | None:
    """`compare.test_set_errors` for one model over the full test set (shared, read-only)."""
    runs = catalog(models_dir).by_name(name)
    m, _ = mnist_or_error()
    x = test_x_unit()
    if not runs or m is None or x is None:
        return None
    return test_set_errors(runs[0], x, m.test_y)
