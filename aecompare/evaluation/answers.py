"""What the trained models answer, as statements built from the stored results, each checked on the data.

`findings(results, mean_lit_pixels)` returns one `Finding` per answer. Every figure in a statement is
taken from the results (never typed into the text), and every claim is a condition evaluated on them:
when retrained models no longer support it, the finding says so instead of repeating stale prose. Each
finding names the dashboard view that shows its evidence (tab, models, digits as URL parameters) and the
models whose reconstructions illustrate it. Pure pandas; no Streamlit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import pandas as pd

from ..maths.diagnostics import verdict
from ..registry import model_names
from .analysis import Results

PUBLISHED_PCA30 = 13.87  # Hinton & Salakhutdinov 2006, Fig. 2B: 30-d PCA, squared error per test image
PUBLISHED_TOLERANCE = 0.05


@dataclass(frozen=True)
class Finding:
    key: str
    title: str
    holds: bool  # False: the models no longer support the claim, and `statement` says so
    statement: str  # markdown, every number from `figures`
    figures: dict[str, float]
    evidence: dict[str, str]  # the dashboard's URL parameters of the view that shows it
    models: tuple[str, ...] = field(default=())  # whose reconstructions illustrate it


class _Table:
    """Model rows by name, each number the mean over the model's seeds; the seed summary; the output statistics
    of each model's lowest seed; looked up by name."""

    def __init__(self, results: Results):
        table = results.table
        runs = table[table["kind"] == "model"]
        numeric = [c for c in runs.select_dtypes("number").columns if c != "seed"]
        models = runs.sort_values("seed").drop_duplicates("name").set_index("name")
        self.models = models.astype({c: "float64" for c in numeric})
        self.models[numeric] = runs.groupby("name")[numeric].mean().astype("float64")
        self.baselines = table[(table["kind"] != "model") & (table["dataset"] == "mnist")].set_index("name")
        self.summary = results.seed_summary.set_index("name")
        self.outputs = results.outputs.sort_values("seed").drop_duplicates("name").set_index("name")

    def has(self, *names: str) -> bool:
        return all(n in self.models.index for n in names)

    def value(self, name: str, column: str) -> float:
        frame = self.models if name in self.models.index else self.baselines
        return float(frame.loc[name, column])

    def verdict(self, name: str) -> str:
        return verdict(None, self.outputs.loc[name].to_dict(), [])[0]


def _softmax(t: _Table, mean_lit: float) -> Finding | None:
    if not t.has("norm-softmax-bce"):
        return None
    f = {"mse": t.value("norm-softmax-bce", "mse"), "blob_mse": t.value("mean-image", "mse"),
         "output_max": float(t.outputs.loc["norm-softmax-bce", "output_max"]),
         "output_sum": float(t.outputs.loc["norm-softmax-bce", "output_sum"]),
         "lit_pixels": mean_lit, "ceiling": 1 / mean_lit if mean_lit else math.nan}
    holds = f["mse"] > f["blob_mse"] and f["output_max"] < 0.5
    text = (f"A softmax makes the 784 outputs sum to 1 (measured: {f['output_sum']:.3f} per image), so a digit's "
            f"~{f['lit_pixels']:.0f} bright pixels can get about 1/{f['lit_pixels']:.0f} ≈ {f['ceiling']:.4f} each. "
            f"norm-softmax-bce's brightest output over the 10,000 test images is {f['output_max']:.3f}, and its MSE "
            f"{f['mse']:.4f} is ")
    text += ("worse than predicting the mean image for every digit "
             f"({f['blob_mse']:.4f}): it learns the digits' shape, never their brightness." if holds else
             f"not worse than the mean image's {f['blob_mse']:.4f}: the claim that softmax outputs cannot "
             "reconstruct pixels is **not supported** by these models.")
    return Finding("softmax", "Softmax outputs cannot reconstruct pixels", holds, text, f,
                   {"tab": "Reconstructions", "models": "norm-softmax-bce,norm-sigmoid-bce", "stretch": "1"},
                   ("norm-softmax-bce", "norm-sigmoid-bce"))


def _raw(t: _Table) -> Finding | None:
    raw = [n for n in model_names() if n in t.models.index and t.models.loc[n, "scale"] == "raw"]
    if not raw or not t.has("raw-sigmoid-bce"):
        return None
    blob = t.value("mean-image", "mse")
    f = {"blob_mse": blob, "best_raw_mse": min(t.value(n, "mse") for n in raw),
         "raw_bce_own_loss": t.value("raw-sigmoid-bce", "own_loss_last")}
    holds = f["best_raw_mse"] >= 0.95 * blob and f["raw_bce_own_loss"] < 0
    best = min(raw, key=lambda n: t.value(n, "mse"))
    text = (f"On 0–255 targets BCE has no lower bound: raw-sigmoid-bce's own loss ends at "
            f"{f['raw_bce_own_loss']:.1f} (a loss of probabilities would be ≥ 0). ")
    text += (f"Every raw model ends at the mean image's level or worse: the best, {best}, has MSE "
             f"{f['best_raw_mse']:.4f} against the mean image's {blob:.4f}. Divide the pixels by 255." if holds else
             f"The best raw model, {best}, reaches MSE {f['best_raw_mse']:.4f}, below the mean image's {blob:.4f}: "
             "the claim that raw targets break every model is **not supported** by these models.")
    return Finding("raw", "Raw 0–255 targets break BCE (and every sigmoid or softmax model)", holds, text, f,
                   {"tab": "Losses", "models": ",".join(raw)}, (best,))


def _bce_vs_mse(t: _Table) -> Finding | None:
    a, b = "norm-sigmoid-bce", "norm-sigmoid-mse"
    if not t.has(a, b):
        return None
    s = t.summary
    f = {"bce_mse": float(s.loc[a, "mse"]), "mse_mse": float(s.loc[b, "mse"]),
         "bce_std": float(s.loc[a, "mse_std"]), "mse_std": float(s.loc[b, "mse_std"]),
         "bce_seeds": int(s.loc[a, "n_seeds"]), "mse_seeds": int(s.loc[b, "n_seeds"])}
    spread = math.hypot(f["bce_std"], f["mse_std"]) if not math.isnan(f["bce_std"] + f["mse_std"]) else math.nan
    gap = f["bce_mse"] - f["mse_mse"]
    f["gap"], f["spread"] = gap, spread
    tie = not math.isnan(spread) and abs(gap) <= 2 * spread
    figures = (f"sigmoid+BCE {f['bce_mse']:.5f} ± {f['bce_std']:.5f} ({f['bce_seeds']} seeds) against sigmoid+MSE "
               f"{f['mse_mse']:.5f} ± {f['mse_std']:.5f} ({f['mse_seeds']} seeds), MSE on [0, 1]")
    if math.isnan(spread):
        title, text = "Sigmoid+BCE vs sigmoid+MSE: one seed each, no spread to judge by", figures + "."
    elif tie:
        title = "Sigmoid+BCE vs sigmoid+MSE on normalised pixels: a tie"
        text = f"{figures}: the gap ({gap:+.5f}) is within twice the seeds' combined spread ({spread:.5f})."
    else:
        winner = "BCE" if gap < 0 else "MSE"
        title = f"Sigmoid+{winner} beats the other on normalised pixels"
        text = f"{figures}: the gap ({gap:+.5f}) exceeds twice the seeds' combined spread ({spread:.5f})."
    return Finding("bce-vs-mse", title, True, text, f, {"tab": "Losses", "models": f"{a},{b}"}, (a, b))


def _q3(t: _Table) -> Finding | None:
    sgd, adam = ("q3-sigmoid-bce", "q3-sigmoid-mse"), ("q3-sigmoid-bce-adam", "q3-sigmoid-mse-adam")
    if not t.has(*sgd, *adam):
        return None
    blob = t.value("mean-image", "sse_per_image")
    f = {"blob_sse": blob, **{f"{n}_sse": t.value(n, "sse_per_image") for n in (*sgd, *adam)}}
    sgd_blobs = all(t.verdict(n) == "blob" and abs(t.value(n, "sse_per_image") / blob - 1) < 0.02 for n in sgd)
    adam_learn = all(t.value(n, "sse_per_image") < 0.5 * blob and t.verdict(n) == "healthy" for n in adam)
    holds = sgd_blobs and adam_learn
    text = (f"Q3's net (784-100-50-100-784, sigmoid everywhere) under plain SGD (lr 0.1): SSE per image "
            f"{f['q3-sigmoid-bce_sse']:.1f} with BCE and {f['q3-sigmoid-mse_sse']:.1f} with MSE, against "
            f"{blob:.1f} for the mean image. The same net with Adam: {f['q3-sigmoid-bce-adam_sse']:.2f} and "
            f"{f['q3-sigmoid-mse-adam_sse']:.2f}. ")
    text += ("Under SGD both losses end as the blob; with Adam both learn: the optimizer decides, not the loss."
             if holds else "The blob-under-SGD, learns-under-Adam pattern is **not what these models show**.")
    return Finding("q3", "Q3's blob is the optimizer's doing, not the loss's", holds, text, f,
                   {"tab": "Q3 · CE vs MSE", "q3": "The Q3 models", "models": ",".join((*sgd, *adam))},
                   (sgd[0], adam[0]))


def _pca(t: _Table) -> Finding | None:
    if "pca-30" not in t.baselines.index:
        return None
    f = {"pca30_sse": t.value("pca-30", "sse_per_image"), "published": PUBLISHED_PCA30}
    holds = abs(f["pca30_sse"] - PUBLISHED_PCA30) <= PUBLISHED_TOLERANCE
    text = (f"PCA with 30 components, fitted here on the 60,000 training images, scores {f['pca30_sse']:.2f} "
            f"squared error per test image; Hinton & Salakhutdinov (2006, Fig. 2B) report {PUBLISHED_PCA30}. ")
    text += ("The yardstick is the paper's." if holds else
             "That is **not** the published figure: the yardstick differs from the paper's.")
    return Finding("pca", "PCA-30 lands on the published 13.87", holds, text, f, {"tab": "Losses", "models": "none"})


def _codes(t: _Table) -> Finding | None:
    a, b = "norm-softmax-bce", "norm-sigmoid-bce"
    if not t.has(a, b):
        return None
    f = {"softmax_probe": t.value(a, "probe_accuracy"), "sigmoid_probe": t.value(b, "probe_accuracy"),
         "softmax_mse": t.value(a, "mse"), "sigmoid_mse": t.value(b, "mse")}
    holds = f["softmax_probe"] >= f["sigmoid_probe"] - 0.02 and f["softmax_mse"] >= 5 * f["sigmoid_mse"]
    text = (f"A linear probe on the 28-d codes reads the digit with accuracy {f['softmax_probe']:.3f} for "
            f"norm-softmax-bce and {f['sigmoid_probe']:.3f} for norm-sigmoid-bce, whose MSE is "
            f"{f['sigmoid_mse']:.4f} against the softmax model's {f['softmax_mse']:.4f}. ")
    text += ("Good-looking reconstructions and a useful code are different things." if holds else
             "Here the code is **not** as useful when the reconstructions fail.")
    return Finding("codes", "The worst reconstructions can come with a good code", holds, text, f,
                   {"tab": "Latent", "models": f"{a},{b}"}, (a, b))


def _cb(t: _Table) -> Finding | None:
    bce, cb = "norm-sigmoid-bce", "norm-sigmoid-cb"
    if not t.has(bce, cb):
        return None
    f = {f"{who}_{column}": t.value(name, column) for who, name in (("bce", bce), ("cb", cb))
         for column in ("mse", "mse_grey", "mse_rest")}
    f["grey_fraction"] = t.value(bce, "grey_fraction")
    f["cb_output_min"] = float(t.outputs.loc[cb, "output_min"])
    grey = "better" if f["cb_mse_grey"] < f["bce_mse_grey"] else "worse"
    overall = "beats" if f["cb_mse"] < f["bce_mse"] else "does not beat"
    text = (f"Read through its mean E[x | λ], norm-sigmoid-cb {overall} norm-sigmoid-bce on the yardstick: MSE "
            f"{f['cb_mse']:.4f} against {f['bce_mse']:.4f}. On the mid-grey target pixels (0.1 < y < 0.9, "
            f"{f['grey_fraction']:.1%} of MNIST's test pixels) it does {grey}: {f['cb_mse_grey']:.4f} against "
            f"{f['bce_mse_grey']:.4f}; on the rest, {f['cb_mse_rest']:.4f} against {f['bce_mse_rest']:.4f}. ")
    if f["cb_mse_rest"] > f["bce_mse_rest"]:
        text += (f"The near-black background costs it: with λ clipped at 1e-7 its mean cannot go below "
                 f"{f['cb_output_min']:.3f}, so no pixel is black.")
    return Finding("cb", f"The continuous Bernoulli {overall} BCE on MNIST", True, text, f,
                   {"tab": "Q1 · BCE in an autoencoder", "q1": "Continuous Bernoulli", "models": f"{bce},{cb}"},
                   (bce, cb))


def _ranking(t: _Table, dataset_prefix: str) -> list[tuple[str, float, float]]:
    """(loss, mean MSE, std over seeds) of sigmoid+BCE, +MSE and +CB on one dataset, best first."""
    out = []
    for loss in ("bce", "mse", "cb"):
        name = f"{dataset_prefix}norm-sigmoid-{loss}"
        if name in t.summary.index:
            out.append((loss, float(t.summary.loc[name, "mse"]), float(t.summary.loc[name, "mse_std"])))
    return sorted(out, key=lambda r: r[1])


def _fashion(t: _Table) -> Finding | None:
    fashion, mnist = _ranking(t, "fashion-"), _ranking(t, "")
    if len(fashion) < 2:
        return None

    def said(ranking):
        return " < ".join(f"{loss.upper()} {m:.5f}" + ("" if math.isnan(s) else f" ± {s:.5f}")
                          for loss, m, s in ranking)

    def clear(ranking) -> bool:  # every neighbour apart by more than twice the seeds' combined spread
        return all(not math.isnan(a[2] + b[2]) and b[1] - a[1] > 2 * math.hypot(a[2], b[2])
                   for a, b in zip(ranking, ranking[1:]))

    order_f, order_m = [r[0] for r in fashion], [r[0] for r in mnist]
    same = [x for x in order_f if x in order_m] == [x for x in order_m if x in order_f]
    f = {f"fashion_{loss}_mse": m for loss, m, _ in fashion} | {f"mnist_{loss}_mse": m for loss, m, _ in mnist}
    grey = {loss: t.value(f"fashion-norm-sigmoid-{loss}", "mse_grey") for loss, _, _ in fashion}
    f |= {f"fashion_{loss}_mse_grey": v for loss, v in grey.items()}
    text = (f"MSE on [0, 1] over the test images, sigmoid output, three seeds where trained. Fashion-MNIST: "
            f"{said(fashion)} ({'apart beyond' if clear(fashion) else 'within'} the seeds' spread). "
            f"MNIST: {said(mnist)}. The ranking {'is the same' if same else 'differs'}. On Fashion-MNIST's mid-grey "
            f"pixels: " + ", ".join(f"{loss.upper()} {v:.5f}" for loss, v in sorted(grey.items(), key=lambda kv: kv[1]))
            + ".")
    title = ("Fashion-MNIST ranks the losses as MNIST does" if same else "Fashion-MNIST ranks the losses differently")
    return Finding("fashion", title, True, text, f,
                   {"tab": "Losses", "dataset": "fashion-mnist",
                    "models": ",".join(n for n in model_names()
                                       if n in {f"fashion-norm-sigmoid-{loss}" for loss, _, _ in fashion})},
                   tuple(f"fashion-norm-sigmoid-{loss}" for loss, _, _ in fashion))


def findings(results: Results, mean_lit_pixels: float) -> list[Finding]:
    """Every finding the models in `results` allow (one whose models are missing is left out).

    `mean_lit_pixels`: the mean number of pixels above 0.5 in a test image (the softmax ceiling's k).
    """
    t = _Table(results)
    made = [_softmax(t, mean_lit_pixels), _raw(t), _bce_vs_mse(t), _q3(t), _pca(t), _codes(t), _cb(t), _fashion(t)]
    return [f for f in made if f is not None]


def figures_frame(found: list[Finding]) -> pd.DataFrame:
    """Every figure of every finding, long form (finding, figure, value): the page's CSV download."""
    return pd.DataFrame([(f.key, k, v) for f in found for k, v in f.figures.items()],
                        columns=["finding", "figure", "value"])
