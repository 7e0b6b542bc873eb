"""The seeds' numbers, checked against aecompare.maths.explain with independently computed expectations."""

import math

import numpy as np
import pytest
from scipy.special import softmax

from aecompare.maths import explain as ex


def logits_for(q) -> np.ndarray:
    """Logits whose softmax is q: log q, centred to mean 0 (softmax ignores a shared constant)."""
    z = np.log(np.asarray(q, np.float64))
    return z - z.mean()


def prediction_gradient(y, q) -> np.ndarray:
    """d CE / d q_i = -y_i / q_i: taken w.r.t. the probabilities, only the labelled classes get a gradient."""
    y, q = np.asarray(y, np.float64), np.asarray(q, np.float64)
    return np.where(y > 0, -y / np.where(y > 0, q, 1.0), 0.0)


def numeric_logit_gradient(y, z, h: float = 1e-6) -> np.ndarray:
    """Central finite differences of CE(y, softmax(z)) w.r.t. z: an independent check of `logit_gradient`."""
    z = np.asarray(z, np.float64)
    grad = np.empty_like(z)
    for i in range(z.size):
        step = np.zeros_like(z)
        step[i] = h
        grad[i] = (ex.cross_entropy(y, softmax(z + step)) - ex.cross_entropy(y, softmax(z - step))) / (2 * h)
    return grad


LABEL = [1, 0, 0, 0, 0]
PRED_A = [0.1, 0.5, 0.1, 0.1, 0.2]
PRED_B = [0.1, 0.6, 0.1, 0.1, 0.1]


# ------------------------------------------------------------------ Q2


def test_cross_entropy_of_seed_example_is_minus_log_point_one():
    assert ex.cross_entropy(LABEL, PRED_A) == pytest.approx(-math.log(0.1))
    assert ex.cross_entropy(LABEL, PRED_A) == pytest.approx(2.303, abs=5e-4)
    terms = ex.cross_entropy_terms(LABEL, PRED_A)
    assert terms[0] == pytest.approx(-math.log(0.1))
    assert np.all(terms[1:] == 0)


def test_same_loss_but_different_logit_gradients():
    assert ex.cross_entropy(LABEL, PRED_A) == pytest.approx(ex.cross_entropy(LABEL, PRED_B))
    ga, gb = ex.logit_gradient(LABEL, PRED_A), ex.logit_gradient(LABEL, PRED_B)
    assert ga == pytest.approx([0.1 - 1, 0.5, 0.1, 0.1, 0.2])
    assert gb == pytest.approx([0.1 - 1, 0.6, 0.1, 0.1, 0.1])
    assert not np.allclose(ga, gb)
    # w.r.t. the probabilities themselves only the true class has a gradient, the same for both
    assert prediction_gradient(LABEL, PRED_A) == pytest.approx(prediction_gradient(LABEL, PRED_B))


@pytest.mark.parametrize("pred", [PRED_A, PRED_B])
def test_logit_gradient_matches_finite_differences(pred):
    z = logits_for(pred)
    assert softmax(z) == pytest.approx(pred)
    assert numeric_logit_gradient(LABEL, z) == pytest.approx(ex.logit_gradient(LABEL, pred), abs=1e-6)


@pytest.mark.parametrize("n, bits", [(8, 3), (1024, 10), (1, 0), (2, 1)])
def test_uniform_entropy_bits(n, bits):
    assert ex.uniform_entropy_bits(n) == pytest.approx(bits)
    assert ex.entropy(np.full(n, 1 / n), base=2) == pytest.approx(bits)


def test_cross_entropy_is_entropy_plus_kl_in_bits_and_nats():
    p = np.array([0.5, 0.25, 0.25])
    q = np.array([0.25, 0.5, 0.25])
    h_bits = -(0.5 * math.log2(0.5) + 2 * 0.25 * math.log2(0.25))
    ce_bits = -(0.5 * math.log2(0.25) + 0.25 * math.log2(0.5) + 0.25 * math.log2(0.25))
    d = ex.decomposition(p, q)
    assert d["bits"]["entropy"] == pytest.approx(h_bits)
    assert d["bits"]["cross_entropy"] == pytest.approx(ce_bits)
    assert d["bits"]["kl"] == pytest.approx(ce_bits - h_bits)
    for unit in ("bits", "nats"):
        assert d[unit]["cross_entropy"] == pytest.approx(d[unit]["entropy"] + d[unit]["kl"])
    assert d["nats"]["cross_entropy"] == pytest.approx(ce_bits * math.log(2))
    assert ex.kl_divergence(p, p) == pytest.approx(0)


# ------------------------------------------------------------------ input validation


def test_parse_vector_accepts_common_spellings():
    for text in ("[1 0 0 0 0]", "1, 0, 0, 0, 0", "(1;0;0;0;0)"):
        assert list(ex.parse_vector(text)) == [1, 0, 0, 0, 0]


@pytest.mark.parametrize("label, pred, message", [
    ("[1 0 0 0 0]", "[0.1 0.5 0.4]", "3 entries but the label has 5"),
    ("[1 0 0 0 0]", "[0.1 -0.5 0.1 0.1 1.2]", "negative"),
    ("[1 0 -1 0 1]", "[0.1 0.5 0.1 0.1 0.2]", "negative"),
    ("[1 1 0 0 0]", "[0.1 0.5 0.1 0.1 0.2]", "sums to 2"),
    ("[1 0 0 0 x]", "[0.1 0.5 0.1 0.1 0.2]", "'x'"),
    ("", "[0.1 0.5 0.1 0.1 0.2]", "empty"),
    ("[1 0]", "[0 0]", "all zeros"),
    ("[1]", "[1]", "at least 2"),
])
def test_invalid_inputs_give_clear_messages(label, pred, message):
    with pytest.raises(ex.ProbabilityInputError, match=message):
        ex.check_pair(label, pred)


def test_prediction_not_summing_to_one_is_normalised_and_said_so():
    pair = ex.check_pair("[1 0 0 0 0]", "[1 5 1 1 2]")
    assert pair.prediction == pytest.approx(PRED_A)
    assert any("divided by that sum" in n for n in pair.notes)
    assert ex.cross_entropy(pair.label, pair.prediction) == pytest.approx(-math.log(0.1))


def test_soft_label_is_a_distribution_with_a_note():
    pair = ex.check_pair("[0.5 0.5 0 0 0]", PRED_A)
    assert not pair.one_hot
    assert any("not one-hot" in n for n in pair.notes)
    assert ex.cross_entropy(pair.label, pair.prediction) == pytest.approx(-(0.5 * math.log(0.1) + 0.5 * math.log(0.5)))
    assert ex.check_pair(LABEL, PRED_A).one_hot and ex.check_pair(LABEL, PRED_A).notes == []


def test_zero_probability_on_true_class_is_flagged():
    pair = ex.check_pair("[1 0]", "[0 1]")
    assert any("infinite" in n for n in pair.notes)
    assert math.isinf(ex.cross_entropy(pair.label, pair.prediction))


# ------------------------------------------------------------------ BCE (Q1)


def _bce(y, p):
    return -(y * math.log(p) + (1 - y) * math.log(1 - p))


def _h(y):
    return 0.0 if y in (0, 1) else -(y * math.log(y) + (1 - y) * math.log(1 - y))


@pytest.mark.parametrize("y", [0.0, 0.1, 0.3, 0.5, 0.8, 0.95, 1.0])
def test_bce_minimum_is_at_p_equals_y_with_value_entropy(y):
    p_star, value = ex.bce_minimum(y)
    assert p_star == y
    assert value == pytest.approx(_h(y), abs=1e-12)
    grid = np.linspace(0, 1, 10001)
    curve = ex.bce_curve(y, grid)
    assert grid[np.argmin(curve)] == pytest.approx(y, abs=1e-4)
    assert curve.min() == pytest.approx(_h(y), abs=1e-6)
    if 0 < y < 1:
        assert ex.bce_curve(y, y) == pytest.approx(_bce(y, y))
        assert ex.bce_derivative(y, y) == pytest.approx(0, abs=1e-12)
        assert ex.bce_derivative(y, y - 0.05) < 0 < ex.bce_derivative(y, y + 0.04)
        assert value > 0  # BCE does not reach 0 for targets strictly between 0 and 1


def test_bce_derivative_matches_finite_differences():
    y, h = 0.3, 1e-6
    for p in (0.1, 0.3, 0.6, 0.9):
        assert ex.bce_derivative(y, p) == pytest.approx((_bce(y, p + h) - _bce(y, p - h)) / (2 * h), rel=1e-5)


def test_shifted_bce_is_asymmetric_and_mse_symmetric_around_point_eight():
    y = 0.8
    rows = {round(r["prediction"], 2): r for r in ex.loss_table(y, [0.7, 0.9, 0.8])}
    expected_07 = _bce(y, 0.7) - _h(y)
    expected_09 = _bce(y, 0.9) - _h(y)
    assert rows[0.7]["shifted_bce"] == pytest.approx(expected_07)
    assert rows[0.9]["shifted_bce"] == pytest.approx(expected_09)
    assert rows[0.8]["shifted_bce"] == pytest.approx(0, abs=1e-12)
    assert rows[0.9]["shifted_bce"] > rows[0.7]["shifted_bce"]  # 0.9 is penalised more than 0.7
    assert rows[0.7]["mse"] == pytest.approx(0.01) and rows[0.9]["mse"] == pytest.approx(0.01)
    assert rows[0.7]["mae"] == pytest.approx(0.1) and rows[0.9]["mae"] == pytest.approx(0.1)
    # the shifted BCE is the KL divergence between Bernoulli(0.8) and Bernoulli(p)
    kl = 0.8 * math.log(0.8 / 0.9) + 0.2 * math.log(0.2 / 0.1)
    assert rows[0.9]["shifted_bce"] == pytest.approx(kl)


# ------------------------------------------------------------------ softmax ceiling and raw targets


def test_softmax_ceiling_on_synthetic_digits():
    images = np.zeros((3, 784))
    images[0, :150] = 1.0
    images[1, :100] = 0.9
    images[2, :10] = 0.4  # below the threshold: nothing lit
    assert list(ex.lit_pixel_counts(images)) == [150, 100, 0]
    assert ex.softmax_ceiling([150, 100])[0] == pytest.approx(1 / 150)
    out = softmax(np.random.default_rng(0).normal(size=784))
    top150 = np.sort(out)[-150:]
    assert top150.mean() <= 1 / 150  # whatever the logits, the mean over k pixels is at most 1/k
    s = ex.softmax_ceiling_summary(images[:2])
    assert s["k_median"] == 125 and s["ceiling_at_median"] == pytest.approx(1 / 125)


def test_raw_target_bce_has_no_lower_bound():
    y = 255.0
    ps = np.array([0.9, 0.99, 0.999, 1 - 1e-6, 1 - 1e-9, 1 - 1e-12])
    values = ex.raw_bce_curve(y, ps)
    assert np.all(np.diff(values) < 0)
    expected = [-(y * math.log(p) + (1 - y) * math.log(1 - p)) for p in ps]
    assert values == pytest.approx(expected)
    assert values[-1] < -6000
    assert np.all(ex.bce_derivative(y, np.linspace(0.01, 0.99, 99)) < 0)
    # Keras' clipping stops the fall at p = 1 - 1e-7 (in float32: 1 - 2**-23 after rounding)
    p32 = float(np.float32(1) - np.float32(1e-7))
    floor = float(ex.bce_clipped_floor(y))
    assert floor == pytest.approx(-(y * math.log(p32) + (1 - y) * math.log(1 - p32)), rel=1e-5)
    assert floor == pytest.approx(float(ex.bce_curve(y, 1.0 - 1e-12)), rel=0.02)
    assert float(ex.bce_clipped_floor(2 * y)) < floor


def test_best_clipped_bce_is_entropy_for_unit_targets_and_negative_for_raw():
    y = np.array([0.0, 0.2, 1.0])
    assert ex.best_clipped_bce(y, np.float64) == pytest.approx(np.mean([0, _h(0.2), 0]), abs=1e-6)
    assert ex.best_clipped_bce(np.array([0.0, 255.0])) < -1000


def test_best_clipped_bce_from_value_counts_equals_the_direct_mean():
    images = np.random.default_rng(3).integers(0, 256, size=(50, 784)).astype(np.float64)
    counts = np.bincount(images.astype(np.uint8).ravel(), minlength=256)
    weighted = ex.best_clipped_bce(np.arange(256.0), weights=counts)
    assert weighted == pytest.approx(ex.best_clipped_bce(images), rel=1e-9)
