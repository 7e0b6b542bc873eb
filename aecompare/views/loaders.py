"""The dashboard's data, loaded once per server process and shared, read-only, by every visitor.

One chain, as in Streamlit's demo apps:
    catalog(models_dir)        the trained runs (weights, histories, probe digits)
    test_set()                 the test images (uint8) and labels; test_x_unit(): as float32 on [0, 1]
    results_note(models_dir)   None if the stored results are fresh, else why not (cheap: no computing)
    results(models_dir)        the stored results if fresh; otherwise computed live, once per process
The app never trains and, while the stored results are fresh, never runs the test set through a model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import streamlit as st

from .. import results as stored_results
from ..analysis import Results, analyse
from ..catalog import Catalog, load_catalog
from ..data import Dataset, MnistError, TestSet, load_mnist, load_test_set, unit_images
from .server import read_only, serialise_heavy


@st.cache_resource(show_spinner="Loading models ...")
def catalog(models_dir: str) -> Catalog:
    """Every run in the folder, loaded once per process."""
    return read_only(load_catalog(Path(models_dir)))


@st.cache_resource(show_spinner="Loading the test images ...")
def test_set() -> tuple[TestSet | None, str | None]:
    """(the test set, None) or (None, why it could not be loaded): the page shows the message, never a traceback."""
    try:
        return read_only(load_test_set()), None
    except MnistError as e:
        return None, str(e)


@st.cache_resource(show_spinner=False)
def test_x_unit() -> np.ndarray | None:
    """The test images as float32 (n, 784) on [0, 1] (31 MB, shared)."""
    test, _ = test_set()
    return None if test is None else read_only(unit_images(test.x))


@st.cache_resource(show_spinner=False)
def _fresh_stored(models_dir: str) -> tuple[Results | None, str | None]:
    """The stored results if they match the models and test images now loaded, else (None, why not)."""
    test, _ = test_set()
    if test is None:
        return None, None  # the test set's own message says it all
    where = str(Path(models_dir).name)
    try:
        stored = stored_results.read(Path(models_dir))
    except stored_results.ResultsError as e:
        return None, str(e).replace(str(Path(models_dir)), where)
    if stored is None:
        return None, f"{where}/ holds no stored results"
    current = stored_results.fingerprint(catalog(models_dir), test.sha256)
    reasons = stored.stale_reasons(current)
    if reasons:
        return None, f"the stored results in {stored_results.relative(stored.path, Path(models_dir))} are stale: " + \
            "; ".join(reasons)
    return read_only(stored.results), None


def fresh_results(models_dir: str) -> Results | None:
    """The stored results if they are fresh, else None (nothing is computed)."""
    return _fresh_stored(models_dir)[0]


def results_note(models_dir: str) -> str | None:
    """What to tell the visitor when the stored results cannot be used, naming the file and the command."""
    _, why = _fresh_stored(models_dir)
    if why is None:
        return None
    return (f"{why[0].upper()}{why[1:]}. The test-set figures below are computed live instead (once per server, "
            f"which takes a while) and t-SNE is left out. Rebuild them with `{stored_results.REBUILD}`.")


def results(models_dir: str) -> Results | None:
    """Fresh stored results, or the same figures computed live; None without test images."""
    fresh, _ = _fresh_stored(models_dir)
    return fresh if fresh is not None else _live_results(models_dir)


@st.cache_resource(show_spinner="Computing every model's test-set figures (no fresh stored results) ...")
@serialise_heavy
def _live_results(models_dir: str) -> Results | None:
    """`analysis.analyse` here and now: with the training images where they are installed (baselines and
    probes), else over the test images alone."""
    test, _ = test_set()
    if test is None:
        return None
    try:
        data = load_mnist(download=False)
    except MnistError:
        data = Dataset(None, None, test.x, test.y, source=f"committed {test.name} test set", name=test.name)
    return read_only(analyse(catalog(models_dir), data, tsne_n=0, test_x_unit=test_x_unit()))
