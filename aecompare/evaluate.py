"""Every trained model and honest baselines on one yardstick: `python -m aecompare.evaluate --help`.

    python -m aecompare.evaluate                      # the table, models/ and the installed MNIST
    python -m aecompare.evaluate --format csv > table.csv
    python -m aecompare.evaluate --models /tmp/models --format json
    python -m aecompare.evaluate --per-model          # one row per model: mean ± std over its seeds

`evaluation_table` is the one code path behind this command and the dashboard's Losses view. All
metrics are over the test images, on the [0, 1] pixel scale (see `aecompare.metrics` for what is
clipped). Rows:
- kind "model": one per trained run (every seed), with its settings and its own loss as recorded
  during training (on the model's own scale: raw models' losses are on 0-255);
- kind "baseline": PCA (scikit-learn, fitted on the training images on [0, 1], centred) with the
  models' code size (28) and with the paper's 30 components; the mean training image for every test
  image, which is what a collapsed model ("blob") achieves;
- kind "published": Hinton & Salakhutdinov 2006, Science 313:504, Fig. 2B (30-d codes, squared
  error per test image summed over 784 pixels on [0, 1]); quoted, not measured here.
The probe accuracy comes from `aecompare.latent.linear_probe` on the codes (PCA: its components).
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from collections import defaultdict
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.decomposition import PCA

from . import latent, metrics
from .data import Dataset, MnistError, load_mnist, unit_images
from .registry import REGISTRY

DEFAULT_MODELS_DIR = Path(__file__).resolve().parent.parent / "models"
SETTINGS = tuple(k for k in REGISTRY[0].settings() if k not in ("name", "seed"))
OWN_LOSS = ("own_loss_last", "own_loss_best", "best_epoch")
COLUMNS = ("name", "kind", "seed", *SETTINGS, *OWN_LOSS, *metrics.METRICS, "probe_accuracy", "note")
TABLE_COLUMNS = ("name", "kind", "seed", "loss", "scale", "own_loss_last", "own_loss_best", "best_epoch",
                 *metrics.METRICS, "probe_accuracy")
INT_COLUMNS = ("seed", "best_epoch", "epochs", "batch_size")
PCA_COMPONENTS = (28, 30)  # the models' code size; Hinton & Salakhutdinov's code size
PUBLISHED_SOURCE = "Hinton & Salakhutdinov 2006, Science 313:504, Fig. 2B (30-d codes); quoted, not measured here"
PUBLISHED_SSE = (("H&S2006 deep autoencoder", 3.00), ("H&S2006 logistic PCA", 8.01), ("H&S2006 PCA", 13.87))


class Timer:
    """Seconds spent per part, summed over calls (the benchmark prints them)."""

    def __init__(self):
        self.seconds: dict[str, float] = defaultdict(float)

    @contextmanager
    def part(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - start


def own_loss(history: dict) -> dict:
    """Last recorded validation loss, the best (lowest finite) one and its epoch, on the model's own scale."""
    rows = history.get("epochs", [])
    values = [(r.get("val_loss"), r.get("epoch")) for r in rows]
    finite = [(v, e) for v, e in values if v is not None and math.isfinite(v)]
    last = values[-1][0] if values else None
    best = min(finite, key=lambda ve: ve[0]) if finite else (None, None)
    return {"own_loss_last": float("nan") if last is None else float(last),
            "own_loss_best": float("nan") if best[0] is None else float(best[0]),
            "best_epoch": float("nan") if best[1] is None else int(best[1])}


def fit_pca(x_train: np.ndarray, n_components: int) -> PCA:
    """scikit-learn PCA of flat [0, 1] training images (centred on their mean, as PCA always is)."""
    n_components = min(n_components, *x_train.shape)
    return PCA(n_components=n_components, svd_solver="covariance_eigh").fit(x_train)


def pca_codes(pca: PCA, x: np.ndarray, k: int) -> np.ndarray:
    """Coordinates of images `x` (n, 784) on the first `k` components.

    PCA's components are nested: the first k of a 30-component fit are exactly PCA with k.
    """
    return (x - pca.mean_) @ pca.components_[:k].T


def pca_reconstruct(pca: PCA, x: np.ndarray, k: int) -> np.ndarray:
    """Images `x` projected onto the first `k` components and back (the [0, 1] scale, unclipped)."""
    return pca_codes(pca, x, k) @ pca.components_[:k] + pca.mean_


def _metric_row(targets: metrics.Targets, p, timer: Timer) -> dict:
    """All yardstick metrics of reconstructions `p`, averaged over the images; SSIM timed on its own."""
    with timer.part("metrics"):
        values = metrics.pixel_metrics(targets, p)
    with timer.part("ssim"):
        values["ssim"] = metrics.ssim_per_image(targets, p)
    return metrics.summarise({k: values[k] for k in metrics.METRICS})


def _empty_row(name: str, kind: str) -> dict:
    row = dict.fromkeys(COLUMNS)
    row.update(name=name, kind=kind)
    for k in (*OWN_LOSS, *metrics.METRICS, "probe_accuracy", "seed"):
        row[k] = float("nan")
    return row


def evaluation_table(catalog, mnist: Dataset, timer: Timer | None = None,
                     probe_train: int = latent.PROBE_TRAIN, test_x_unit: np.ndarray | None = None) -> pd.DataFrame:
    """One row per run, baseline and published figure (columns `COLUMNS`); see the module docstring.

    Over all test images of `mnist`; the probe is fitted on `probe_train` training images (fixed
    subsample). Pass a `Timer` to learn where the seconds go, and `test_x_unit` (`unit_images` of
    the test images) if you already hold it, to save a copy (31 MB).
    """
    timer = timer or Timer()
    with timer.part("pca"):
        # first, while little else is allocated: the float32 training images (188 MB) live only during the fit
        pca = fit_pca(unit_images(mnist.train_x), max(PCA_COMPONENTS))
    y = unit_images(mnist.test_x) if test_x_unit is None else test_x_unit
    with timer.part("metrics"):
        targets = metrics.Targets(y)
    probe_idx = latent.probe_train_indices(mnist, probe_train)
    x_probe = unit_images(mnist.train_x[probe_idx])
    y_probe = mnist.train_y[probe_idx]
    rows = []
    for name in catalog.names():
        for run in catalog.by_name(name):
            row = _empty_row(run.name, "model")
            row.update({k: v for k, v in run.exp.settings().items()}, note="measured on the test images")
            row.update(own_loss(run.history))
            with timer.part("forward passes"):
                codes_test, p = run.codes_and_reconstruction(y)
                codes_train = run.codes(x_probe)
            row.update(_metric_row(targets, p, timer))
            with timer.part("probes"):
                row["probe_accuracy"] = latent.linear_probe(codes_train, y_probe, codes_test, mnist.test_y)
            rows.append(row)

    for k in PCA_COMPONENTS:
        row = _empty_row(f"pca-{k}", "baseline")
        row.update(note=f"PCA, {k} components, fitted on the {len(mnist.train_x)} training images (centred, [0, 1])")
        with timer.part("pca"):
            codes_test, p = pca_codes(pca, y, k), pca_reconstruct(pca, y, k)
            codes_train = pca_codes(pca, x_probe, k)
        row.update(_metric_row(targets, p, timer))
        with timer.part("probes"):
            row["probe_accuracy"] = latent.linear_probe(codes_train, y_probe, codes_test, mnist.test_y)
        rows.append(row)

    row = _empty_row("mean-image", "baseline")
    row.update(note="the mean training image for every test image: what a collapsed model (blob) achieves")
    mean_image = pca.mean_.astype(np.float32)  # PCA's centre is the mean training image
    row.update(_metric_row(targets, np.broadcast_to(mean_image, y.shape), timer))
    rows.append(row)

    for name, sse in PUBLISHED_SSE:
        row = _empty_row(name, "published")
        row.update(sse_per_image=sse, note=PUBLISHED_SOURCE)
        rows.append(row)
    return pd.DataFrame(rows, columns=list(COLUMNS))


def seed_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per model: `n_seeds`, and for each numeric column `<col>` its mean and `<col>_std` over seeds.

    Only model rows; std is NaN for a model with one seed (no spread to report).
    """
    models = table[table["kind"] == "model"]
    numeric = [c for c in (*OWN_LOSS, *metrics.METRICS, "probe_accuracy") if c in models]
    grouped = models.groupby("name", sort=False)
    mean = grouped[numeric].mean()
    std = grouped[numeric].std(ddof=1).add_suffix("_std")
    out = pd.concat([grouped.size().rename("n_seeds"), mean, std], axis=1)
    ordered = ["n_seeds"] + [c for k in numeric for c in (k, f"{k}_std")]
    return out[ordered].reset_index()


def records(table: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts: NaN -> None, numpy scalars -> Python numbers."""
    out = []
    for row in table.to_dict(orient="records"):
        clean = {}
        for k, v in row.items():
            if isinstance(v, np.generic):
                v = v.item()
            if isinstance(v, float) and math.isnan(v):
                v = None
            elif k in INT_COLUMNS and isinstance(v, float) and v.is_integer():
                v = int(v)  # pandas stores them as float because baselines have none
            clean[k] = v
        out.append(clean)
    return out


def format_cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"
    return str(v)


def text_table(table: pd.DataFrame) -> str:
    from .train import format_table

    cols = [c for c in TABLE_COLUMNS if c in table]
    rows = [{c: format_cell(r[c]) for c in cols} for r in records(table[cols])]
    return format_table(rows)


def summary_text(summary: pd.DataFrame) -> str:
    """`seed_summary` as plain text: per model its seeds and each metric as mean ± std (mean alone
    for a single seed)."""
    from .train import format_table

    rows = []
    for r in records(summary):
        row = {"name": r["name"], "seeds": r["n_seeds"]}
        for k in (*metrics.METRICS, "probe_accuracy"):
            std = r.get(f"{k}_std")
            row[k] = format_cell(r.get(k)) + ("" if std is None else f" ± {std:.2g}")  # as the dashboard
        rows.append(row)
    return format_table(rows)


def render(table: pd.DataFrame, fmt: str) -> str:
    if fmt == "json":
        return json.dumps(records(table), indent=1, allow_nan=False)
    if fmt == "csv":
        return table.to_csv(index=False)
    return text_table(table)


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(prog="python -m aecompare.evaluate", description=__doc__.split("\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--models", type=Path, default=DEFAULT_MODELS_DIR, help="models folder (default: models/)")
    p.add_argument("--data", help="MNIST file or folder (mnist.npz, or the four IDX .gz files)")
    p.add_argument("--format", choices=("table", "csv", "json"), default="table")
    p.add_argument("--per-model", action="store_true",
                   help="one row per model: the mean over its seeds and their standard deviation (ddof=1)")
    return p.parse_args(argv)


def main(argv=None) -> int:
    from .catalog import load_catalog

    args = parse_args(argv)
    try:
        mnist = load_mnist(args.data, download=False)
    except MnistError as e:
        print(e, file=sys.stderr)
        return 2
    catalog = load_catalog(args.models)
    table = evaluation_table(catalog, mnist)
    if args.per_model:
        summary = seed_summary(table)
        print(summary_text(summary) if args.format == "table" else render(summary, args.format))
    else:
        print(render(table, args.format))
    for problem in catalog.problems:
        print(f"problem: {problem}", file=sys.stderr)
    return 1 if catalog.problems else 0


if __name__ == "__main__":
    sys.exit(main())
