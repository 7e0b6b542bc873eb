"""The bottleneck codes: 2-D projections to look at, and a linear probe to score.

Does a model that reconstructs well also keep the digits apart? The probe answers with one number:
a logistic regression trained on standardised codes of a fixed subsample of training images
(`PROBE_TRAIN`, 5,000 by default) and scored on the codes of all 10,000 test images (accuracy,
0-1; chance is about 0.11). The projections show it: the test codes projected to 2-D by PCA (all
10,000) and by t-SNE (a fixed subsample of `TSNE_N` images, fixed random_state; t-SNE costs
seconds per thousand points). Pure numpy and scikit-learn; no Keras, no Streamlit.
"""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from .data import Dataset, unit_images

# scikit-learn is imported inside the functions: it takes over a second to import, and the dashboard
# imports this module for its first page, which needs none of it.

PROBE_TRAIN = 5_000  # training images whose codes fit the probe (a fixed random subsample: keeps it ~0.1 s)
PROBE_MAX_ITER = 300
TSNE_N = 1000  # test images projected by t-SNE (seconds per model: compute it on demand)
RANDOM_STATE = 0


def subsample(n_total: int, n: int, seed: int = RANDOM_STATE) -> np.ndarray:
    """A fixed, sorted random subset of `n` indices out of `n_total` (all of them if n >= n_total)."""
    if n >= n_total:
        return np.arange(n_total)
    return np.sort(np.random.default_rng(seed).choice(n_total, size=n, replace=False))


def probe_train_indices(mnist: Dataset, n: int = PROBE_TRAIN) -> np.ndarray:
    """The training images whose codes fit every probe (the same for every model)."""
    return subsample(len(mnist.train_y), n)


def linear_probe(train_codes: np.ndarray, train_labels: np.ndarray,
                 test_codes: np.ndarray, test_labels: np.ndarray) -> float:
    """Test accuracy (0-1) of a logistic regression on standardised codes; NaN if codes are not finite.

    Codes of a diverged model can be inf/NaN: no probe can be fitted, and NaN says so.
    """
    from sklearn.exceptions import ConvergenceWarning
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    if not (np.isfinite(train_codes).all() and np.isfinite(test_codes).all()):
        return float("nan")
    scaler = StandardScaler().fit(train_codes)
    clf = LogisticRegression(max_iter=PROBE_MAX_ITER)
    # One BLAS thread: the problem is small, and extra threads only fight other jobs for the 2 cores.
    with warnings.catch_warnings(), threadpool_limits(limits=1):
        # A code that carries no information (collapsed model) may not converge; its accuracy is still honest.
        warnings.simplefilter("ignore", ConvergenceWarning)
        clf.fit(scaler.transform(train_codes), train_labels)
    return float(clf.score(scaler.transform(test_codes), test_labels))


def project(codes: np.ndarray, labels: np.ndarray, tsne_n: int = TSNE_N,
            random_state: int = RANDOM_STATE) -> pd.DataFrame:
    """2-D projections of codes (n, d): PCA of all rows and t-SNE of a fixed subsample.

    Returns long format: columns method ("PCA" or "t-SNE"), index (test image), digit, x, y.
    Non-finite codes give an empty frame (nothing honest to draw).
    """
    from sklearn.decomposition import PCA
    from sklearn.manifold import TSNE

    codes = np.asarray(codes, np.float64)
    labels = np.asarray(labels)
    columns = ["method", "index", "digit", "x", "y"]
    if not np.isfinite(codes).all():
        return pd.DataFrame(columns=columns)
    parts = []
    n_comp = min(2, codes.shape[1])
    pca_xy = PCA(n_components=n_comp, random_state=random_state).fit_transform(codes)
    if n_comp < 2:
        pca_xy = np.column_stack([pca_xy, np.zeros(len(codes))])
    parts.append(pd.DataFrame({"method": "PCA", "index": np.arange(len(codes)), "digit": labels,
                               "x": pca_xy[:, 0], "y": pca_xy[:, 1]}))
    if tsne_n:
        idx = subsample(len(codes), tsne_n, random_state)
        perplexity = min(30.0, max(2.0, (len(idx) - 1) / 3))
        tsne_xy = TSNE(n_components=2, perplexity=perplexity, init="pca", random_state=random_state,
                       n_jobs=1).fit_transform(codes[idx])
        parts.append(pd.DataFrame({"method": "t-SNE", "index": idx, "digit": labels[idx],
                                   "x": tsne_xy[:, 0], "y": tsne_xy[:, 1]}))
    out = pd.concat(parts, ignore_index=True)[columns]
    out["digit"] = out["digit"].astype(int)
    return out


def latent_projections(catalog, mnist: Dataset, names: list[str] | None = None, tsne_n: int = TSNE_N,
                       random_state: int = RANDOM_STATE,
                       test_x_unit: np.ndarray | None = None) -> dict[str, pd.DataFrame]:
    """{model name: projections of its test codes} for the lowest seed of each model (or `names`).

    `test_x_unit`: `unit_images(mnist.test_x)` if the caller holds it already (saves a 31 MB copy).
    """
    runs = catalog.first_seeds()
    if names is not None:
        runs = [r for r in runs if r.name in names]
    x = unit_images(mnist.test_x) if test_x_unit is None else test_x_unit
    return {r.name: project(r.codes(x), mnist.test_y, tsne_n, random_state) for r in runs}
