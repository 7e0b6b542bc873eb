"""The trained models' evidence for the three questions (Q1-Q3), as plain data: no Streamlit.

`questions_evidence(catalog, test_images, output_stats)` turns the catalog (plus, optionally, the test images and
the stored output statistics that decide verdicts) into
dicts, numpy arrays and DataFrames that the question tabs draw; every number comes from
`aecompare.maths.explain` or from the models' records. With no models they still hold the math's inputs.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from ..data import chunks, unit_images
from ..maths import explain as ex
from ..maths.diagnostics import LOW_INPUT_SPREAD, verdict
from .records import probe_outputs

SOFTMAX_MODELS = ("raw-softmax-bce", "norm-softmax-bce")
RAW_BCE_MODELS = ("raw-softmax-bce", "raw-sigmoid-bce")
RAW_OTHER_MODELS = ("raw-sigmoid-mse", "raw-linear-mae")
Q3_SGD_MODELS = ("q3-sigmoid-bce", "q3-sigmoid-mse")
ADAM_CONTRAST = ("q3-sigmoid-bce-adam", "q3-sigmoid-mse-adam", "norm-sigmoid-bce", "norm-sigmoid-mse")
N_EVIDENCE_IMAGES = 1000  # test images used for output ranges and lit-pixel counts
WEIGHTS_ZERO_RATIO = 0.1  # "went to zero": first-layer norm below 10% of its initial value


def history_frame(run) -> pd.DataFrame:
    """One row per epoch (0 = before training): losses, output spread, first-layer weight stats."""
    h = run.history
    rows = []
    for epoch, rec in [(0, h.get("initial") or {})] + [(r.get("epoch", i + 1), r)
                                                       for i, r in enumerate(h.get("epochs", []))]:
        layers = rec.get("layers") or [{}]
        first = layers[0]
        rows.append({
            "model": run.name, "epoch": int(epoch),
            "train_loss": rec.get("train_loss", np.nan), "val_loss": rec.get("val_loss", np.nan),
            "val_mse": rec.get("val_mse", np.nan), "output_spread": rec.get("output_spread", np.nan),
            "first_layer_fro_norm": first.get("fro_norm", np.nan),
            "first_layer_mean_abs": first.get("mean_abs", np.nan),
            "first_layer_near_zero": first.get("near_zero", np.nan),
            "saturated_hidden_units": sum(int(r.get("dead_units", 0)) for r in layers[:-1]),
            "hidden_units": sum(int(r.get("units", 0)) for r in layers[:-1]),
        })
    return pd.DataFrame(rows)


def _softmax_evidence(run, test_images: np.ndarray | None) -> dict:
    final = probe_outputs(run.probes)
    out = {"name": run.name, "scale": run.exp.scale, "probe_labels": np.asarray(run.probes["labels"]),
           "probe_outputs": final, "probe_targets": None,
           "final_val_loss": float(run.history["epochs"][-1]["val_loss"]) if run.history.get("epochs") else None}
    out["output_min"] = float(final.min())
    out["output_max"] = float(final.max())
    out["output_sum_mean"] = float(final.sum(axis=1).mean())  # on the [0, 1] scale (raw: 1/255)
    if test_images is not None:
        out["probe_targets"] = unit_images(test_images[run.probes["index"]])
        x = unit_images(test_images[:N_EVIDENCE_IMAGES])
        recon = run.reconstruct(x)  # outputs on [0, 1]
        lit = x > 0.5
        k = lit.sum(axis=1)
        mean_lit = np.where(k > 0, (recon * lit).sum(axis=1) / np.maximum(k, 1), np.nan)
        out["per_image"] = pd.DataFrame({
            "model": run.name, "lit_pixels": k, "mean_output_on_lit_pixels": mean_lit,
            "ceiling_1_over_k": ex.softmax_ceiling(k) / run.scale, "max_output": recon.max(axis=1),
            "output_sum": recon.sum(axis=1)})
    return out


def _raw_bce_evidence(catalog, test_images: np.ndarray | None) -> dict:
    frames = []
    for name in RAW_BCE_MODELS + RAW_OTHER_MODELS:
        for run in catalog.by_name(name)[:1]:
            f = history_frame(run)
            f["loss"] = run.exp.loss
            f["activation"] = run.exp.activation
            f["diverged_epoch"] = run.history.get("diverged_epoch")
            frames.append(f)
    curves = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out = {"curves": curves, "floor": None, "mean_target": None}
    if test_images is not None:
        # every test image (the set the validation loss is computed on), as counts of each value 0-255:
        # a pixel's best clipped BCE (float32, as Keras) depends on its value only
        counts = sum(np.bincount(chunk.ravel(), minlength=256) for chunk in chunks(test_images))  # int64s, so in chunks
        values = np.arange(256, dtype=np.float64)
        out["floor"] = ex.best_clipped_bce(values, weights=counts)
        out["mean_target"] = float(np.average(values, weights=counts))
        out["floor_images"] = int(len(test_images))
    return out


def q3_reading(frame: pd.DataFrame, diverged_epoch, loss: str, blob_mse: float | None,
                 stats: dict | None = None) -> dict:
    """A plain-language reading of one Q3 run, computed from its per-epoch records and (`stats`) the
    `diagnostics.output_statistics` of its reconstructions of test images, which decide the verdict."""
    first, last = frame.iloc[0], frame.iloc[-1]
    ratio = float(last.first_layer_fro_norm / first.first_layer_fro_norm) if first.first_layer_fro_norm else math.nan
    kind, why = verdict(diverged_epoch, stats, []) if stats else ("not judged", "needs the test images")
    weights_zero = bool(ratio < WEIGHTS_ZERO_RATIO)
    text = [f"First-layer weights (784→{int(frame.attrs.get('first_units', 0)) or 'hidden'}): Frobenius norm "
            f"{first.first_layer_fro_norm:.3f} before training, {last.first_layer_fro_norm:.3f} after epoch "
            f"{int(last.epoch)} ({ratio - 1:+.2%}); {last.first_layer_near_zero:.1%} of them are below 1% of the "
            "largest. " + ("They **did go to zero**." if weights_zero else "They did **not** go to zero.")]
    text.append(f"Output spread {first.output_spread:.4f} → {last.output_spread:.4f} during training (1 = outputs "
                f"vary as much as the inputs, below {LOW_INPUT_SPREAD}: far less). Verdict on the test images: "
                f"**{kind}** ({why}).")
    if blob_mse is not None:
        text.append(f"Validation MSE {last.val_mse:.4f} per pixel; predicting the mean test image for every "
                    f"digit scores {blob_mse:.4f}: the model is "
                    + ("no better than that mean image." if last.val_mse >= 0.95 * blob_mse
                       else f"{1 - last.val_mse / blob_mse:.0%} better than that mean image."))
    return {"kind": kind, "why": why, "weights_went_to_zero": weights_zero, "fro_ratio": ratio,
            "spread_first": float(first.output_spread), "spread_last": float(last.output_spread),
            "val_mse_last": float(last.val_mse), "blob_mse": blob_mse, "loss": loss, "text": text}


def mean_pixel_variance(test_images: np.ndarray) -> float:
    """The MSE per pixel on [0, 1] of predicting the mean test image for every test image (a blob's error): each
    pixel's variance over the images, averaged over pixels; exact integer sums of the uint8 images."""
    n, total, squares = len(test_images), 0, 0
    for chunk in chunks(test_images):  # the whole set as int64 would be 63 MB
        x = chunk.reshape(len(chunk), -1).astype(np.int64)
        total, squares = total + x.sum(axis=0), squares + (x * x).sum(axis=0)
    var = squares / n - (total / n) ** 2
    return float(var.mean() / 255**2)


def _q3_evidence(catalog, test_images: np.ndarray | None, output_stats) -> dict:
    blob_mse = None if test_images is None else mean_pixel_variance(test_images)
    stats_of = output_stats or (lambda name, seed: None)
    runs = []
    for name in Q3_SGD_MODELS:
        for run in [r for r in catalog.by_name(name)[:1] if r.probes is not None]:
            f = history_frame(run)
            f.attrs["first_units"] = run.layers[0].units if run.layers else 0
            runs.append({"name": name, "loss": run.exp.loss,
                         "optimizer": f"{run.exp.optimizer.name} lr {run.exp.optimizer.learning_rate:g}",
                         "frame": f, "probes": run.probes,
                         "probe_targets": (unit_images(test_images[run.probes["index"]])
                                           if test_images is not None else None),
                         "reading": q3_reading(f, run.history.get("diverged_epoch"), run.exp.loss, blob_mse,
                                                 stats_of(run.name, run.seed))})
    contrast = []
    for name in ADAM_CONTRAST:
        for run in catalog.by_name(name)[:1]:
            f = history_frame(run)
            stats = stats_of(run.name, run.seed)
            kind = verdict(run.history.get("diverged_epoch"), stats, [])[0] if stats else "not judged"
            contrast.append({"name": name, "arch": run.exp.arch.label, "optimizer": run.exp.optimizer.name,
                             "spread_last": float(f.output_spread.iloc[-1]), "val_mse_last": float(f.val_mse.iloc[-1]),
                             "kind": kind})
    return {"runs": runs, "blob_mse": blob_mse, "contrast": contrast}


def questions_evidence(catalog, test_images: np.ndarray | None = None, output_stats=None) -> dict:
    """Everything the three views need from the trained models, as plain data.

    `catalog`: an `aecompare.store.catalog.Catalog` (may be empty). `test_images`: the dataset's test images, uint8
    (n, 28, 28) 0-255, or None when they are unavailable (then no targets are shown). `output_stats(name, seed)`:
    `diagnostics.output_statistics` of a run's test reconstructions (the stored results' `Results.output_stats`),
    which decide the verdicts; without it the runs are "not judged".
    """
    names = catalog.names() if catalog is not None else []
    return {
        "available": names,
        "softmax": [_softmax_evidence(catalog.by_name(n)[0], test_images) for n in SOFTMAX_MODELS
                    if n in names and catalog.by_name(n)[0].probes is not None],
        "ceiling": (ex.softmax_ceiling_summary(unit_images(test_images[:N_EVIDENCE_IMAGES]))
                    if test_images is not None else None),
        "raw_bce": _raw_bce_evidence(catalog, test_images) if catalog is not None else {"curves": pd.DataFrame()},
        "q3": (_q3_evidence(catalog, test_images, output_stats) if catalog is not None
                 else {"runs": [], "contrast": []}),
    }


def q3_summary(runs: list[dict], contrast: list[dict]) -> str:
    """What the Q3 records say about the asker's explanation, worded from the computed readings."""
    by_loss = {r["loss"]: r["reading"] for r in runs}
    parts = []
    zero = [r["name"] for r in runs if r["reading"]["weights_went_to_zero"]]
    parts.append("First-layer weights went to zero in " + ", ".join(zero) + "." if zero
                 else "In neither run did the first-layer weights go to zero: their norm barely moved from its "
                      "initial value.")
    blobs = [r["name"] for r in runs if r["reading"]["kind"] == "blob"]
    if len(blobs) == len(runs) and len(runs) > 1:
        parts.append("Both the cross-entropy and the MSE model ended as blobs, so the loss alone does not explain "
                     "the blob here; with sigmoid hidden layers and plain SGD neither learns within these epochs.")
    elif blobs:
        parts.append(f"Only {', '.join(blobs)} ended as a blob, as the asker saw.")
    else:
        parts.append("Neither model ended as a blob.")
    if "bce" in by_loss and "mse" in by_loss:
        b, m = by_loss["bce"], by_loss["mse"]
        parts.append(f"Final output spread: BCE {b['spread_last']:.4f}, MSE {m['spread_last']:.4f}; validation MSE: "
                     f"BCE {b['val_mse_last']:.4f}, MSE {m['val_mse_last']:.4f} per pixel.")
        if b["spread_last"] < m["spread_last"]:
            parts.append(f"The BCE run's outputs vary {m['spread_last'] / max(b['spread_last'], 1e-12):.1f}× less "
                         "than the MSE run's: cross-entropy blobs harder here, but both blob.")
    learned = [c for c in contrast if c["kind"] != "blob"]
    if learned:
        parts.append("With Adam, " + ", ".join(f"{c['name']} ({c['arch']}: spread {c['spread_last']:.2f}, val MSE "
                                               f"{c['val_mse_last']:.4f})" for c in learned)
                     + " reconstruct with the same two losses.")
        q3_arch = {c["arch"] for c in contrast if c["name"].startswith("q3-")}
        if blobs and any(c["arch"] in q3_arch for c in learned):
            parts.append("On Q3's own net only the optimizer differs from the SGD runs, so here the "
                         "optimizer, not the loss, decides whether the model blobs.")
    return " ".join(parts)
