"""Stored results: written once, read back equal, recomputed equal, and stale ones never shown as fresh."""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from aecompare.data import arrays_sha256
from aecompare.evaluation import analysis, results
from aecompare.store.catalog import load_catalog

from conftest import REPO

FLOAT_RTOL = 1e-6


def assert_results_equal(stored: analysis.Results, fresh: analysis.Results) -> None:
    """Floats within 1e-6 relative, accuracies and integers exactly, the same arrays under the same names."""
    table, expected = stored.table.reset_index(drop=True), fresh.table.reset_index(drop=True)
    assert list(table.columns) == list(expected.columns)
    assert table[["name", "kind"]].equals(expected[["name", "kind"]])
    for col in table.columns:
        a, b = table[col], expected[col]
        if col == "probe_accuracy" or not pd.api.types.is_float_dtype(b):
            pd.testing.assert_series_equal(a, b, check_dtype=False, obj=col)
        else:
            np.testing.assert_allclose(a.to_numpy(float), b.to_numpy(float), rtol=FLOAT_RTOL, err_msg=col)
    for part in ("per_class", "outputs"):
        pd.testing.assert_frame_equal(getattr(stored, part).reset_index(drop=True),
                                      getattr(fresh, part).reset_index(drop=True), rtol=FLOAT_RTOL, check_dtype=False)
    assert sorted(stored.arrays) == sorted(fresh.arrays)
    for key, value in fresh.arrays.items():
        np.testing.assert_allclose(stored.arrays[key], value, rtol=FLOAT_RTOL, atol=1e-12, err_msg=key)


def test_written_results_read_back_equal(tiny_models, small_mnist, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    catalog = load_catalog(models)
    computed = analysis.analyse(catalog, small_mnist, tsne_n=50)
    fp = results.fingerprint(catalog, {"mnist": arrays_sha256(small_mnist.test_x, small_mnist.test_y)})
    folder = results.write(models, computed, fp)
    stored = results.read(models)
    assert stored.path == folder and stored.fingerprint == fp and stored.stale_reasons(fp) == []
    assert_results_equal(stored.results, computed)
    # integers stay integers in the CSV a user downloads (seed 0, not 0.0)
    csv = (folder / "evaluation.csv").read_text().splitlines()
    header = csv[0].split(",")
    first_model = dict(zip(header, csv[1].split(",")))
    assert first_model["seed"] == "0" and first_model["epochs"] == "2" and first_model["batch_size"] == "100"
    assert len(list((models / results.RESULTS_DIR).iterdir())) == 1  # the superseded folder is gone
    assert load_catalog(models).problems == []


@pytest.mark.slow
def test_committed_results_equal_a_recomputation(committed_catalog, mnist, fashion_mnist):
    """Every stored figure recomputed from the committed models and MNIST: the same numbers."""
    stored = results.read(committed_catalog.models_dir)
    assert stored is not None, "models/ has no stored results: python -m aecompare.evaluate --write"
    datasets = {"mnist": mnist, "fashion-mnist": fashion_mnist}
    used = {r.exp.dataset for r in committed_catalog.runs} | {"mnist"}
    current = results.fingerprint(committed_catalog, {n: arrays_sha256(datasets[n].test_x, datasets[n].test_y)
                                                      for n in used},
                                  {n: arrays_sha256(datasets[n].train_x, datasets[n].train_y) for n in used})
    assert stored.stale_reasons(current) == []
    assert stored.fingerprint["train_images_sha256"] == current["train_images_sha256"]
    assert_results_equal(stored.results, analysis.analyse_datasets(committed_catalog, datasets))


def _retrain_in_place(models, run) -> None:
    """What a retrained run looks like to the results: one of its files and its sha256 in the manifest change."""
    history = models / run.entry["path"] / "history.json"
    record = json.loads(history.read_text())
    record["retrained"] = True
    history.write_text(json.dumps(record))
    doc = json.loads((models / "manifest.json").read_text())
    for entry in doc["models"]:
        if entry["name"] == run.name and entry["seed"] == run.seed:
            entry["files"]["history.json"] = hashlib.sha256(history.read_bytes()).hexdigest()
    (models / "manifest.json").write_text(json.dumps(doc))


def test_a_changed_model_makes_the_results_stale(tiny_models, mnist, tmp_path):
    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    stored = results.read(models)
    test_sha = {"mnist": arrays_sha256(mnist.test_x, mnist.test_y)}
    assert stored.stale_reasons(results.fingerprint(load_catalog(models), test_sha)) == []
    victim = load_catalog(models).runs[1]
    _retrain_in_place(models, victim)
    reasons = stored.stale_reasons(results.fingerprint(load_catalog(models), test_sha))
    assert reasons and f"{victim.name}/seed-{victim.seed}" in reasons[0]
    assert stored.stale_reasons(results.fingerprint(load_catalog(models), {"mnist": "other data"}))[0] == \
        "they were computed on other mnist test images"


@pytest.mark.slow
def test_dashboard_says_when_results_are_stale_and_computes_live(tiny_models, tmp_path, monkeypatch):
    from streamlit.testing.v1 import AppTest

    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    victim = load_catalog(models).runs[0]
    _retrain_in_place(models, victim)
    monkeypatch.setenv("AECOMPARE_MODELS", str(models))
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=300)
    at.query_params["tab"] = "Losses"
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    notes = [w.value for w in at.warning]
    assert len(notes) == 1, notes
    assert "stale" in notes[0] and f"{victim.name}/seed-{victim.seed}" in notes[0]
    assert results.REBUILD in notes[0] and "models/results/" in notes[0] and str(tmp_path) not in notes[0]
    assert at.dataframe, "the Losses tab still shows the table, computed live"


@pytest.mark.slow
def test_stored_results_need_no_scikit_learn_and_print_fast(tiny_models):
    """With fresh results, `evaluate` prints the stored table and every dashboard tab draws without
    importing scikit-learn, scikit-image or TensorFlow, and no tab runs the full test set through a model."""
    script = f"""
import sys, time
from streamlit.testing.v1 import AppTest
from aecompare import evaluate
from aecompare.maths import network
from aecompare.views import TABS
calls = []
forward = network.forward
def counting(layers, x, *a, **k):
    calls.append(len(x))
    return forward(layers, x, *a, **k)
network.forward = counting
import aecompare.store.catalog
aecompare.store.catalog.forward = counting
t = time.perf_counter()
assert evaluate.main(["--models", {str(tiny_models)!r}]) == 0
for tab in TABS:
    at = AppTest.from_file({str(REPO / "dashboard.py")!r}, default_timeout=300)
    at.query_params["tab"] = tab
    at.run()
    assert not at.exception, (tab, [e.value for e in at.exception])
print("LOADED", sorted(m for m in ("sklearn", "skimage", "tensorflow", "h5py") if m in sys.modules))
print("LARGEST", max(calls))
"""
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, cwd=REPO, timeout=600,
                         env={**__import__("os").environ, "AECOMPARE_MODELS": str(tiny_models)})
    assert out.returncode == 0, out.stderr[-3000:]
    assert "LOADED []" in out.stdout, out.stdout
    largest = int(out.stdout.split("LARGEST")[1].split()[0])
    assert largest < 10_000, f"a tab ran {largest} test images through a model"
