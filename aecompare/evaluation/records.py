"""A run's training record and weights as tables for the charts: loss curves, per-layer statistics,
output spread, singular values and verdicts, plus its probe digits decoded. Pure numpy and pandas.

`history.json` holds per epoch: train/test loss, MSE on [0, 1], and per layer the weight statistics
and dead or saturated units (see `aecompare.maths.diagnostics`); `probes.npz` the probe digits' reconstructions.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..maths.diagnostics import BLOB_SPREAD, MANY_DEAD, SCALE_RANGE, SHAPE_CORRELATION, rank_above, verdict
from ..store.artifacts import decode_images
from ..store.catalog import Run
from ..store.schema import probe_epochs_kept

SIDE = 28


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


def every_few_epochs(df: pd.DataFrame) -> pd.DataFrame:
    """The rows of the epochs a chart draws: every one up to 10, then every 5th and the last (as probe images
    are kept: `schema.probe_epochs_kept`). The curves' shape with under a third of the points; each drawn point
    is exact (a browser draws thousands of them slowly)."""
    return df[df["epoch"].isin(probe_epochs_kept(int(df["epoch"].max())))] if len(df) else df


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


def singular_frame(runs: list[Run], values: dict[str, list[np.ndarray]]) -> pd.DataFrame:
    """Singular values of each weight matrix of each model (`values`: name -> per layer, largest first),
    also relative to the largest."""
    rows = []
    for r in runs:
        for layer, s in zip(r.layers, values[r.name], strict=True):
            for i, v in enumerate(s, start=1):
                rows.append((r.name, layer.name, i, float(v), float(v / s[0]) if s[0] > 0 else 0.0))
    return pd.DataFrame(rows, columns=["model", "layer", "index", "singular value", "relative to largest"])


def verdict_rows(runs: list[Run], values: dict[str, list[np.ndarray]], outputs: dict[str, dict]) -> pd.DataFrame:
    """Per model: the verdict of `diagnostics.verdict`, its reason and the numbers behind it (`values`: name ->
    each layer's singular values; `outputs`: name -> `diagnostics.output_statistics` over the test images)."""
    rows = []
    for r in runs:
        epochs = r.history.get("epochs", [])
        last = epochs[-1] if epochs else r.history.get("initial", {})
        hidden = last.get("layers", [])[:-1]
        stats = outputs[r.name]
        label, reason = verdict(r.history.get("diverged_epoch"), stats, hidden)
        worst = max(hidden, key=lambda h: h["dead_units"] / h["units"], default=None)
        rows.append({
            "model": r.name, "verdict": label, "why": reason,
            "correlation with input": stats["input_correlation"], "relative spread": stats["relative_spread"],
            "brightness ratio": stats["scale_ratio"],
            "worst hidden layer": worst["layer"] if worst else "",
            "dead or saturated there": f"{worst['dead_units']}/{worst['units']}" if worst else "",
            "effective rank per layer": " ".join(str(rank_above(s)) for s in values[r.name]),
            "diverged at epoch": r.history.get("diverged_epoch"),
        })
    return pd.DataFrame(rows)


VERDICT_RULE = (
    f"Rule (in this order): **diverged** if the loss stopped being finite; **blob** if the relative output spread "
    f"(each output pixel's std across the test images, averaged over pixels, divided by the outputs' root mean "
    f"square: unchanged by the outputs' scale) is below {BLOB_SPREAD}; **right shape, wrong scale** if the outputs "
    f"correlate with their inputs (mean per-image correlation ≥ {SHAPE_CORRELATION}) but their mean brightness is "
    f"outside {SCALE_RANGE[0]}–{SCALE_RANGE[1]} times the inputs'; **many dead units** if some hidden layer has more "
    f"than {MANY_DEAD:.0%} of its units dead (ReLU: 0 on every probe image) or saturated (sigmoid: within 0.01 of 0 "
    f"or 1 on every probe image, last epoch's record); otherwise **healthy**. Output statistics over all 10,000 "
    f"test images.")


def first_layer_filters(run: Run, count: int) -> np.ndarray:
    """The first `count` units' incoming weights as (count, 28, 28), each on its own symmetric scale in [-1, 1]."""
    k = run.layers[0].kernel[:, :count].T.astype(np.float64)
    limit = np.abs(k).max(axis=1, keepdims=True)
    return (k / np.where(limit > 0, limit, 1)).reshape(-1, SIDE, SIDE)


def _frame(probes: dict, epoch: int) -> int:
    """Index of the stored frame shown for `epoch`: the last kept epoch at or before it (-1: the last of all)."""
    kept = probes["epochs"]
    return len(kept) - 1 if epoch < 0 else max(int(np.searchsorted(kept, epoch, side="right")) - 1, 0)


def probe_frame(probes: dict, epoch: int = -1) -> int:
    """The stored epoch shown for `epoch`: the last kept one at or before it (-1: the last of all)."""
    return int(probes["epochs"][_frame(probes, epoch)])


def probe_outputs(probes: dict, epoch: int = -1) -> np.ndarray:
    """The probe reconstructions a run stored after `epoch` (`Run.probes`; the last kept epoch at or before it,
    see `probe_frame`): (digits, 784) float32 on [0, 1] (raw outputs / 255); epoch 0 is before training, -1 the
    last. Decoded one epoch at a time: every epoch of a dozen runs in floats would take a visitor's 150 MB."""
    k = _frame(probes, epoch)
    return decode_images(probes["pixels"][k], probes["lo"][k], probes["hi"][k]).astype(np.float32)


def probe_epochs(probes: dict) -> list[int]:
    """The epochs whose probe reconstructions a run stored (0 = before training; see `schema.probe_epochs_kept`)."""
    return [int(e) for e in probes["epochs"]]
