"""Reconstruction losses in plain numpy, with Keras' conventions.

Every function takes targets `y` and predictions `p` of the same shape, on whatever scale the
model was trained on, and returns the mean over all elements (Keras: mean over pixels, then over
images) unless `axis` is given. BCE clips predictions to [1e-7, 1 - 1e-7] in the predictions'
own float precision, exactly as Keras does, so a float32 model's loss is reproduced to the digit.
Values are in nats (natural log) per pixel.
"""

from __future__ import annotations

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


LOSSES = {"bce": bce, "mse": mse, "mae": mae}


def binary_entropy(y: np.ndarray) -> np.ndarray:
    """Element-wise H(y) = -y log y - (1-y) log(1-y) in nats, with 0 log 0 = 0; y in [0, 1].

    This is the lowest value BCE can take for target y (reached at p = y).
    """
    y = np.asarray(y, np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        h = -(y * np.log(y) + (1 - y) * np.log1p(-y))
    return np.nan_to_num(h, nan=0.0)


def excess_bce(y, p, axis=None):
    """BCE minus the targets' entropy: the KL divergence, the part of BCE a model can still remove.

    Zero for a perfect reconstruction whatever the targets; targets must be in [0, 1].
    """
    return bce(y, p, axis=axis) - np.mean(binary_entropy(y), axis=axis)
