"""The continuous Bernoulli, checked independently of its implementation.

scipy integrates the density; long-double closed forms (the paper's formulas, not ours) check the
series and the switches; TensorFlow's loss and gradients are compared with the numpy loss and its
finite differences; the best λ for a grey target is checked against the NLL's own slope.
"""

from __future__ import annotations

import math
import time
import tracemalloc

import numpy as np
import pytest
from scipy import integrate

from aecompare.maths import explain as ex
from aecompare.maths import pixel_losses

HALF = 0.5
SWITCHES = (pixel_losses.CB_LOG_NORM_SWITCH, pixel_losses.CB_MEAN_SWITCH)
NEAR_SWITCHES = [HALF + sign * (s + d) for s in SWITCHES for sign in (-1, 1) for d in (-1e-4, 1e-4)]
LAMBDAS = [1e-7, 1e-3, 0.01, 0.1, 0.3, 0.45, 0.49, HALF - 1e-4, HALF - 1e-6, HALF, HALF + 1e-6, HALF + 1e-4,
           0.51, 0.55, 0.7, 0.9, 0.999, 1 - 1e-7, *NEAR_SWITCHES]
LONG_DOUBLE_OK = np.finfo(np.longdouble).eps < 1e-18


def density(x: float, lam: float) -> float:
    return math.exp(-float(pixel_losses.cb_nll_terms(np.array(x), np.array(lam))))


def quad(f) -> float:
    value, error = integrate.quad(f, 0.0, 1.0, epsabs=1e-14, epsrel=1e-13, limit=200)
    assert error < 1e-12
    return value


def long_double_log_norm(lam) -> np.ndarray:
    """The paper's log C = log(2 artanh(1 − 2λ) / (1 − 2λ)), in 80-bit floats (reference)."""
    t = 1 - 2 * np.asarray(lam, np.longdouble)
    return np.log(2 * np.arctanh(t) / t)


def long_double_mean(lam) -> np.ndarray:
    """The paper's E[x] = λ / (2λ − 1) + 1 / (2 artanh(1 − 2λ)), in 80-bit floats (reference)."""
    lam = np.asarray(lam, np.longdouble)
    return lam / (2 * lam - 1) + 1 / (2 * np.arctanh(1 - 2 * lam))


# ------------------------------------------------------------------ the density and its mean


@pytest.mark.parametrize("lam", LAMBDAS)
def test_density_integrates_to_one_and_its_mean_is_cb_mean(lam):
    assert quad(lambda x: density(x, lam)) == pytest.approx(1.0, abs=1e-12)
    assert quad(lambda x: x * density(x, lam)) == pytest.approx(float(pixel_losses.cb_mean(np.array(lam))), abs=1e-12)


@pytest.mark.parametrize("lam", [1e-3, 0.2, HALF - 3e-5, HALF + 6e-8, 0.53, 0.9, 0.999])
def test_float32_mean_is_correct_to_float32_rounding(lam):
    lam32 = np.float32(lam)
    exact = quad(lambda x: x * density(x, float(lam32)))
    got = pixel_losses.cb_mean(np.array([lam32]))
    assert got.dtype == np.float32
    assert abs(float(got[0]) - exact) <= np.spacing(np.float32(exact))


def test_mean_is_symmetric_monotone_and_pulled_towards_one_half():
    lam = np.linspace(0.25, 0.75, 5001)  # spacing 1e-4, across both switches; 1 − λ is exact here
    mean = pixel_losses.cb_mean(lam)
    assert np.all(np.diff(mean) > 0)
    np.testing.assert_allclose(pixel_losses.cb_mean(1 - lam), 1 - mean, atol=1e-15)
    assert np.all(np.abs(mean - HALF) < np.abs(lam - HALF) + 1e-15)
    # clipping: a model's λ of exactly 0 is read as 1e-7, whose mean is still 1 / ln(1e7) ≈ 0.062
    assert pixel_losses.cb_mean(np.array([0.0]))[0] == pytest.approx(0.0620420, abs=1e-7)
    assert pixel_losses.cb_mean(np.array([0.0, 1.0])) == pytest.approx(pixel_losses.cb_mean(np.array([1e-7, 1 - 1e-7])))


@pytest.mark.skipif(not LONG_DOUBLE_OK, reason="needs 80-bit long doubles for the reference")
def test_both_branches_agree_with_the_paper_at_the_switches():
    u = np.concatenate([np.linspace(0.01, 0.1, 9001), np.array(SWITCHES) + 1e-12, np.array(SWITCHES) - 1e-12])
    lam = np.concatenate([HALF - u, HALF + u])
    log_norm_error = np.abs(pixel_losses.cb_log_norm(lam) - long_double_log_norm(lam)).max()
    mean_error = np.abs(pixel_losses.cb_mean(lam) - long_double_mean(lam)).max()
    assert float(log_norm_error) < 5e-16
    assert float(mean_error) < 3e-15


# ------------------------------------------------------------------ log C and the NLL


def test_log_norm_matches_the_closed_form_away_from_one_half_and_the_series_near_it():
    lam = np.concatenate([np.geomspace(1e-6, 0.45, 300), 1 - np.geomspace(1e-6, 0.45, 300)])
    t = 1 - 2 * lam
    np.testing.assert_allclose(pixel_losses.cb_log_norm(lam), np.log(2 * np.arctanh(t) / t), rtol=1e-12)
    u = np.linspace(-1e-3, 1e-3, 2001)
    series = math.log(2) + 4 / 3 * u**2 + 104 / 45 * u**4
    np.testing.assert_allclose(pixel_losses.cb_log_norm(HALF + u), series, rtol=0, atol=2e-16)
    assert float(pixel_losses.cb_log_norm(np.array(HALF))) == math.log(2)


def test_nll_is_bce_minus_log_norm_and_goes_below_zero():
    rng = np.random.default_rng(3)
    x, lam = rng.random(1000), rng.uniform(0.001, 0.999, 1000)
    lam = lam[np.abs(lam - HALF) > 0.01]
    x = x[:lam.size]
    by_hand = [-(xi * math.log(li) + (1 - xi) * math.log(1 - li)) - math.log(2 * math.atanh(1 - 2 * li) / (1 - 2 * li))
               for xi, li in zip(x, lam)]
    np.testing.assert_allclose(pixel_losses.cb_nll_terms(x, lam), by_hand, rtol=1e-11)
    np.testing.assert_allclose(pixel_losses.cb_nll_terms(x, lam),
                               pixel_losses.bce_terms(x, lam) - pixel_losses.cb_log_norm(lam))
    assert pixel_losses.cb(x, lam) == pytest.approx(np.mean(by_hand), rel=1e-12)
    assert pixel_losses.cb(x.reshape(-1, 1), lam.reshape(-1, 1), axis=1) == pytest.approx(by_hand, rel=1e-11)
    # a density, not a probability: the NLL is negative where the density exceeds 1
    for value in (1e-3, 0.02, 0.98, 0.999):
        assert float(pixel_losses.cb_nll_terms(np.array(value), np.array(value))) < 0
    floor = -math.log(1 - 1e-7) - math.log(math.log((1 - 1e-7) / 1e-7) / (1 - 2e-7))
    assert pixel_losses.cb(np.array([0.0, 1.0]), np.array([0.0, 1.0])) == pytest.approx(floor, rel=1e-6)
    assert floor < -2.7
    assert float(pixel_losses.cb_nll_terms(np.array(0.3), np.array(HALF))) == pytest.approx(0.0, abs=1e-15)
    assert pixel_losses.LOSSES["cb"] is pixel_losses.cb


# ------------------------------------------------------------------ the Keras op


def special_predictions() -> np.ndarray:
    """float32 λ at and around 1/2, the switches, the clip bounds and beyond them."""
    f32 = np.float32
    eps = f32(pixel_losses.EPSILON)
    values = [HALF, np.nextafter(f32(HALF), f32(0)), np.nextafter(f32(HALF), f32(1)), HALF - 1e-6, HALF + 1e-6,
              *NEAR_SWITCHES, *(HALF + s for s in SWITCHES), *(HALF - s for s in SWITCHES),
              0.0, 1.0, 1e-9, eps, f32(1) - eps, 1e-3, 0.999]
    return np.array(values, np.float32)


def test_keras_loss_equals_the_numpy_loss():
    from aecompare.training import keras_models

    rng = np.random.default_rng(4)
    y = rng.random((64, 784)).astype(np.float32)
    y[:, :200], y[:, 200:260] = 0.0, 1.0
    p = rng.random((64, 784)).astype(np.float32)
    special = special_predictions()
    p[:, :special.size] = special
    p[:, 400:400 + special.size] = special
    assert float(keras_models.cb(y, p)) == pytest.approx(pixel_losses.cb(y, p), rel=2e-6)
    assert keras_models.LOSS_OPS["cb"] is keras_models.cb
    lam = np.concatenate([special, p[0]])
    np.testing.assert_allclose(np.asarray(keras_models.cb_log_norm(lam)), pixel_losses.cb_log_norm(lam),
                               rtol=0, atol=5e-7)
    ours, theirs = np.asarray(keras_models.cb_mean(lam)), pixel_losses.cb_mean(lam)
    assert ours.dtype == np.float32
    assert np.all(np.abs(ours - theirs) <= np.spacing(theirs))


def keras_gradient(y: np.ndarray, p: np.ndarray, jit: bool = False) -> tuple[float, np.ndarray]:
    import tensorflow as tf

    from aecompare.training import keras_models

    def loss_and_gradient(y, p):
        with tf.GradientTape() as tape:
            tape.watch(p)
            loss = keras_models.cb(y, p)
        return loss, tape.gradient(loss, p)

    fn = tf.function(loss_and_gradient, jit_compile=True) if jit else loss_and_gradient
    loss, grad = fn(tf.constant(y), tf.constant(p))
    return float(loss), grad.numpy()


def numpy_gradient(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Central differences of the numpy loss (float64), one element at a time."""
    p = p.astype(np.float64)
    grad = np.empty_like(p)
    for i in range(p.size):
        h = 1e-6 * min(p[i], 1 - p[i])
        up, down = p.copy(), p.copy()
        up[i] += h
        down[i] -= h
        grad[i] = (pixel_losses.cb(y, up) - pixel_losses.cb(y, down)) / (2 * h)
    return grad


@pytest.mark.parametrize("jit", [False, True], ids=["eager", "xla"])
def test_keras_gradients_are_finite_and_match_finite_differences(jit):
    special = special_predictions()
    y = np.random.default_rng(5).random(special.size).astype(np.float32)
    loss, grad = keras_gradient(y, special, jit)
    assert np.isfinite(loss) and np.all(np.isfinite(grad))
    beyond = (special < np.float32(pixel_losses.EPSILON)) | (special > np.float32(1) - np.float32(pixel_losses.EPSILON))
    assert np.all(grad[beyond] == 0)  # clipped away, as for BCE
    lam = np.array([HALF, HALF - 1e-6, HALF + 1e-6, HALF - 0.01, HALF + 0.01, HALF - 0.04, HALF + 0.04, HALF + 0.07,
                    0.2, 0.8, 1e-3, 0.999], np.float32)
    y = np.random.default_rng(6).random(lam.size).astype(np.float32)
    _, grad = keras_gradient(y, lam, jit)
    np.testing.assert_allclose(grad, numpy_gradient(y, lam), rtol=1e-4, atol=1e-6)


# ------------------------------------------------------------------ the best λ for a grey target (explain)


def test_best_lambda_recovers_the_target_through_the_mean():
    y = np.linspace(0.07, 0.93, 87)
    lam = ex.cb_best_lambda(y)
    np.testing.assert_allclose(pixel_losses.cb_mean(lam), y, rtol=0, atol=1e-12)
    assert np.all(np.diff(lam) > 0)
    assert float(ex.cb_best_lambda(0.67)) == pytest.approx(0.9, abs=0.002)
    assert float(ex.cb_best_lambda(0.5)) == pytest.approx(0.5, abs=1e-15)
    # beyond the means the clipped λ can reach, the best a clipped model can do is the clip bound
    assert ex.cb_best_lambda([0.0, 0.01, 0.99, 1.0]) == pytest.approx([1e-7, 1e-7, 1 - 1e-7, 1 - 1e-7], rel=1e-9)
    with pytest.raises(ValueError):
        ex.cb_best_lambda(1.5)


def cb_nll_derivative(y, lam) -> float:
    """d CB NLL / dλ = (E[x | λ] − y) / (λ (1 − λ)): from d NLL / d logit(λ) = E[x | λ] − y (an
    exponential-family identity) and d logit / dλ = 1 / (λ(1 − λ))."""
    return float((pixel_losses.cb_mean(np.array(lam)) - y) / (lam * (1 - lam)))


@pytest.mark.parametrize("y", [0.2, 0.4, 0.67, 0.85])
def test_nll_slope_is_zero_at_the_best_lambda_and_not_at_bce_s(y):
    def slope(lam, h=1e-7):
        return float((ex.cb_nll_curve(y, lam + h) - ex.cb_nll_curve(y, lam - h)) / (2 * h))

    best = float(ex.cb_best_lambda(y))
    assert abs(slope(best)) < 1e-6
    assert abs(slope(y)) > 0.1  # BCE's answer λ = y is not the CB's optimum
    for lam in (0.1, best, y, 0.95):
        assert cb_nll_derivative(y, lam) == pytest.approx(slope(lam), rel=1e-6, abs=1e-7)
    grid = np.linspace(1e-4, 1 - 1e-4, 200001)
    assert grid[np.argmin(ex.cb_nll_curve(y, grid))] == pytest.approx(best, abs=1e-4)
    assert ex.cb_minimum(y) == pytest.approx((best, float(ex.cb_nll_curve(y, best))))


def test_loss_curves_and_floors_for_the_bce_question():
    floors = ex.loss_floors(np.array([0.1, 0.3, 0.5, 0.67, 0.9]))
    np.testing.assert_allclose(floors["bce_floor"], pixel_losses.binary_entropy(floors["target"]))
    assert floors["cb_floor"][2] == pytest.approx(0.0, abs=1e-15)
    assert floors["bce_floor"][2] == pytest.approx(math.log(2))
    assert np.all(floors["cb_floor"] <= 1e-15) and np.all(floors["cb_floor"] < floors["bce_floor"])
    assert floors["cb_mean_at_bce_lambda"][3] == pytest.approx(0.5585, abs=1e-3)  # BCE's λ = 0.67 read as CB
    lam = np.linspace(0.01, 0.99, 99)
    curves = ex.losses_over_lambda(0.67, lam)
    np.testing.assert_allclose(curves["cb"] - curves["bce"], -curves["log_norm"], atol=1e-14)
    targets, lam_09 = np.linspace(0, 1, 11), np.full(11, 0.9)  # one prediction, every target: parallel lines
    np.testing.assert_allclose(pixel_losses.bce_terms(targets, lam_09) - pixel_losses.cb_nll_terms(targets, lam_09),
                               float(pixel_losses.cb_log_norm(np.array(0.9))), atol=1e-14)


# ------------------------------------------------------------------ the readout at MNIST's size


def test_mean_of_a_test_set_of_float32_outputs_is_float32_and_needs_little_memory():
    lam = np.random.default_rng(7).random((10_000, 784), dtype=np.float32)
    lam[:, :50] = HALF
    tracemalloc.start()
    start = time.perf_counter()
    mean = pixel_losses.cb_mean(lam)
    seconds = time.perf_counter() - start
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert mean.dtype == np.float32 and mean.shape == lam.shape
    assert peak - mean.nbytes < 8 * 2**20, f"{(peak - mean.nbytes) / 2**20:.1f} MB beyond the output"
    assert seconds < 20  # about 1 s on 2 shared cores; a per-element loop would take minutes
    rows = lam[::997]
    if LONG_DOUBLE_OK:
        with np.errstate(divide="ignore", invalid="ignore"):
            exact = np.where(rows == HALF, 0.5, long_double_mean(rows)).astype(np.float64)
    else:
        exact = pixel_losses.cb_mean(rows.astype(np.float64))
    assert np.all(np.abs(mean[::997] - exact) <= np.spacing(mean[::997]))
