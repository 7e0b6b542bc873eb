"""The three question views render without exception: on the committed models, and with no models at all."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest

from aecompare.evaluation.evidence import questions_evidence
from aecompare.store.catalog import load_catalog

ROOT = Path(__file__).resolve().parents[1]
MODELS = ROOT / "models"


def _app(models_dir: str, with_mnist: bool):
    """The test script: build evidence, then call the three views (run by AppTest as a script)."""
    from aecompare.evaluation.evidence import questions_evidence
    from aecompare.store.catalog import load_catalog
    from aecompare.views.q1_bce import render_bce_floor, render_raw_targets, render_softmax
    from aecompare.views.q2_cross_entropy import render_cross_entropy
    from aecompare.views.q3_ce_vs_mse import render_losses_around, render_q3_models

    test_x = None
    if with_mnist:
        from aecompare.data import load_dataset

        test_x = load_dataset("mnist", download=False).test_x
    evidence = questions_evidence(load_catalog(models_dir), test_x)
    render_cross_entropy()
    render_bce_floor()
    render_softmax(evidence)
    render_raw_targets(evidence)
    render_losses_around()
    render_q3_models(evidence)


def _pyarrow_problem() -> str | None:
    """Streamlit draws every chart and table through pyarrow; None if it imports, else why not."""
    try:
        import pyarrow  # noqa: F401
    except ImportError as e:
        return f"pyarrow does not import with numpy {np.__version__}: {e} (fix the pins in requirements.in)"
    return None


PYARROW_PROBLEM = _pyarrow_problem()
needs_pyarrow = pytest.mark.skipif(PYARROW_PROBLEM is not None, reason=str(PYARROW_PROBLEM))


def test_pyarrow_imports():
    """One clear failure, rather than every render test failing inside Streamlit."""
    assert PYARROW_PROBLEM is None, PYARROW_PROBLEM


def _mnist_available() -> bool:
    try:
        from aecompare.data import load_dataset

        load_dataset("mnist", download=False)
    except Exception:
        return False
    return True


def _run(models_dir, with_mnist=False) -> AppTest:
    at = AppTest.from_function(_app, args=(str(models_dir), with_mnist), default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _text(at: AppTest) -> str:
    return "\n".join([m.value for m in at.markdown] + [c.value for c in at.caption] + [i.value for i in at.info])


@pytest.mark.skipif(not (MODELS / "manifest.json").exists(), reason="no trained models in models/")
@needs_pyarrow
def test_views_render_on_committed_models():
    at = _run(MODELS)
    text = _text(at)
    assert "2.3026 nats" in text  # Q2's -log(0.1)
    assert "?models=q3-sigmoid-bce,q3-sigmoid-mse" in text
    assert not at.error
    raw_table = next(d for d in at.dataframe if "diverged_epoch" in d.value)  # Q1's raw models, last epoch
    assert raw_table.value["diverged_epoch"].isna().any() and raw_table.proto.placeholder == "—"
    catalog = load_catalog(MODELS)
    for name in ("q3-sigmoid-bce", "q3-sigmoid-mse"):  # the norm chart's caption, from the run's own records
        history = catalog.by_name(name)[0].history
        first, last = history["initial"]["layers"][0]["fro_norm"], history["epochs"][-1]["layers"][0]["fro_norm"]
        assert f"{name} {first:.2f} → {last:.2f}" in text


@pytest.mark.skipif(not (MODELS / "manifest.json").exists() or not _mnist_available(),
                    reason="needs trained models and MNIST")
@needs_pyarrow
def test_views_render_on_committed_models_with_mnist():
    at = _run(MODELS, with_mnist=True)
    assert "lit pixels" in _text(at) or "1/k" in _text(at)


@needs_pyarrow
def test_views_render_with_no_models(tmp_path):
    at = _run(tmp_path / "nothing-here")
    text = _text(at)
    assert "2.3026 nats" in text
    assert "No Q3 model" in text and "No softmax model" in text


@needs_pyarrow
def test_cross_entropy_view_reacts_to_inputs(tmp_path):
    at = _run(tmp_path)
    at.text_input(key="q2_pred").input("[0.1 0.6 0.1 0.1 0.1]").run()
    assert not at.exception
    at.text_input(key="q2_pred").input("[0.1 0.5 0.4]").run()
    assert not at.exception
    assert any("3 entries but the label has 5" in e.value for e in at.error)
    at.text_input(key="q2_pred").input("[0.1 -0.5 0.1 0.1 1.2]").run()
    assert any("negative" in e.value for e in at.error)
    at.text_input(key="q2_pred").input("[0.1 0.5 0.1 0.1 0.2]").run()
    at.text_input(key="q2_label").input("[0.5 0.5 0 0 0]").run()
    assert any("not one-hot" in i.value for i in at.info)
    at.text_input(key="q2_label").input("[1 0 0 0 0]").run()
    at.text_input(key="q2_pred").input("[1 5 1 1 2]").run()
    assert any("divided by that sum" in i.value for i in at.info)
    at.number_input(key="q2_n").set_value(1024).run()
    assert "**10 bits**" in _text(at)


def test_evidence_is_plain_data_and_empty_without_models(tmp_path):
    ev = questions_evidence(load_catalog(tmp_path), None)
    assert ev["available"] == [] and ev["softmax"] == [] and ev["q3"]["runs"] == []
    assert isinstance(ev["raw_bce"]["curves"], pd.DataFrame) and ev["raw_bce"]["curves"].empty


@pytest.mark.skipif(not (MODELS / "manifest.json").exists(), reason="no trained models in models/")
def test_evidence_from_committed_models_is_read_from_records():
    catalog = load_catalog(MODELS)
    ev = questions_evidence(catalog, None)
    for r in ev["q3"]["runs"]:
        run = catalog.by_name(r["name"])[0]
        frame = r["frame"]
        assert len(frame) == len(run.history["epochs"]) + 1  # epoch 0 = before training
        assert frame.first_layer_fro_norm.iloc[-1] == run.history["epochs"][-1]["layers"][0]["fro_norm"]
        ratio = frame.first_layer_fro_norm.iloc[-1] / frame.first_layer_fro_norm.iloc[0]
        assert r["reading"]["weights_went_to_zero"] == (ratio < 0.1)
    for s in ev["softmax"]:
        # softmax outputs sum to 1 on the model's own scale: 1 (normalised) or 1/255 (raw, shown on [0, 1])
        expected = 1.0 if s["scale"] == "norm" else 1 / 255
        assert s["output_sum_mean"] == pytest.approx(expected, rel=0.01)
        assert np.isfinite(s["output_max"])


def test_the_q3_norm_caption_gives_each_runs_first_and_last_norm():
    """The weight-norm chart is drawn from 0, where a change of a few hundredths cannot be seen: its caption states
    each run's norm before training and after its last epoch, read from the run's records."""
    from aecompare.views.q3_ce_vs_mse import norm_change

    frame = pd.DataFrame({"model": ["b", "a", "a", "b", "a", "b"], "epoch": [2, 0, 2, 0, 1, 1],
                          "first_layer_fro_norm": [3.0, 10.0, 5.0, 2.0, 7.0, 2.5]})
    assert norm_change(frame) == "a 10.00 → 5.00 (-50.0%); b 2.00 → 3.00 (+50.0%)"


def _dashboard_tabs(models_dir: str):
    """The dashboard's wiring: a Context without test images and the three question tabs' show functions."""
    from aecompare.store.catalog import load_catalog
    from aecompare.views import q1_bce, q2_cross_entropy, q3_ce_vs_mse
    from aecompare.views.common import Context
    from aecompare.views.state import ViewState

    ctx = Context(models_dir, load_catalog(models_dir), [], None, [], ViewState())
    for show in (q2_cross_entropy.show, q1_bce.show, q3_ce_vs_mse.show):
        show(ctx)


@needs_pyarrow
@pytest.mark.parametrize("which", ["committed", "empty"])
def test_dashboard_tab_functions_render(which, tmp_path):
    models_dir = MODELS if which == "committed" and (MODELS / "manifest.json").exists() else tmp_path
    at = AppTest.from_function(_dashboard_tabs, args=(str(models_dir),), default_timeout=120)
    at.run()
    assert not at.exception, [e.value for e in at.exception]


def test_the_blob_error_is_each_pixels_variance_averaged():
    from aecompare.evaluation.evidence import mean_pixel_variance

    images = np.random.default_rng(0).integers(0, 256, (2500, 28, 28), dtype=np.uint8)
    expected = np.var(images.reshape(2500, -1) / 255.0, axis=0).mean()  # numpy's, in float64
    assert mean_pixel_variance(images) == pytest.approx(expected, rel=1e-12)
