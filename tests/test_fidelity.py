"""The committed models are what their records say: recorded losses reproduce from their outputs.

These run Keras (the independent implementation) on every committed model, rebuilt from its
Experiment and the arrays of its weights.npz (read here with plain `np.load`, not the catalog's reader).
"""

from __future__ import annotations

import numpy as np
import pytest

from aecompare.maths.pixel_losses import LOSSES, READOUTS

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def keras_outputs(committed_catalog):
    """Each committed run's Keras outputs on its dataset's full test set, at the model's own scale; and those
    test images on [0, 1] (dataset -> (n, 784))."""
    from aecompare.data import load_test_set
    from aecompare.training.keras_models import rebuild_model

    images = {d: load_test_set(d).x.reshape(-1, 784).astype(np.float32) / 255
              for d in {r.exp.dataset for r in committed_catalog.runs}}
    outputs = {}
    for run in committed_catalog.runs:
        with np.load(committed_catalog.models_dir / run.entry["path"] / "weights.npz", allow_pickle=False) as f:
            model = rebuild_model(run.exp, {k: f[k] for k in f.files})
        outputs[run.exp.run_id] = model.predict(images[run.exp.dataset] * run.scale, batch_size=1000, verbose=0)
    return images, outputs


def test_manifest_covers_the_registry(committed_catalog):
    from aecompare.registry import REGISTRY

    assert committed_catalog.problems == []
    assert {r.exp.run_id for r in committed_catalog.runs} >= {e.run_id for e in REGISTRY}
    for run in committed_catalog.runs:
        assert run.exp.settings()["epochs"] >= len(run.history["epochs"]) > 0


def test_recorded_validation_loss_is_the_loss_of_the_saved_outputs(committed_catalog, keras_outputs):
    images, outputs = keras_outputs
    for run in committed_catalog.runs:
        x = images[run.exp.dataset]
        recorded = run.history["epochs"][-1]["val_loss"]
        recomputed = LOSSES[run.exp.loss](x * run.scale, outputs[run.exp.run_id])
        assert recomputed == pytest.approx(recorded, rel=0.01), run.exp.run_id
        recorded_mse = run.history["epochs"][-1]["val_mse"]
        read = READOUTS.get(run.exp.loss, lambda y: y)  # a CB model's reconstruction is its mean E[x | λ]
        assert LOSSES["mse"](x, read(outputs[run.exp.run_id] / run.scale)) == pytest.approx(recorded_mse, rel=0.01)


def test_numpy_forward_pass_equals_keras(committed_catalog, keras_outputs):
    images, outputs = keras_outputs
    for run in committed_catalog.runs:
        x = images[run.exp.dataset]
        ours = run.own_outputs(x)
        theirs = outputs[run.exp.run_id]
        tolerance = 1e-5 * max(1.0, run.scale)  # raw models' outputs are on the 0-255 scale
        if run.reads_mean:  # CB models push λ to the extremes with large weights: float32 sums in another
            tolerance *= 5  # order differ more (26 of 7.8 million outputs by up to 2.5e-5)
        np.testing.assert_allclose(ours, theirs, atol=tolerance, rtol=1e-5, err_msg=run.exp.run_id)
        codes, reconstruction = run.codes_and_reconstruction(x)
        # a CB model's reconstruction is its mean E[x | λ], computed from these same outputs (the mean is far
        # more sensitive than λ near 0 and 1, where one float32 step of λ moves it by 1e-3)
        read = READOUTS.get(run.exp.loss, lambda y: y)
        np.testing.assert_array_equal(reconstruction, read(ours / np.float32(run.scale)), err_msg=run.exp.run_id)
        np.testing.assert_array_equal(codes, run.codes(x))
        assert codes.shape == (len(x), run.exp.arch.hidden[run.exp.arch.code_layer])
