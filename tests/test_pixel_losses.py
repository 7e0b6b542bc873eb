"""The numpy losses against independent implementations: Keras itself, scikit-learn and plain math."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.metrics import mean_absolute_error, mean_squared_error

from aecompare.maths import pixel_losses


@pytest.fixture
def targets_and_predictions():
    rng = np.random.default_rng(1)
    y = rng.random((50, 784)).astype(np.float32)
    y[:, :100] = 0.0  # exact 0 and 1 targets, like MNIST's background and strokes
    y[:, 100:150] = 1.0
    p = rng.random((50, 784)).astype(np.float32)
    p[0, :10] = 0.0  # predictions that need clipping
    p[1, :10] = 1.0
    return y, p


def test_bce_matches_keras(targets_and_predictions):
    import keras

    y, p = targets_and_predictions
    expected = float(np.mean(keras.losses.binary_crossentropy(y, p)))
    assert pixel_losses.bce(y, p) == pytest.approx(expected, rel=1e-5)


def test_bce_matches_the_formula_in_float64():
    y, p = 0.8, 0.3
    by_hand = -(y * math.log(p) + (1 - y) * math.log(1 - p))
    assert pixel_losses.bce(np.array([y]), np.array([p])) == pytest.approx(by_hand)


def test_bce_clips_like_keras_on_raw_targets():
    """Targets above 1 make BCE unbounded below; clipping at 1 - 1e-7 (float32) gives Keras' floor."""
    y = np.array([255.0], np.float32)
    p = np.array([1.0], np.float32)
    one_minus_eps = np.float32(1) - np.float32(1e-7)
    floor = -(255 * math.log(one_minus_eps) + (1 - 255) * math.log(1 - one_minus_eps))
    assert pixel_losses.bce(y, p) == pytest.approx(floor, rel=1e-6)
    assert pixel_losses.bce(y, np.array([0.99], np.float32)) > pixel_losses.bce(y, p)


def test_mse_and_mae_match_scikit_learn(targets_and_predictions):
    y, p = targets_and_predictions
    assert pixel_losses.mse(y, p) == pytest.approx(mean_squared_error(y, p), rel=1e-6)
    assert pixel_losses.mae(y, p) == pytest.approx(mean_absolute_error(y, p), rel=1e-6)
    sklearn_mse = mean_squared_error(y.T, p.T, multioutput="raw_values")
    assert pixel_losses.mse(y, p, axis=-1) == pytest.approx(sklearn_mse, rel=1e-6)


def test_binary_entropy_is_the_minimum_of_bce():
    for y in (0.0, 0.2, 0.5, 0.8, 1.0):
        grid = np.linspace(0, 1, 100001)
        curve = pixel_losses.bce_terms(np.full_like(grid, y), grid)
        expected_h = 0.0 if y in (0.0, 1.0) else -(y * math.log(y) + (1 - y) * math.log(1 - y))
        assert grid[np.argmin(curve)] == pytest.approx(y, abs=1e-4)
        assert float(pixel_losses.binary_entropy(np.array(y))) == pytest.approx(expected_h, abs=1e-12)
        assert curve.min() == pytest.approx(expected_h, abs=1e-6)


def test_excess_bce_is_zero_for_a_perfect_reconstruction_and_positive_otherwise(targets_and_predictions):
    y, p = targets_and_predictions
    y = np.clip(y, 0.01, 0.99)  # away from the clip bounds so p = y is exactly representable
    from aecompare.maths import metrics  # the yardstick's excess BCE: BCE minus the targets' entropy

    assert metrics.overall(y, y)["excess_bce"] == pytest.approx(0.0, abs=1e-6)
    assert metrics.overall(y, p)["excess_bce"] > 0.1
