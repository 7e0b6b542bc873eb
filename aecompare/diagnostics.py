"""Weight-collapse diagnostics in plain numpy: is a layer dying, is the output a blob?

All inputs are arrays; images on the [0, 1] scale, shape (n, 784).
"""

from __future__ import annotations

import numpy as np

NEAR_ZERO = 0.01  # a weight is "near zero" below 1% of its layer's largest |w|
SATURATED = 0.01  # a sigmoid unit is saturated when within 0.01 of 0 or 1
BLOB_SPREAD = 0.1  # output spread below this: the output ignores the input
MANY_DEAD = 0.5  # more than half a layer's units dead or saturated


def weight_stats(kernel: np.ndarray) -> dict:
    """Frobenius norm, mean |w|, and the fraction of weights near zero relative to the largest."""
    w = np.abs(np.asarray(kernel, np.float64))
    largest = w.max() if w.size else 0.0
    return {
        "fro_norm": float(np.sqrt(np.sum(w * w))),
        "mean_abs": float(w.mean()) if w.size else 0.0,
        "near_zero": float(np.mean(w < NEAR_ZERO * largest)) if largest > 0 else 1.0,
    }


def dead_units(activations: np.ndarray) -> int:
    """ReLU units that are zero on every image of the batch (they pass no gradient)."""
    return int(np.sum(np.all(np.asarray(activations) <= 0, axis=0)))


def saturated_units(activations: np.ndarray) -> int:
    """Sigmoid units within SATURATED of 0 or 1 on every image (their gradient has vanished)."""
    a = np.asarray(activations)
    low = np.all(a < SATURATED, axis=0)
    high = np.all(a > 1 - SATURATED, axis=0)
    return int(np.sum(low | high))


def output_spread(inputs: np.ndarray, outputs: np.ndarray) -> float:
    """Mean over pixels of std across images of the outputs / std of the inputs (pixels that vary).

    About 1 for a model that follows its input; near 0 for a blob that ignores it.
    """
    x = np.asarray(inputs, np.float64).reshape(len(inputs), -1)
    y = np.asarray(outputs, np.float64).reshape(len(outputs), -1)
    sx = x.std(axis=0)
    varies = sx > 1e-6
    if not varies.any():
        return float("nan")
    return float(np.mean(y.std(axis=0)[varies] / sx[varies]))


def singular_values(kernel: np.ndarray) -> np.ndarray:
    """Singular values of a weight matrix, largest first."""
    return np.linalg.svd(np.asarray(kernel, np.float64), compute_uv=False)


def effective_rank(kernel: np.ndarray, threshold: float = 0.01) -> int:
    """How many directions a layer still uses: singular values above `threshold` x the largest."""
    return rank_above(singular_values(kernel), threshold)


def rank_above(s: np.ndarray, threshold: float = 0.01) -> int:
    """`effective_rank` from singular values `s` (largest first) already computed."""
    return int(np.sum(s > threshold * s[0])) if s.size and s[0] > 0 else 0


def layer_diagnostics(layers, activations, inputs) -> dict:
    """Per-layer weight stats and unit health, plus the output spread, for one model at one epoch.

    `layers`: DenseLayer list; `activations`: each layer's output on the probe batch `inputs`
    (n, 784) on the [0, 1] scale; the last activation must be on that scale too.
    """
    per_layer = []
    for layer, act in zip(layers, activations):
        row = {"layer": layer.name, "units": layer.units, **weight_stats(layer.kernel)}
        if layer.activation == "relu":
            row["dead_units"] = dead_units(act)
        elif layer.activation == "sigmoid":
            row["dead_units"] = saturated_units(act)
        else:
            row["dead_units"] = 0
        per_layer.append(row)
    return {"layers": per_layer, "output_spread": output_spread(inputs, activations[-1])}


def verdict(diverged_epoch: int | None, spread: float, hidden_layers: list[dict]) -> tuple[str, str]:
    """Classify a trained model: ("diverged" | "blob" | "many dead units" | "healthy", the reason).

    `hidden_layers`: the per-layer rows of `layer_diagnostics` for the hidden layers.
    """
    if diverged_epoch is not None:
        return "diverged", f"loss stopped being finite at epoch {diverged_epoch}"
    if not np.isfinite(spread) or spread < BLOB_SPREAD:
        return "blob", f"output spread {spread:.3f} < {BLOB_SPREAD}: the output ignores the input"
    worst = max(hidden_layers, key=lambda r: r["dead_units"] / r["units"], default=None)
    if worst and worst["dead_units"] / worst["units"] > MANY_DEAD:
        return "many dead units", (f"{worst['layer']}: {worst['dead_units']} of {worst['units']} units "
                                   f"dead or saturated (> {MANY_DEAD:.0%})")
    return "healthy", (f"output spread {spread:.3f} >= {BLOB_SPREAD}, every hidden layer has "
                       f"<= {MANY_DEAD:.0%} dead or saturated units")
