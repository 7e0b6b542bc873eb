"""The dashboard's catalog defers parsing the files of the seeds it does not draw: same runs, same checks."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from aecompare.store import artifacts
from aecompare.store.artifacts import PROBES_SEED, ArtifactError
from aecompare.store.catalog import load_catalog

from conftest import REPO

MODELS = REPO / "models"
needs_models = pytest.mark.skipif(not (MODELS / "manifest.json").exists(), reason="no committed models")


@needs_models
def test_deferred_runs_are_the_eager_ones():
    eager, deferred = load_catalog(MODELS), load_catalog(MODELS, defer_seeds=True)
    assert deferred.problems == eager.problems == []
    assert [(r.name, r.seed) for r in deferred.runs] == [(r.name, r.seed) for r in eager.runs]
    assert any(r.seed != PROBES_SEED for r in deferred.runs)
    for a, b in zip(eager.runs, deferred.runs):
        for la, lb in zip(a.layers, b.layers, strict=True):
            assert la.name == lb.name and la.activation == lb.activation
            assert np.array_equal(la.kernel, lb.kernel) and np.array_equal(la.bias, lb.bias)
            assert not lb.kernel.flags.writeable
        assert a.history == b.history
        assert (a.probes is None) == (b.probes is None)
        for k in a.probes or {}:
            assert np.array_equal(a.probes[k], b.probes[k]) and not b.probes[k].flags.writeable


def one_run_folder(tmp_path: Path, seed: int) -> tuple[Path, dict]:
    """A models folder holding one committed run of norm-sigmoid-bce (the given seed); its manifest entry."""
    manifest = json.loads((MODELS / "manifest.json").read_text())
    entry = next(e for e in manifest["models"] if e["name"] == "norm-sigmoid-bce" and e["seed"] == seed)
    models = tmp_path / "models"
    shutil.copytree(MODELS / entry["path"], models / entry["path"])
    (models / "manifest.json").write_text(json.dumps({**manifest, "models": [entry]}))
    return models, entry


def forge_weights(models: Path, entry: dict) -> Path:
    """Replace the run's weights by NaNs of the right shapes and enter the new file's sha256 in the manifest:
    only parsing the file can tell."""
    path = models / entry["path"] / "weights.npz"
    with np.load(path) as z:
        arrays = {k: np.full_like(z[k], np.nan) for k in z.files}
    path.write_bytes(artifacts.npz_bytes(**arrays))
    entry = {**entry, "files": {**entry["files"], "weights.npz": hashlib.sha256(path.read_bytes()).hexdigest()}}
    manifest = json.loads((models / "manifest.json").read_text())
    (models / "manifest.json").write_text(json.dumps({**manifest, "models": [entry]}))
    return path


@needs_models
def test_a_deferred_file_that_does_not_parse_is_refused_when_first_used(tmp_path):
    models, entry = one_run_folder(tmp_path, seed=1)
    path = forge_weights(models, entry)
    eager = load_catalog(models)
    assert eager.runs == [] and len(eager.problems) == 1 and str(path) in eager.problems[0]
    deferred = load_catalog(models, defer_seeds=True)
    assert deferred.problems == [] and len(deferred.runs) == 1
    with pytest.raises(ArtifactError, match="NaN") as refused:
        deferred.runs[0].weights.get()
    assert str(path) in str(refused.value)


@needs_models
def test_a_deferred_file_changed_after_loading_is_refused_when_first_used(tmp_path):
    models, entry = one_run_folder(tmp_path, seed=1)
    deferred = load_catalog(models, defer_seeds=True)
    assert deferred.problems == [] and len(deferred.runs) == 1
    path = models / entry["path"] / "weights.npz"
    path.write_bytes(path.read_bytes()[:-10])
    with pytest.raises(ArtifactError, match="sha256"):
        deferred.runs[0].weights.get()


@needs_models
def test_the_seed_the_views_draw_is_parsed_and_checked_when_loading(tmp_path):
    models, entry = one_run_folder(tmp_path, seed=PROBES_SEED)
    path = forge_weights(models, entry)
    deferred = load_catalog(models, defer_seeds=True)
    assert deferred.runs == [] and len(deferred.problems) == 1 and str(path) in deferred.problems[0]


def test_the_default_models_folder_is_the_checkouts(monkeypatch):
    """What `streamlit run dashboard.py` and the command lines read when AECOMPARE_MODELS is not set."""
    from aecompare.store.artifacts import default_models_dir

    monkeypatch.delenv("AECOMPARE_MODELS", raising=False)
    assert default_models_dir() == MODELS
    monkeypatch.setenv("AECOMPARE_MODELS", "/elsewhere/models")
    assert default_models_dir() == Path("/elsewhere/models")
