"""Reconstruction losses in plain numpy, with Keras' conventions.

Every function takes targets `y` and predictions `p` of the same shape, on whatever scale the
model was trained on, and returns the mean over all elements (Keras: mean over pixels, then over
images) unless `axis` is given. BCE clips predictions to [1e-7, 1 - 1e-7] in the predictions'
own float precision, exactly as Keras does, so a float32 model's loss is reproduced to the digit.
Values are in nats (natural log) per pixel.

The continuous Bernoulli's helpers (`cb_log_norm`, `cb_mean`) take the predictions λ alone and work
element-wise; they clip λ the same way, because a model's loss treats its outputs as clipped.
"""

from __future__ import annotations

import math

import numpy as np

EPSILON = 1e-7  # keras.config.epsilon()


def _clip_probabilities(p: np.ndarray) -> np.ndarray:
    p = np.asarray(p)
    dtype = p.dtype if p.dtype in (np.float32, np.float64) else np.float64
    eps = dtype.type(EPSILON)
    return np.clip(p.astype(dtype, copy=False), eps, dtype.type(1) - eps)


def bce_terms(y: np.ndarray, p: np.ndarray) -> np.ndarray:
    """Element-wise binary cross-entropy -y log p - (1-y) log(1-p), p clipped (nats)."""
    p = _clip_probabilities(p)
    y = np.asarray(y, np.float64)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def bce(y, p, axis=None):
    """Mean binary cross-entropy (nats per pixel). Has no lower bound if targets exceed 1."""
    return np.mean(bce_terms(y, p), axis=axis)


def mse(y, p, axis=None):
    """Mean squared error per pixel, in the squared units of the targets."""
    return np.mean(np.square(np.asarray(y, np.float64) - np.asarray(p, np.float64)), axis=axis)


def mae(y, p, axis=None):
    """Mean absolute error per pixel, in the units of the targets."""
    return np.mean(np.abs(np.asarray(y, np.float64) - np.asarray(p, np.float64)), axis=axis)


# ------------------------------------------------------------------ the continuous Bernoulli
# p(x | λ) = C(λ) λ^x (1 − λ)^(1 − x) on x in [0, 1] (Loaiza-Ganem & Cunningham, NeurIPS 2019).
# Series in u = λ − 1/2, exact Taylor coefficients (derived with rational arithmetic; the tests check
# them against the closed forms in long double):
#   log C = log 2 + u² (4/3 + u² (104/45 + ...)),  E[x] = 1/2 + u (1/3 + u² (16/45 + ...)).
# Each switch is where the series' truncation error meets the closed form's rounding error in
# float64 (measured: within 3e-16 for log C at |u| = 0.03, within 1.3e-15 for the mean at 0.05).

CB_LOG_NORM_SWITCH = 0.03
CB_LOG_NORM_SERIES = (4 / 3, 104 / 45, 16064 / 2835, 227264 / 14175, 22955008 / 467775)  # u², u⁴, ..., u¹⁰
CB_MEAN_SWITCH = 0.05
CB_MEAN_SERIES = (1 / 3, 16 / 45, 704 / 945, 27392 / 14175, 2610176 / 467775,  # u, u³, ..., u¹³
                  10976325632 / 638512875, 105943318528 / 1915538625)
LOG_2 = math.log(2.0)
_CB_MEAN_CHUNK = 1 << 16  # elements per float64 block in cb_mean: about 0.5 MB per temporary


def horner(coefficients, z):
    """c0 + z (c1 + z (c2 + ...)): a polynomial in z, for numpy arrays and Keras tensors alike."""
    total = coefficients[-1]
    for c in reversed(coefficients[:-1]):
        total = total * z + c
    return total


def cb_log_norm(lam) -> np.ndarray:
    """log C(λ), the continuous Bernoulli's log normaliser, element-wise (nats), λ clipped like BCE's p.

    C(λ) = 2 artanh(1 − 2λ) / (1 − 2λ) makes λ^x (1 − λ)^(1 − x) a density on [0, 1]. log C is
    symmetric in λ ↔ 1 − λ and runs from log 2 ≈ 0.693 at λ = 1/2 to ≈ 2.78 (log ln 1e7) at the clip
    bounds. Away from 1/2 it is log(log1p(d / m) / d) with m = min(λ, 1 − λ), d = 1 − 2m (float64,
    only products and quotients: no cancellation); within CB_LOG_NORM_SWITCH of 1/2, where d → 0, the series.
    """
    lam = _clip_probabilities(lam).astype(np.float64)
    shape, lam = lam.shape, lam.reshape(-1)
    u = lam - 0.5
    near = np.abs(u) < CB_LOG_NORM_SWITCH
    m = np.minimum(lam, 1 - lam)
    m[near] = 0.25  # a safe m where the series is used
    d = 1 - 2 * m
    log_norm = np.log(np.log1p(d / m) / d)
    z = u[near] ** 2
    log_norm[near] = LOG_2 + z * horner(CB_LOG_NORM_SERIES, z)
    return log_norm.reshape(shape)


def cb_nll_terms(x, lam) -> np.ndarray:
    """Element-wise continuous Bernoulli negative log-likelihood BCE(x, λ) − log C(λ) (nats per pixel).

    The proper likelihood of a target x in [0, 1] (BCE lacks the normaliser). It is a negative log
    *density*, so it goes below 0: down to about −2.78 for x in {0, 1} with λ at the clip bound.
    """
    return bce_terms(x, lam) - cb_log_norm(lam)


def cb(y, p, axis=None):
    """Mean continuous Bernoulli NLL (nats per pixel), targets y in [0, 1], predictions p = λ."""
    return np.mean(cb_nll_terms(y, p), axis=axis)


def cb_mean(lam) -> np.ndarray:
    """E[x | λ] = λ / (2λ − 1) + 1 / (2 artanh(1 − 2λ)), element-wise: a CB model's reconstruction.

    The mean is not λ: it is pulled towards 1/2 (E = 0.062 at the clip bound λ = 1e-7, 0.67 at
    λ = 0.9), so a CB model is read through it. Returns λ's float dtype (float32 stays float32) and
    its shape; computed in float64 blocks of _CB_MEAN_CHUNK elements, so a 10,000 × 784 float32 array
    needs its output plus a few MB, and each value is correct to float32 rounding.
    """
    lam = np.asarray(lam)
    dtype = lam.dtype if lam.dtype in (np.float32, np.float64) else np.dtype(np.float64)
    low = float(dtype.type(EPSILON))
    high = float(dtype.type(1) - dtype.type(EPSILON))
    out = np.empty(lam.shape, dtype)
    flat_in, flat_out = lam.reshape(-1), out.reshape(-1)
    for start in range(0, flat_in.size, _CB_MEAN_CHUNK):
        block = np.clip(flat_in[start:start + _CB_MEAN_CHUNK].astype(np.float64), low, high)
        flat_out[start:start + _CB_MEAN_CHUNK] = _cb_mean_float64(block)
    return out


def _cb_mean_float64(lam: np.ndarray) -> np.ndarray:
    """cb_mean of clipped float64 λ: the closed form via m = min(λ, 1 − λ), the series near 1/2."""
    u = lam - 0.5
    near = np.abs(u) < CB_MEAN_SWITCH
    m = np.minimum(lam, 1 - lam)
    m[near] = 0.25
    r = (1 - 2 * m) / m
    mean = 1 / np.log1p(r) - 1 / r  # E[x | m] for m < 1/2; E[x | 1 − m] = 1 − E[x | m]
    np.subtract(1, mean, out=mean, where=lam > 0.5)
    u_near = u[near]
    mean[near] = 0.5 + u_near * horner(CB_MEAN_SERIES, u_near * u_near)
    return mean


LOSSES = {"bce": bce, "mse": mse, "mae": mae, "cb": cb}
# How a model trained with a loss is read: its reconstruction is its output, except where the loss makes
# the output a parameter of a distribution whose mean is something else (the CB's λ -> E[x | λ]).
READOUTS = {"cb": cb_mean}


def binary_entropy(y: np.ndarray) -> np.ndarray:
    """Element-wise H(y) = -y log y - (1-y) log(1-y) in nats, with 0 log 0 = 0; y in [0, 1].

    This is the lowest value BCE can take for target y (reached at p = y).
    """
    y = np.asarray(y, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(y * np.log(y) + (1 - y) * np.log1p(-y))
    return np.nan_to_num(h, nan=0.0)
