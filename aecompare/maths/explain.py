"""The math behind the three questions, in plain numpy (no Streamlit, no Keras).

Units: every loss and entropy here is in **nats** (natural log, what Keras reports) unless a
function takes `base=2` (**bits**) or says so in its name. `nats / ln 2 = bits`.

Decisions on inputs (Q2's calculator):
- a *prediction* must have the label's length and no negative or non-finite entry; if it does not sum
  to 1 it is divided by its sum, as Keras' `categorical_crossentropy` does, and the note says so;
- a *label* must be non-negative and sum to 1 (within 1e-6): it is the ground truth, so it is never
  rescaled silently. A label that sums to 1 but is not one-hot is accepted as a soft label (a
  distribution), with a note: cross-entropy is defined for any distribution.
Binary cross-entropy and the continuous Bernoulli reuse `aecompare.maths.pixel_losses` (Keras' clipping of p
to [1e-7, 1 - 1e-7]).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

import numpy as np

from .pixel_losses import EPSILON, bce_terms, binary_entropy, cb_log_norm, cb_mean, cb_nll_terms

LN2 = float(np.log(2.0))
SUM_TOLERANCE = 1e-6


class ProbabilityInputError(ValueError):
    """A label or prediction that cannot be read as a probability vector; the message says why."""


# ------------------------------------------------------------------ parsing and validation


def parse_vector(text: str, what: str = "vector") -> np.ndarray:
    """Numbers from text such as "[1 0 0 0 0]", "0.1, 0.5, 0.1" or "1;0;0" (float64)."""
    tokens = [t for t in re.split(r"[\s,;\[\]()]+", str(text).strip()) if t]
    if not tokens:
        raise ProbabilityInputError(f"the {what} is empty: enter numbers such as [1 0 0 0 0]")
    try:
        return np.array([float(t) for t in tokens], np.float64)
    except ValueError:
        bad = next(t for t in tokens if not _is_float(t))
        raise ProbabilityInputError(f"the {what} has {bad!r}, which is not a number") from None


def _is_float(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def _check_entries(v: np.ndarray, what: str) -> None:
    if v.ndim != 1 or v.size < 2:
        raise ProbabilityInputError(f"the {what} needs at least 2 entries (one per class), got {v.size}")
    if not np.all(np.isfinite(v)):
        raise ProbabilityInputError(f"the {what} has a non-finite entry (nan or inf)")
    if np.any(v < 0):
        i = int(np.argmax(v < 0))
        raise ProbabilityInputError(f"the {what} has a negative entry ({v[i]:g} at class {i}); "
                                    "probabilities cannot be negative")


@dataclass
class CheckedPair:
    """A validated label y and prediction q, with notes on what was assumed or rescaled."""

    label: np.ndarray
    prediction: np.ndarray
    notes: list[str] = field(default_factory=list)

    @property
    def one_hot(self) -> bool:
        return bool(np.sum(self.label == 1) == 1 and np.sum(self.label == 0) == self.label.size - 1)


def check_label(y) -> tuple[np.ndarray, list[str]]:
    """Validate a label: non-negative, summing to 1; a soft (non one-hot) label gets a note."""
    y = np.asarray(y, np.float64)
    _check_entries(y, "label")
    total = float(y.sum())
    if abs(total - 1) > SUM_TOLERANCE:
        raise ProbabilityInputError(f"the label sums to {total:g}, not 1: a label is a probability "
                                    "distribution over the classes (one-hot: a single 1, zeros elsewhere)")
    notes = []
    if not (np.sum(y == 1) == 1 and np.sum(y == 0) == y.size - 1):
        notes.append("the label is not one-hot: it is treated as a distribution (a soft label), so every "
                     "class with label mass contributes a term")
    return y, notes


def check_prediction(q, n_classes: int | None = None) -> tuple[np.ndarray, list[str]]:
    """Validate a prediction; one not summing to 1 is divided by its sum (as Keras does)."""
    q = np.asarray(q, np.float64)
    _check_entries(q, "prediction")
    if n_classes is not None and q.size != n_classes:
        raise ProbabilityInputError(f"the prediction has {q.size} entries but the label has {n_classes}: "
                                    "one probability per class is needed")
    total = float(q.sum())
    if total <= 0:
        raise ProbabilityInputError("the prediction is all zeros: it gives no probability to any class")
    notes = []
    if abs(total - 1) > SUM_TOLERANCE:
        q = q / total
        notes.append(f"the prediction summed to {total:g}; it was divided by that sum (as Keras' "
                     "categorical_crossentropy does) so that it sums to 1")
    return q, notes


def check_pair(label, prediction) -> CheckedPair:
    """Validate a label and a prediction together (text or arrays); raises ProbabilityInputError."""
    y = parse_vector(label, "label") if isinstance(label, str) else label
    q = parse_vector(prediction, "prediction") if isinstance(prediction, str) else prediction
    y, notes = check_label(y)
    q, more = check_prediction(q, y.size)
    notes += more
    zero = np.flatnonzero((q == 0) & (y > 0))
    if zero.size:
        notes.append(f"the prediction gives 0 to class {int(zero[0])}, which the label says is possible: "
                     f"the exact loss is infinite (Keras clips to {EPSILON:g}, giving {-np.log(EPSILON):.2f} nats "
                     "for that term)")
    return CheckedPair(y, q, notes)


# ------------------------------------------------------------------ entropies (Q2)


def _log(x, base: float | None):
    with np.errstate(divide="ignore"):
        out = np.log(x)
    return out / np.log(base) if base else out


def cross_entropy_terms(y, q, base: float | None = None) -> np.ndarray:
    """Per-class terms -y_i log q_i (nats; bits with base=2); 0 where y_i = 0, even if q_i = 0."""
    y = np.asarray(y, np.float64)
    q = np.asarray(q, np.float64)
    return np.where(y > 0, -y * _log(np.where(y > 0, q, 1.0), base), 0.0)


def cross_entropy(y, q, base: float | None = None) -> float:
    """H(y, q) = -sum_i y_i log q_i: the categorical cross-entropy loss of one example (nats by default).

    Only classes the label gives mass to contribute, so with a one-hot label it is -log q_true.
    """
    return float(np.sum(cross_entropy_terms(y, q, base)))


def entropy(p, base: float | None = None) -> float:
    """H(p) = -sum_i p_i log p_i with 0 log 0 = 0 (nats; bits with base=2)."""
    return cross_entropy(p, p, base)


def kl_divergence(p, q, base: float | None = None) -> float:
    """KL(p || q) = H(p, q) - H(p) >= 0: the extra cost of coding p with q (nats; bits with base=2)."""
    return cross_entropy(p, q, base) - entropy(p, base)


def uniform_entropy_bits(n: int) -> float:
    """Bits needed for one of n equally likely outcomes: log2 n (8 fruits -> 3 bits, 1024 -> 10)."""
    if int(n) != n or n < 1:
        raise ProbabilityInputError(f"the number of outcomes must be a whole number >= 1, got {n!r}")
    return float(np.log2(int(n)))


def to_bits(nats):
    """Convert nats (natural log) to bits (log base 2): divide by ln 2."""
    return np.asarray(nats) / LN2 if np.ndim(nats) else float(nats) / LN2


def decomposition(y, q) -> dict:
    """Cross-entropy = entropy + KL divergence, in nats and in bits (a dict of floats)."""
    out = {}
    for unit, base in (("nats", None), ("bits", 2)):
        out[unit] = {"cross_entropy": cross_entropy(y, q, base), "entropy": entropy(y, base),
                     "kl": kl_divergence(y, q, base)}
    return out


# ------------------------------------------------------------------ the softmax's gradient


def logit_gradient(y, q) -> np.ndarray:
    """d CE / d logits = q - y for q = softmax(logits): every class's logit moves, not only the true one.

    Per example, in nats per unit of logit. Requires y to sum to 1 (then sum of the gradient is 0).
    """
    return np.asarray(q, np.float64) - np.asarray(y, np.float64)


# ------------------------------------------------------------------ binary cross-entropy (seeds 000, 002)


def bce_curve(y: float, p) -> np.ndarray:
    """BCE -y log p - (1-y) log(1-p) for one target y over predictions p (nats; Keras' clipping)."""
    return bce_terms(np.full(np.shape(p), float(y)), np.asarray(p, np.float64))


def bce_derivative(y: float, p) -> np.ndarray:
    """d BCE / dp = -y/p + (1-y)/(1-p) (nats per unit of p): negative below p = y, positive above."""
    p = np.asarray(p, np.float64)
    return -y / p + (1 - y) / (1 - p)


def bce_minimum(y: float) -> tuple[float, float]:
    """Where BCE is smallest for a target y in [0, 1] and its value: (p = y, H(y) in nats).

    Setting the derivative to 0: -y(1-p) + (1-y)p = 0, so p = y; the value there is the binary
    entropy H(y), zero only for y = 0 or 1.
    """
    if not 0 <= y <= 1:
        raise ValueError(f"BCE has a minimum inside (0, 1) only for targets in [0, 1]; got {y}")
    return float(y), float(binary_entropy(y))


def shifted_bce(y: float, p) -> np.ndarray:
    """BCE minus its minimum H(y): the KL divergence between Bernoulli(y) and Bernoulli(p), min 0 (nats)."""
    return bce_curve(y, p) - float(binary_entropy(y))


def squared_error(y: float, p) -> np.ndarray:
    """(p - y)^2: symmetric around the target, in squared pixel units."""
    return np.square(np.asarray(p, np.float64) - y)


def absolute_error(y: float, p) -> np.ndarray:
    """|p - y|: symmetric around the target, in pixel units."""
    return np.abs(np.asarray(p, np.float64) - y)


def loss_table(y: float, ps) -> list[dict]:
    """Shifted BCE (nats), MSE and MAE for target y at each prediction in ps, one row per p."""
    ps = np.asarray(ps, np.float64)
    return [{"prediction": float(p), "shifted_bce": float(shifted_bce(y, p)), "mse": float(squared_error(y, p)),
             "mae": float(absolute_error(y, p))} for p in ps]


# ------------------------------------------------------------------ softmax over 784 pixels (Q1)


def lit_pixel_counts(images_unit, threshold: float = 0.5) -> np.ndarray:
    """Pixels above `threshold` per image (images on [0, 1], shape (n, 784) or (n, 28, 28))."""
    x = np.asarray(images_unit, np.float64)
    return np.sum(x.reshape(len(x), -1) > threshold, axis=1)


def softmax_ceiling(k) -> np.ndarray:
    """The largest *average* value k lit pixels can get from outputs summing to 1: 1/k.

    A softmax output layer's 784 values sum to 1, so whatever it does, the mean over k pixels
    is at most 1/k; spreading 1 evenly over them is what minimises BCE against a k-pixel digit.
    """
    k = np.asarray(k, np.float64)
    return np.where(k > 0, 1.0 / np.maximum(k, 1), 1.0)


def softmax_ceiling_summary(images_unit, threshold: float = 0.5) -> dict:
    """Lit-pixel counts of real digits and the per-pixel ceiling 1/k (median, min, max over images)."""
    k = lit_pixel_counts(images_unit, threshold)
    if k.size == 0:
        return {"n_images": 0, "threshold": threshold}
    return {"n_images": int(k.size), "threshold": threshold, "k_median": float(np.median(k)),
            "k_min": int(k.min()), "k_max": int(k.max()), "ceiling_at_median": float(1 / max(np.median(k), 1)),
            "counts": k}


# ------------------------------------------------------------------ BCE on raw 0-255 targets (Q1)


def raw_bce_curve(y: float, p) -> np.ndarray:
    """Unclipped -y log p - (1-y) log(1-p) (nats). For y > 1 it falls without bound as p -> 1."""
    p = np.asarray(p, np.float64)
    return -(y * np.log(p) + (1 - y) * np.log1p(-p))


def bce_clipped_floor(y, dtype=np.float32) -> np.ndarray:
    """The lowest BCE Keras can report for target(s) y > 1: at p clipped to 1 - 1e-7 in `dtype` (nats).

    For y > 1 the derivative -y/p + (1-y)/(1-p) is negative on all of (0, 1), so the clipped maximum
    of p is the minimum; the value ~ -(y - 1) * ln(1e7) keeps falling as y grows.
    """
    y = np.asarray(y, np.float64)
    return bce_terms(y, np.ones(y.shape, dtype))


def best_clipped_bce(targets, dtype=np.float32, weights=None) -> float:
    """Mean over pixels of each pixel's lowest clipped BCE (p = y for y in [0, 1], p -> 1 for y > 1), nats.

    A lower bound on any model's BCE against these targets; negative once targets exceed 1.
    `weights` (same shape as `targets`) turns it into a weighted mean: pass the 256 pixel values 0-255
    and how often each occurs to get the floor of a whole image set without holding it in float64.
    """
    y = np.asarray(targets, np.float64)
    best_p = np.where(y > 1, 1.0, np.clip(y, 0, 1)).astype(dtype)
    return float(np.average(bce_terms(y, best_p), weights=weights))


# ------------------------------------------------------------------ the continuous Bernoulli (issue 12)
# BCE on a grey target is not a log-likelihood: λ^x (1 − λ)^(1 − x) does not integrate to 1 over
# x in [0, 1]. The continuous Bernoulli adds the missing log C(λ): NLL = BCE − log C. Both are
# exponential families in the logit η of λ, so d loss / d η = (its mean) − y: BCE's mean is λ, the
# CB's is E[x | λ], hence the CB's best λ for a grey y is more extreme than y.


def cb_nll_curve(y: float, lam) -> np.ndarray:
    """CB NLL -log p(y | λ) of one target y over predictions λ (nats; can be negative: a density)."""
    lam = np.asarray(lam, np.float64)
    return cb_nll_terms(np.full(lam.shape, float(y)), lam)


def cb_best_lambda(y, iterations: int = 64) -> np.ndarray:
    """The λ minimising the CB NLL of target(s) y in [0, 1]: the λ with E[x | λ] = y (vectorised bisection).

    The mean rises monotonically with λ, so bisection on [1e-7, 1 − 1e-7] cannot miss; 64 halvings
    reach float64 resolution. A grey 0.67 needs λ ≈ 0.9. Targets beyond the means at the clip bounds
    (below 0.062 or above 0.938) get the clip bound: the lowest loss a clipped model can reach.
    """
    y = np.asarray(y, np.float64)
    if not np.all(np.isfinite(y)) or np.any((y < 0) | (y > 1)):
        raise ValueError("the continuous Bernoulli's targets must lie in [0, 1]")
    low, high = np.full(y.shape, EPSILON), np.full(y.shape, 1 - EPSILON)
    for _ in range(iterations):
        middle = 0.5 * (low + high)
        below = cb_mean(middle) < y
        low, high = np.where(below, middle, low), np.where(below, high, middle)
    return 0.5 * (low + high)


def cb_minimum(y: float) -> tuple[float, float]:
    """Where the CB NLL of target y is lowest and its value: (λ with E[x | λ] = y, floor in nats).

    The floor is 0 at y = 1/2 (the uniform density) and negative elsewhere, unlike BCE's H(y) >= 0.
    """
    lam = float(cb_best_lambda(float(y)))
    return lam, float(cb_nll_curve(y, lam))


def losses_over_lambda(y: float, lam) -> dict[str, np.ndarray]:
    """BCE and CB NLL of one target y as the prediction λ varies, and log C(λ) between them (nats)."""
    lam = np.asarray(lam, np.float64)
    return {"lambda": lam, "bce": bce_curve(y, lam), "cb": cb_nll_curve(y, lam), "log_norm": cb_log_norm(lam)}


def loss_floors(targets) -> dict[str, np.ndarray]:
    """For each target y in [0, 1], each loss's best λ and its value there (nats per pixel).

    BCE: λ = y, floor H(y). CB: λ with E[x | λ] = y, floor −log p(y | λ). `cb_mean_at_bce_lambda` is
    what a CB model would reconstruct if it output BCE's answer λ = y: pulled towards 1/2.
    """
    y = np.asarray(targets, np.float64)
    lam = cb_best_lambda(y)
    return {"target": y, "bce_lambda": y, "bce_floor": binary_entropy(y), "cb_lambda": lam,
            "cb_floor": cb_nll_terms(y, lam), "cb_mean_at_bce_lambda": cb_mean(y)}
