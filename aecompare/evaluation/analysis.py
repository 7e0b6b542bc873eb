"""Everything the dashboard derives from the test set, computed in one pass per run.

`analyse(catalog, data)` runs every trained run over the 10,000 test images once and returns a
`Results`: the evaluation table (runs, baselines, published figures), per-image errors (for best/worst
ranking), per-pixel error maps, per-class errors, latent projections (PCA of every test code, t-SNE
of a fixed subsample) and singular values. `aecompare.evaluation.results` writes them next to the models and
reads them back, so the dashboard computes none of this for a visitor.

All metrics are on the [0, 1] pixel scale (see `aecompare.maths.metrics` for what is clipped). Table rows:
- kind "model": one per trained run (every seed), with its settings and its own loss as recorded
  during training (on the model's own scale: raw models' losses are on 0-255);
- kind "baseline": PCA (scikit-learn, fitted on the training images on [0, 1], centred) with the
  models' code size (28) and the paper's 30 components; the mean training image for every test
  image, which is what a collapsed model ("blob") achieves;
- kind "published": Hinton & Salakhutdinov 2006, Science 313:504, Fig. 2B (30-d codes, squared
  error per test image summed over 784 pixels on [0, 1]); quoted, not measured here.
The probe accuracy is a logistic regression on standardised bottleneck codes of a fixed subsample
of training images (`PROBE_TRAIN`), scored on all test codes (0-1; chance, always answering the
commonest class, is 0.1135 on MNIST, 0.10 on Fashion-MNIST).
Pure numpy, pandas and scikit-learn (imported lazily); no Keras, no Streamlit.
"""

from __future__ import annotations

import functools
import math
import time
import warnings
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from ..data import Dataset, unit_images
from ..maths import metrics
from ..maths.diagnostics import output_statistics, singular_values
from .columns import COLUMNS, OWN_LOSS, TABLE_DTYPES

OUTPUT_COLUMNS = ("name", "seed", "input_correlation", "relative_spread", "scale_ratio", "output_min", "output_max",
                  "output_sum")
SUMMARY_METRICS = (*OWN_LOSS[:2], *metrics.METRICS, "probe_accuracy", *metrics.BAND_METRICS[:4])
PCA_COMPONENTS = (28, 30)  # the models' code size; Hinton & Salakhutdinov's code size
PUBLISHED_SOURCE = "Hinton & Salakhutdinov 2006, Science 313:504, Fig. 2B (30-d codes); quoted, not measured here"
PUBLISHED_SSE = (("H&S2006 deep autoencoder", 3.00), ("H&S2006 logistic PCA", 8.01), ("H&S2006 PCA", 13.87))

PROBE_TRAIN = 5_000  # training images whose codes fit the probe (a fixed random subsample: keeps it ~0.1 s)
PROBE_MAX_ITER = 300
TSNE_N = 1000  # test images projected by t-SNE (seconds per model)
RANDOM_STATE = 0


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


# ---------------------------------------------------------------- the pieces


def own_loss(history: dict) -> dict:
    """Last recorded validation loss, the best (lowest finite) one and its epoch, on the model's own scale."""
    rows = history.get("epochs", [])
    values = [(r.get("val_loss"), r.get("epoch")) for r in rows]
    finite = [(v, e) for v, e in values if v is not None and math.isfinite(v)]
    last = values[-1][0] if values else None
    best = min(finite, key=lambda ve: ve[0]) if finite else (None, None)
    return {"own_loss_last": float("nan") if last is None else float(last),
            "own_loss_best": float("nan") if best[0] is None else float(best[0]),
            "best_epoch": pd.NA if best[1] is None else int(best[1])}


def fit_pca(x_train: np.ndarray, n_components: int):
    """scikit-learn PCA of flat [0, 1] training images (centred on their mean, as PCA always is)."""
    from sklearn.decomposition import PCA

    n_components = min(n_components, *x_train.shape)
    return PCA(n_components=n_components, svd_solver="covariance_eigh").fit(x_train)


def pca_codes(pca, x: np.ndarray, k: int) -> np.ndarray:
    """Coordinates of images `x` (n, 784) on the first `k` components (nested: the first k of a
    30-component fit are exactly PCA with k)."""
    return (x - pca.mean_) @ pca.components_[:k].T


def pca_reconstruct(pca, x: np.ndarray, k: int) -> np.ndarray:
    """Images `x` projected onto the first `k` components and back (the [0, 1] scale, unclipped)."""
    return pca_codes(pca, x, k) @ pca.components_[:k] + pca.mean_


def subsample(n_total: int, n: int, seed: int = RANDOM_STATE) -> np.ndarray:
    """A fixed, sorted random subset of `n` indices out of `n_total` (all of them if n >= n_total)."""
    if n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(seed).choice(n_total, size=n, replace=False))


def linear_probe(train_codes: np.ndarray, train_labels: np.ndarray,
                 test_codes: np.ndarray, test_labels: np.ndarray) -> float:
    """Test accuracy (0-1) of a logistic regression on standardised codes; NaN if codes are not finite
    (a diverged model's codes can be inf/NaN: no probe can be fitted, and NaN says so)."""
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if not (np.isfinite(train_codes).all() and np.isfinite(test_codes).all()):
        return float("nan")
    scaler = StandardScaler().fit(train_codes)
    clf = LogisticRegression(max_iter=PROBE_MAX_ITER)
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        # A code that carries no information (collapsed model) may not converge; its accuracy is still honest.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(scaler.transform(train_codes), train_labels)
    return float(clf.score(scaler.transform(test_codes), test_labels))


def project(codes: np.ndarray, tsne_index: np.ndarray | None) -> dict[str, np.ndarray]:
    """2-D projections of codes (n, d): {"pca": (n, 2)} of every row, plus {"tsne": (k, 2)} of the rows
    `tsne_index` (scikit-learn, perplexity 30, PCA init, random_state 0). {} for non-finite codes.

    One BLAS thread, so that the same inputs give the same coordinates on any machine load.
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    codes = np.asarray(codes, np.float64)
    if not np.isfinite(codes).all():
        return {}
    with threadpool_limits(limits=1):
        n_comp = min(2, codes.shape[1])
        xy = PCA(n_components=n_comp, random_state=RANDOM_STATE).fit_transform(codes)
        if n_comp < 2:
            xy = np.column_stack([xy, np.zeros(len(codes))])
        out = {"pca": xy.astype(np.float32)}
        if tsne_index is not None and len(tsne_index):
            perplexity = min(30.0, max(2.0, (len(tsne_index) - 1) / 3))
            out["tsne"] = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=RANDOM_STATE,
                               n_jobs=1).fit_transform(codes[tsne_index]).astype(np.float32)
    return out


def error_summaries(x: np.ndarray, p: np.ndarray, labels: np.ndarray) -> tuple[dict, pd.DataFrame]:
    """Per-pixel mean squared and absolute error maps (784,) and per-image MSE (n,) as arrays, and the
    per-class mean MSE/MAE as a frame (label, mse, mae); [0, 1] scale, unclipped outputs."""
    err = p.astype(np.float64) - x
    sq = err * err
    per_image_mse = sq.mean(axis=1)
    per_image_mae = np.abs(err).mean(axis=1)
    arrays = {"squared_map": sq.mean(axis=0), "absolute_map": np.abs(err).mean(axis=0),
              "per_image_mse": per_image_mse.astype(np.float32)}
    per_class = (pd.DataFrame({"label": labels.astype(int), "mse": per_image_mse, "mae": per_image_mae})
                 .groupby("label", as_index=False).mean())
    return arrays, per_class


def seed_summary(table: pd.DataFrame) -> pd.DataFrame:
    """Per model: `n_seeds`, and for each numeric column `<col>` its mean and `<col>_std` over seeds.

    Only model rows; std is NaN for a model with one seed (no spread to report).
    """
    models = table[table["kind"] == "model"]
    numeric = [c for c in SUMMARY_METRICS if c in models]
    grouped = models.groupby("name", sort=False)
    mean = grouped[numeric].mean()
    std = grouped[numeric].std(ddof=1).add_suffix("_std")
    out = pd.concat([grouped.size().rename("n_seeds"), mean, std], axis=1)
    ordered = ["n_seeds"] + [c for k in numeric for c in (k, f"{k}_std")]
    return out[ordered].reset_index()


# ---------------------------------------------------------------- the results


def run_key(name: str, seed: int) -> str:
    """The prefix of one run's arrays in `Results.arrays`: "<name>/seed-<seed>"."""
    return f"{name}/seed-{seed}"


@dataclass
class Results:
    """Everything `analyse` derives: two tables and named arrays (keys "<name>/seed-<k>/<what>", see
    `run_key`; per dataset: "<dataset>/test_labels", "<dataset>/tsne_index"). Plain data, written by
    `aecompare.evaluation.results`."""

    table: pd.DataFrame  # columns COLUMNS
    per_class: pd.DataFrame  # name, seed, label (the class, 0-9), mse, mae
    outputs: pd.DataFrame  # name, seed, and `diagnostics.output_statistics` of its test reconstructions
    arrays: dict[str, np.ndarray] = field(default_factory=dict)

    def dataset_of(self, name: str) -> str:
        """The dataset a model was evaluated on (its table rows say)."""
        rows = self.table[(self.table["name"] == name) & (self.table["kind"] == "model")]
        return str(rows["dataset"].iloc[0]) if len(rows) else "mnist"

    def output_stats(self, name: str, seed: int) -> dict | None:
        """A run's `OUTPUT_COLUMNS` (the verdict's statistics) as a dict, None if it has none."""
        return self._output_rows.get((name, int(seed)))

    @functools.cached_property
    def _output_rows(self) -> dict[tuple[str, int], dict]:
        return {(row["name"], int(row["seed"])): row for row in self.outputs.to_dict("records")}

    @property
    def seed_summary(self) -> pd.DataFrame:
        return seed_summary(self.table)

    def array(self, name: str, seed: int, what: str) -> np.ndarray | None:
        return self.arrays.get(f"{run_key(name, seed)}/{what}")

    def singular_values(self, name: str, seed: int) -> list[np.ndarray]:
        """Each weight matrix's singular values (largest first), in layer order."""
        prefix = f"{run_key(name, seed)}/singular_values_"
        found = sorted((k for k in self.arrays if k.startswith(prefix)), key=lambda k: int(k[len(prefix):]))
        return [self.arrays[k] for k in found]

    def latent(self, name: str, seed: int = 0) -> pd.DataFrame:
        """Long frame (method "PCA" | "t-SNE", index, label, x, y) of one run's projected test codes;
        empty if the run's codes were not finite or were not projected."""
        columns = ["method", "index", "label", "x", "y"]
        dataset = self.dataset_of(name)
        labels = self.arrays[f"{dataset}/test_labels"].astype(int)
        parts = []
        tsne_index = self.arrays.get(f"{dataset}/tsne_index")
        for method, what, index in (("PCA", "latent_pca", None), ("t-SNE", "latent_tsne", tsne_index)):
            xy = self.array(name, seed, what)
            if xy is None:
                continue
            idx = np.arange(len(xy)) if index is None else np.asarray(index)
            parts.append(pd.DataFrame({"method": method, "index": idx, "label": labels[idx],
                                       "x": xy[:, 0], "y": xy[:, 1]}))
        return pd.concat(parts, ignore_index=True)[columns] if parts else pd.DataFrame(columns=columns)


def _empty_row(name: str, kind: str) -> dict:
    row = dict.fromkeys(COLUMNS)
    row.update(name=name, kind=kind)
    for k in (*OWN_LOSS[:2], *metrics.METRICS, "probe_accuracy", *metrics.BAND_METRICS):
        row[k] = float("nan")
    return row


def _metric_row(targets: metrics.Targets, p, timer: Timer) -> tuple[dict, dict[str, np.ndarray]]:
    """The yardstick's means over the images of reconstructions `p`, and the per-image values."""
    with timer.part("metrics"):
        values = metrics.pixel_metrics(targets, p)
    with timer.part("ssim"):
        values["ssim"] = metrics.ssim_per_image(targets, p)
    with timer.part("metrics"):
        bands = metrics.band_metrics(targets, p)
    return {**metrics.summarise({k: values[k] for k in metrics.METRICS}), **bands}, values


@dataclass
class _Inputs:
    """What every run is scored against, prepared once."""

    targets: metrics.Targets
    test_y: np.ndarray
    probe_x: np.ndarray
    probe_y: np.ndarray
    tsne_index: np.ndarray


def _analyse_run(run, inputs: _Inputs, project_codes: bool, timer: Timer) -> tuple[dict, dict, pd.DataFrame, dict]:
    """One run: its table row, its arrays (keyed without the run prefix), its per-class errors and its
    output statistics."""
    y = inputs.targets.y
    row = _empty_row(run.name, "model")
    row.update(run.exp.settings(), note="measured on the test images",
               readout="mean E[x|λ]" if run.reads_mean else "output")
    row.update(own_loss(run.history))
    with timer.part("forward passes"):
        codes_test, p = run.codes_and_reconstruction(y)
        codes_train = run.codes(inputs.probe_x)
    means, _ = _metric_row(inputs.targets, p, timer)
    row.update(means)
    with timer.part("errors"):
        arrays, per_class = error_summaries(y, p, inputs.test_y)
        stats = {"name": run.name, "seed": run.seed, **output_statistics(y, p)}
    del p
    if len(inputs.probe_x):
        with timer.part("probes"):
            row["probe_accuracy"] = linear_probe(codes_train, inputs.probe_y, codes_test, inputs.test_y)
    with timer.part("singular values"):
        arrays.update({f"singular_values_{i}": s for i, s in enumerate(singular_values(layer.kernel)
                                                                       for layer in run.layers)})
    if project_codes:
        with timer.part("projections"):
            arrays.update({f"latent_{k}": v for k, v in project(codes_test, inputs.tsne_index).items()})
    return row, arrays, per_class.assign(name=run.name, seed=run.seed), stats


def _baseline_rows(pca, inputs: _Inputs, n_train: int, timer: Timer) -> list[dict]:
    """PCA with the models' and the paper's code sizes, and the mean training image (a blob's score)."""
    y = inputs.targets.y
    rows = []
    for k in PCA_COMPONENTS:
        row = _empty_row(f"pca-{k}", "baseline")
        row.update(note=f"PCA, {k} components, fitted on the {n_train} training images (centred, [0, 1])")
        with timer.part("pca"):
            codes_test, p = pca_codes(pca, y, k), pca_reconstruct(pca, y, k)
            codes_train = pca_codes(pca, inputs.probe_x, k)
        row.update(_metric_row(inputs.targets, p, timer)[0])
        with timer.part("probes"):
            row["probe_accuracy"] = linear_probe(codes_train, inputs.probe_y, codes_test, inputs.test_y)
        rows.append(row)
    row = _empty_row("mean-image", "baseline")
    row.update(note="the mean training image for every test image: what a collapsed model (blob) achieves")
    mean_image = pca.mean_.astype(np.float32)  # PCA's centre is the mean training image
    row.update(_metric_row(inputs.targets, np.broadcast_to(mean_image, y.shape), timer)[0])
    return [*rows, row]


def _published_rows(dataset: str) -> list[dict]:
    """Hinton & Salakhutdinov's figures, for MNIST only."""
    rows = []
    for name, sse in PUBLISHED_SSE if dataset == "mnist" else ():
        row = _empty_row(name, "published")
        row.update(sse_per_image=sse, note=PUBLISHED_SOURCE)
        rows.append(row)
    return rows


def analyse(catalog, data: Dataset, timer: Timer | None = None, probe_train: int = PROBE_TRAIN,
            tsne_n: int = TSNE_N, test_x_unit: np.ndarray | None = None) -> Results:
    """Every run of `catalog` trained on `data`'s dataset (every seed) and the baselines, over all its test
    images (`analyse_datasets` does several datasets).

    Projections are made for each model's lowest seed (what the Latent tab shows), t-SNE of a fixed
    subsample of `tsne_n` test images (0: none). Without training images (`data.train_x` None or
    empty, as in the dashboard, which ships only the test images) there are no baselines and no probe.
    Pass a `Timer` to learn where the seconds go, and `test_x_unit` (`unit_images(data.test_x)`) if you
    hold it already, to save a copy (31 MB).
    """
    timer = timer or Timer()
    has_train = data.train_x is not None and len(data.train_x) > 0
    if has_train:
        with timer.part("pca"):
            # first, while little else is allocated: the float32 training images (188 MB) live only during the fit
            pca = fit_pca(unit_images(data.train_x), max(PCA_COMPONENTS))
    y = unit_images(data.test_x) if test_x_unit is None else test_x_unit
    with timer.part("metrics"):
        targets = metrics.Targets(y)
    probe_idx = subsample(len(data.train_y), probe_train) if has_train else np.zeros(0, int)
    train_x = data.train_x if has_train else np.zeros((0, 784), np.uint8)
    inputs = _Inputs(targets, np.asarray(data.test_y), unit_images(train_x[probe_idx]),
                     np.asarray(data.train_y)[probe_idx] if has_train else np.zeros(0, int),
                     subsample(len(y), tsne_n) if tsne_n else np.zeros(0, int))
    rows, per_class, outputs = [], [], []
    arrays = {f"{data.name}/test_labels": np.asarray(data.test_y, np.uint8),
              f"{data.name}/tsne_index": inputs.tsne_index}
    for name in catalog.names():
        for i, run in enumerate(r for r in catalog.by_name(name) if r.exp.dataset == data.name):
            row, run_arrays, classes, stats = _analyse_run(run, inputs, project_codes=i == 0, timer=timer)
            rows.append(row)
            per_class.append(classes)
            outputs.append(stats)
            arrays.update({f"{run_key(run.name, run.seed)}/{k}": v for k, v in run_arrays.items()})
    baselines = _baseline_rows(pca, inputs, len(train_x), timer) if has_train else []
    rows += [{**row, "dataset": data.name} for row in (*baselines, *_published_rows(data.name))]
    table = pd.DataFrame(rows, columns=list(COLUMNS)).astype(TABLE_DTYPES)
    classes = (pd.concat(per_class, ignore_index=True)[["name", "seed", "label", "mse", "mae"]] if per_class
               else pd.DataFrame(columns=["name", "seed", "label", "mse", "mae"]))
    stats = pd.DataFrame(outputs, columns=OUTPUT_COLUMNS).astype({"name": "str", "seed": "int64"})
    return Results(table, classes, stats, arrays)


def analyse_datasets(catalog, datasets: dict, **kwargs) -> Results:
    """`analyse` for each dataset of `datasets` (name -> Dataset) that a run of `catalog` trains on (MNIST's
    baselines and published rows always), merged into one `Results`."""
    used = {r.exp.dataset for r in catalog.runs} | {"mnist"}
    order = sorted(datasets, key=lambda name: (name != "mnist", name))  # MNIST's rows first
    parts = [analyse(catalog, datasets[name], **kwargs) for name in order if name in used]
    return Results(pd.concat([p.table for p in parts], ignore_index=True).astype(TABLE_DTYPES),
                   pd.concat([p.per_class for p in parts], ignore_index=True),
                   pd.concat([p.outputs for p in parts], ignore_index=True),
                   {k: v for p in parts for k, v in p.arrays.items()})

