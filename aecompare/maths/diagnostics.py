"""Weight-collapse diagnostics in plain numpy: is a layer dying, is the output a blob?

All inputs are arrays; images on the [0, 1] scale, shape (n, 784).
"""

from __future__ import annotations

import numpy as np

NEAR_ZERO = 0.01  # a weight is "near zero" below 1% of its layer's largest |w|
SATURATED = 0.01  # a sigmoid unit is saturated when within 0.01 of 0 or 1
LOW_INPUT_SPREAD = 0.1  # `output_spread` (recorded per epoch) below this: outputs vary far less than inputs
BLOB_SPREAD = 0.05  # `relative_spread` below this: the output ignores the input (healthy models: ~0.7)
SHAPE_CORRELATION = 0.8  # mean output-input correlation from which an output has the input's shape
SCALE_RANGE = (0.2, 5.0)  # mean output / mean input outside this: the right shape on the wrong scale
MANY_DEAD = 0.5  # more than half a layer's units dead or saturated
STAT_CHUNK = 1000


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


def rank_above(s: np.ndarray, threshold: float = 0.01) -> int:
    """How many directions a layer still uses: its singular values `s` (largest first) above `threshold` x the
    largest."""
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


def output_statistics(inputs: np.ndarray, outputs: np.ndarray) -> dict[str, float]:
    """How reconstructions follow their inputs (both (n, 784) on [0, 1]), whatever the outputs' scale.

    - input_correlation: mean over images of the Pearson correlation of output and input pixels (0 for
      an image whose output is constant): the shape;
    - relative_spread: mean over the pixels that vary across inputs of the outputs' std across images,
      divided by the outputs' root mean square: ~0.7 for a model that follows its inputs, ~0 for a blob,
      unchanged if every output is multiplied by the same factor (a softmax's tiny outputs);
    - scale_ratio: mean output / mean input (1: as bright as the inputs);
    - output_min, output_max; output_sum: the mean over images of the sum of an image's outputs.
    """
    x = np.asarray(inputs).reshape(len(inputs), -1)
    p = np.asarray(outputs).reshape(len(outputs), -1)
    n, d = p.shape
    corr = np.empty(n)
    sums = {k: np.zeros(d) for k in ("x", "x2", "p", "p2")}
    for i in range(0, n, STAT_CHUNK):
        xb, pb = x[i:i + STAT_CHUNK].astype(np.float64), p[i:i + STAT_CHUNK].astype(np.float64)
        xc, pc = xb - xb.mean(axis=1, keepdims=True), pb - pb.mean(axis=1, keepdims=True)
        den = np.sqrt(np.einsum("ij,ij->i", xc, xc) * np.einsum("ij,ij->i", pc, pc))
        corr[i:i + len(xb)] = np.where(den > 0, np.einsum("ij,ij->i", xc, pc) / np.where(den > 0, den, 1), 0.0)
        for key, block in (("x", xb), ("x2", xb * xb), ("p", pb), ("p2", pb * pb)):
            sums[key] += block.sum(axis=0)
    mean_x, mean_p = sums["x"] / n, sums["p"] / n
    std_x = np.sqrt(np.maximum(sums["x2"] / n - mean_x ** 2, 0))
    std_p = np.sqrt(np.maximum(sums["p2"] / n - mean_p ** 2, 0))
    rms = np.sqrt(sums["p2"].sum() / (n * d))
    varies = std_x > 1e-6
    return {"input_correlation": float(corr.mean()),
            "relative_spread": float(std_p[varies].mean() / rms) if rms > 0 and varies.any() else 0.0,
            "scale_ratio": float(mean_p.mean() / mean_x.mean()) if mean_x.mean() > 0 else float("nan"),
            "output_min": float(p.min()), "output_max": float(p.max()), "output_sum": float(sums["p"].sum() / n)}


def verdict(diverged_epoch: int | None, stats: dict, hidden_layers: list[dict]) -> tuple[str, str]:
    """Classify a trained model: ("diverged" | "blob" | "right shape, wrong scale" | "many dead units" |
    "healthy", the reason), from its `output_statistics` over the test images and the per-layer rows of
    `layer_diagnostics` for its hidden layers (last epoch)."""
    spread, corr, ratio = stats["relative_spread"], stats["input_correlation"], stats["scale_ratio"]
    if diverged_epoch is not None:
        return "diverged", f"loss stopped being finite at epoch {diverged_epoch}"
    if not np.isfinite(spread) or spread < BLOB_SPREAD:
        return "blob", (f"relative output spread {spread:.2g} < {BLOB_SPREAD}: every image gets nearly the same "
                        f"output, whatever the input")
    lo, hi = SCALE_RANGE
    if corr >= SHAPE_CORRELATION and not lo <= ratio <= hi:
        return "right shape, wrong scale", (f"outputs follow the input (correlation {corr:.2f}) but are "
                                            f"{ratio:.2g} times as bright on average")
    worst = max(hidden_layers, key=lambda r: r["dead_units"] / r["units"], default=None)
    if worst and worst["dead_units"] / worst["units"] > MANY_DEAD:
        return "many dead units", (f"{worst['layer']}: {worst['dead_units']} of {worst['units']} units "
                                   f"dead or saturated (> {MANY_DEAD:.0%})")
    return "healthy", (f"relative output spread {spread:.2f}, correlation with the input {corr:.2f}, "
                       f"brightness ratio {ratio:.2f}; every hidden layer has <= {MANY_DEAD:.0%} dead or "
                       f"saturated units")
