"""The dashboard's data, loaded once per server process and shared, read-only, by every visitor.

One chain, as in Streamlit's demo apps:
    catalog(models_dir)        the trained runs (weights, histories, probe digits)
    test_set(dataset)          the test images (uint8) and labels; mean_lit_pixels(dataset): a fact of them
    results_note(models_dir)   None if the stored results are fresh, else why not (cheap: no computing)
    results(models_dir)        the stored results if fresh; otherwise computed live, once per process
The app never trains and, while the stored results are fresh, never runs the test set through a model.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import streamlit as st

from ..data import DataError, Dataset, TestSet, chunks, load_dataset, load_test_set, unit_images
from ..evaluation import results as stored_results
from ..evaluation.analysis import Results, analyse_datasets
from ..evaluation.evidence import questions_evidence
from ..maths.explain import lit_pixel_counts
from ..store.artifacts import ArtifactError
from ..store.catalog import Catalog, load_catalog
from . import legend
from .server import read_only, serialise_heavy


@st.cache_resource(show_spinner="Loading models ...")
def catalog(models_dir: str) -> Catalog:
    """Every run in the folder, loaded once per process (the files of seeds the views do not draw are checked, and
    parsed when first used: `catalog.Deferred`)."""
    return read_only(load_catalog(Path(models_dir), defer_seeds=True))


@st.cache_resource(show_spinner="Loading the test images ...")
def test_set(dataset: str = "mnist") -> tuple[TestSet | None, str | None]:
    """(the dataset's committed test set, None) or (None, why it could not be loaded): the page shows the
    message, never a traceback."""
    try:
        return read_only(load_test_set(dataset)), None
    except DataError as e:
        return None, str(e)


@st.cache_resource(show_spinner=False)
def mean_lit_pixels(dataset: str = "mnist") -> float | None:
    """How many pixels of a test image are lit (> 0.5 on [0, 1]), on average over the test set."""
    test, _ = test_set(dataset)
    if test is None:
        return None
    return float(np.concatenate([lit_pixel_counts(unit_images(chunk)) for chunk in chunks(test.x)]).mean())


def _datasets(models_dir: str) -> list[str]:
    """The datasets the runs train on, and MNIST (its baselines are in every table)."""
    return sorted({r.exp.dataset for r in catalog(models_dir).runs} | {"mnist"})


@st.cache_resource(show_spinner=False)
def _fresh_stored(models_dir: str) -> tuple[Results | None, str | None]:
    """The stored results if they match the models and test images now loaded, else (None, why not)."""
    tests = {d: test_set(d)[0] for d in _datasets(models_dir)}
    if any(t is None for t in tests.values()):
        return None, None  # the test set's own message says it all
    where = str(Path(models_dir).name)
    try:
        stored = stored_results.read(Path(models_dir))
    except stored_results.ResultsError as e:
        return None, str(e).replace(str(Path(models_dir)), where)
    if stored is None:
        return None, f"{where}/ holds no stored results"
    current = stored_results.fingerprint(catalog(models_dir), {d: t.sha256 for d, t in tests.items()})
    reasons = stored.stale_reasons(current)
    if reasons:
        return None, f"the stored results in {stored_results.relative(stored.path, Path(models_dir))} are stale: " + \
            "; ".join(reasons)
    return read_only(stored.results), None


def fresh_results(models_dir: str) -> Results | None:
    """The stored results if they are fresh, else None (nothing is computed)."""
    return _fresh_stored(models_dir)[0]


@st.cache_resource(show_spinner=False)
def legend_lines(models_dir: str) -> list[str]:
    """The sidebar's line per model, verdicts from the fresh stored results (`legend.model_lines`)."""
    return legend.model_lines(catalog(models_dir), fresh_results(models_dir))


def results_note(models_dir: str) -> str | None:
    """What to tell the visitor when the stored results cannot be used, naming the file and the command."""
    _, why = _fresh_stored(models_dir)
    if why is None:
        return None
    return (f"{why[0].upper()}{why[1:]}. The test-set figures below are computed live instead (once per server, "
            f"which takes a while) and t-SNE is left out. Rebuild them with `{stored_results.REBUILD}`.")


def results(models_dir: str) -> Results | None:
    """Fresh stored results, or the same figures computed live; None without test images (or, with a message on
    the page, when a model file no longer reads as it did when the catalog was loaded)."""
    fresh, _ = _fresh_stored(models_dir)
    if fresh is not None:
        return fresh
    live, problem = _live_results(models_dir)
    if problem:
        st.error(problem)
    return live


@st.cache_resource(show_spinner="Computing every model's test-set figures (no fresh stored results) ...")
@serialise_heavy
def _live_results(models_dir: str) -> tuple[Results | None, str | None]:
    """`analysis.analyse_datasets` here and now: with the training images where they are installed (baselines
    and probes), else over the committed test images alone."""
    datasets = {}
    for name in _datasets(models_dir):
        test, _ = test_set(name)
        if test is None:
            return None, None
        try:
            datasets[name] = load_dataset(name, download=False)
        except DataError:
            datasets[name] = Dataset(None, None, test.x, test.y, source=f"committed {name} test set", name=name)
    try:
        return read_only(analyse_datasets(catalog(models_dir), datasets, tsne_n=0)), None
    except ArtifactError as e:  # a deferred weights file changed since the catalog was loaded
        return None, f"{e} (then restart the app)"


@st.cache_resource(show_spinner="Reading the models' records for the three questions ...")
@serialise_heavy
def question_evidence(models_dir: str, dataset: str = "mnist") -> dict:
    """`evidence.questions_evidence` of the folder's runs on one dataset's test images, once per process."""
    runs = catalog(models_dir)
    test, _ = test_set(dataset)
    figures = results(models_dir)
    return read_only(questions_evidence(replace(runs, runs=[r for r in runs.runs if r.exp.dataset == dataset]),
                                        None if test is None else test.x,
                                        None if figures is None else figures.output_stats))
