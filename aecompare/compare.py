"""Pure numpy/pandas helpers behind the dashboard's views (no Streamlit, no TensorFlow).

Images are on the [0, 1] scale, shape (n, 784) or (28, 28), unless a name says otherwise.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .artifacts import decode_images
from .catalog import Run
from .diagnostics import BLOB_SPREAD, MANY_DEAD, rank_above, verdict

SIDE = 28


# ---------------------------------------------------------------- images


def upscale(img: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling of a (28, 28) or (28, 28, 3) image so single pixels are visible."""
    a = np.asarray(img)
    if a.ndim == 1:
        a = a.reshape(SIDE, SIDE)
    return np.repeat(np.repeat(a, factor, axis=0), factor, axis=1)


def stack_tiles(tiles: list[np.ndarray], gap: int = 6) -> np.ndarray:
    """Equal-width image tiles (uint8, grey or RGB) stacked top to bottom with white gaps of `gap` pixels.

    One image per grid column instead of one per cell: the browser fetches a dozen images, not hundreds.
    """
    if not tiles:
        return np.zeros((0, 0), np.uint8)
    white = np.full((gap, *tiles[0].shape[1:]), 255, np.uint8)
    parts = [tiles[0]]
    for t in tiles[1:]:
        parts += [white, t]
    return np.concatenate(parts, axis=0)


def to_display(x_unit: np.ndarray, stretch: bool = False) -> np.ndarray:
    """A [0, 1]-scale image as uint8 0-255, clipped; `stretch` maps its own min..max to 0..255."""
    a = np.asarray(x_unit, np.float64).reshape(SIDE, SIDE)
    if stretch:
        lo, hi = a.min(), a.max()
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return np.rint(np.clip(a, 0, 1) * 255).astype(np.uint8)


def diverging_rgb(err: np.ndarray, limit: float) -> np.ndarray:
    """Signed values as RGB uint8: blue below 0, white at 0, red above; +-limit saturates."""
    t = np.clip(np.asarray(err, np.float64) / (limit if limit > 0 else 1.0), -1, 1)
    pos, neg = np.clip(t, 0, 1), np.clip(-t, 0, 1)
    blue = np.array([33, 102, 172.0])
    red = np.array([178, 24, 43.0])
    white = np.array([247, 247, 247.0])
    rgb = white + pos[..., None] * (red - white) + neg[..., None] * (blue - white)
    return np.rint(rgb).astype(np.uint8)


def value_range(x: np.ndarray) -> tuple[float, float]:
    return float(np.min(x)), float(np.max(x))


def scale_note(run: Run, outputs_unit: np.ndarray) -> str:
    """One line saying how a model's outputs are displayed and their actual range."""
    lo, hi = value_range(outputs_unit)
    own = f"{lo * run.scale:.4g}..{hi * run.scale:.4g}"
    if run.exp.activation == "softmax":
        return (f"softmax outputs (sum to 1 over 784 pixels): actual range {own} on its own "
                f"{'0-255' if run.exp.scale == 'raw' else '0-1'} scale")
    if run.exp.scale == "raw":
        return f"raw-scale outputs {own}, shown on the input's 0-255 display, clipped"
    return f"outputs {own} on 0-1, shown clipped to 0-1"


# ---------------------------------------------------------------- digits


def choose_digits(mode: str, labels: np.ndarray, *, indices=(), seed: int = 0, n: int = 1,
                  per_image_error: np.ndarray | None = None) -> np.ndarray:
    """Test-set indices to show, for one of the sidebar's modes (see views.state.DIGIT_MODES)."""
    labels = np.asarray(labels)
    if mode == "typed":
        return np.array([i for i in indices if 0 <= i < len(labels)], dtype=int)
    if mode == "random":
        return np.sort(np.random.default_rng(seed).choice(len(labels), size=min(n, len(labels)), replace=False))
    if mode in ("worst", "best") and per_image_error is not None:
        order = np.argsort(per_image_error, kind="stable")
        return order[::-1][:n] if mode == "worst" else order[:n]
    return np.concatenate([np.flatnonzero(labels == d)[:n] for d in range(10)])


# ---------------------------------------------------------------- test-set errors


def test_set_errors(run: Run, x_unit: np.ndarray, labels: np.ndarray, batch: int = 2000) -> dict:
    """Per-pixel mean squared/absolute error maps, per-image MSE and per-class errors, [0, 1] scale."""
    x = np.asarray(x_unit, np.float32).reshape(len(x_unit), -1)
    sq_sum = np.zeros(784)
    abs_sum = np.zeros(784)
    per_image = np.empty(len(x))
    per_image_abs = np.empty(len(x))
    for start in range(0, len(x), batch):
        xb = x[start:start + batch]
        err = run.reconstruct(xb).astype(np.float64) - xb
        sq_sum += (err**2).sum(axis=0)
        abs_sum += np.abs(err).sum(axis=0)
        per_image[start:start + len(xb)] = (err**2).mean(axis=1)
        per_image_abs[start:start + len(xb)] = np.abs(err).mean(axis=1)
    per_class = pd.DataFrame({"digit": labels.astype(int), "mse": per_image, "mae": per_image_abs})
    per_class = per_class.groupby("digit", as_index=False).mean()
    return {"sq_map": sq_sum / len(x), "abs_map": abs_sum / len(x), "per_image_mse": per_image,
            "per_class": per_class}


def heatmap_frame(maps: dict[str, np.ndarray], value: str) -> pd.DataFrame:
    """Long table (model, row, col, value) of 28x28 maps, for one Altair heatmap per model."""
    rows, cols = np.indices((SIDE, SIDE))
    parts = [pd.DataFrame({"model": name, "row": rows.ravel(), "col": cols.ravel(), value: np.ravel(m)})
             for name, m in maps.items()]
    return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(columns=["model", "row", "col", value])


# ---------------------------------------------------------------- training records


def curves_frame(runs: list[Run]) -> pd.DataFrame:
    """Every run's per-epoch losses, long form: model, seed, epoch, curve, value (epoch 0 = before training)."""
    rows = []
    for r in runs:
        init = r.history.get("initial", {})
        if "val_loss" in init:
            rows.append((r.name, r.seed, 0, "own loss (test)", init["val_loss"]))
        if "val_mse" in init:
            rows.append((r.name, r.seed, 0, "MSE on [0,1] (test)", init["val_mse"]))
        for e in r.history.get("epochs", []):
            rows.append((r.name, r.seed, e["epoch"], "own loss (train)", e.get("train_loss")))
            rows.append((r.name, r.seed, e["epoch"], "own loss (test)", e.get("val_loss")))
            rows.append((r.name, r.seed, e["epoch"], "MSE on [0,1] (train)", e.get("train_mse")))
            rows.append((r.name, r.seed, e["epoch"], "MSE on [0,1] (test)", e.get("val_mse")))
    df = pd.DataFrame(rows, columns=["model", "seed", "epoch", "curve", "value"])
    return df.dropna(subset=["value"])


def layer_frame(runs: list[Run]) -> pd.DataFrame:
    """Per model, epoch and layer: weight norm, near-zero fraction, dead/saturated fraction."""
    rows = []
    for r in runs:
        records = [(0, r.history.get("initial", {}))] + [(e["epoch"], e) for e in r.history.get("epochs", [])]
        for epoch, rec in records:
            for layer in rec.get("layers", []):
                rows.append({"model": r.name, "epoch": epoch, "layer": layer["layer"], "units": layer["units"],
                             "weight norm (Frobenius)": layer["fro_norm"], "mean |w|": layer["mean_abs"],
                             "near-zero weights (fraction)": layer["near_zero"],
                             "dead or saturated units (fraction)": layer["dead_units"] / layer["units"]})
    return pd.DataFrame(rows)


def spread_frame(runs: list[Run]) -> pd.DataFrame:
    """Output spread per model and epoch (about 1: follows the input; near 0: a blob)."""
    rows = []
    for r in runs:
        init = r.history.get("initial", {})
        if "output_spread" in init:
            rows.append((r.name, 0, init["output_spread"]))
        rows += [(r.name, e["epoch"], e["output_spread"]) for e in r.history.get("epochs", [])]
    return pd.DataFrame(rows, columns=["model", "epoch", "output spread"])


def singular_frame(runs: list[Run]) -> pd.DataFrame:
    """Singular values of each weight matrix of each model, largest first, also relative to the largest."""
    rows = []
    for r in runs:
        for layer, s in zip(r.layers, r.singular_values, strict=True):
            for i, v in enumerate(s, start=1):
                rows.append((r.name, layer.name, i, float(v), float(v / s[0]) if s[0] > 0 else 0.0))
    return pd.DataFrame(rows, columns=["model", "layer", "index", "singular value", "relative to largest"])


def verdict_rows(runs: list[Run]) -> pd.DataFrame:
    """Per model: the verdict of `diagnostics.verdict` on the last epoch, its reason and the numbers."""
    rows = []
    for r in runs:
        epochs = r.history.get("epochs", [])
        last = epochs[-1] if epochs else r.history.get("initial", {})
        layers = last.get("layers", [])
        hidden = layers[:-1]
        spread = float(last.get("output_spread", float("nan")))
        label, reason = verdict(r.history.get("diverged_epoch"), spread, hidden)
        worst = max(hidden, key=lambda h: h["dead_units"] / h["units"], default=None)
        rows.append({
            "model": r.name, "verdict": label, "why": reason, "epoch": last.get("epoch", 0),
            "output spread": spread,
            "worst hidden layer": worst["layer"] if worst else "",
            "dead or saturated there": f"{worst['dead_units']}/{worst['units']}" if worst else "",
            "effective rank per layer": " ".join(str(rank_above(s)) for s in r.singular_values),
            "diverged at epoch": r.history.get("diverged_epoch"),
        })
    return pd.DataFrame(rows)


VERDICT_RULE = (f"Rule (in this order): **diverged** if the loss stopped being finite; **blob** if the output "
                f"spread (std of each output pixel across images / std of that input pixel, averaged) is below "
                f"{BLOB_SPREAD}; **many dead units** if some hidden layer has more than {MANY_DEAD:.0%} of its "
                f"units dead (ReLU: 0 on every probe image) or saturated (sigmoid: within 0.01 of 0 or 1 on every "
                f"probe image); otherwise **healthy**. Computed on the last epoch's record (1000 test images).")


def first_layer_filters(run: Run, count: int) -> np.ndarray:
    """The first `count` units' incoming weights as (count, 28, 28), each on its own symmetric scale in [-1, 1]."""
    k = run.layers[0].kernel[:, :count].T.astype(np.float64)
    limit = np.abs(k).max(axis=1, keepdims=True)
    return (k / np.where(limit > 0, limit, 1)).reshape(-1, SIDE, SIDE)


def probe_outputs(probes: dict, epoch: int = -1) -> np.ndarray:
    """One epoch of a run's stored probe reconstructions (`Run.probes`): (digits, 784) float32 on [0, 1]
    (raw outputs / 255); epoch 0 is before training, -1 the last. Decoded one epoch at a time: all
    101 epochs of one run in floats would take 6-13 MB, a dozen runs a visitor's 150 MB."""
    return decode_images(probes["pixels"][epoch], probes["lo"][epoch], probes["hi"][epoch]).astype(np.float32)


def probe_epochs(probes: dict) -> int:
    """How many epochs of probe reconstructions a run stored (training epochs + 1)."""
    return len(probes["pixels"])
