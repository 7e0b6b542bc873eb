"""Latent: each model's bottleneck codes of the test images in 2-D (PCA, t-SNE), coloured by digit."""

from __future__ import annotations

import math

import pandas as pd
import streamlit as st

from ..analysis import TSNE_N
from ..images import CLASS_COLOURS, scatter
from .common import Context, need_test_set, no_models_note, show_figures

PANEL_PX = 260

CAPTION = (
    "Each dot is one test image's bottleneck code, projected to 2-D and coloured by its true digit. "
    "**PCA** (left): the two directions of largest variance of the codes of all 10,000 test images, drawn for "
    "{shown}. {tsne} Axes have no units. The probe accuracy is a logistic regression on the codes of "
    "training images, scored on all 10,000 test codes (chance ≈ 0.11)."
)
TSNE_TEXT = ("**t-SNE** (right): a fixed random subsample of {n} test images (scikit-learn, perplexity 30, "
             "random_state 0); it keeps neighbours together, but the sizes of and distances between its clusters "
             "mean little.")


def legend_html() -> str:
    """The digit colours as a one-line legend."""
    swatches = "".join(f"<span style='color:{c}'>●</span>&nbsp;{d}&emsp;" for d, c in enumerate(CLASS_COLOURS))
    return f"<div style='font-size:0.9em'>digit:&emsp;{swatches}</div>"


def panels(df: pd.DataFrame) -> list[tuple[str, object]]:
    """(title, image) for the PCA and t-SNE scatters of one model's projections (columns method, index,
    digit, x, y); PCA is drawn for the t-SNE subsample when there is one, so the two can be compared."""
    tsne = df[df["method"] == "t-SNE"]
    pca = df[df["method"] == "PCA"]
    if len(tsne):
        pca = pca[pca["index"].isin(tsne["index"])]
    return [(f"{method} ({len(part)} test images)", scatter(part[["x", "y"]].to_numpy(), part["digit"].to_numpy(),
                                                             PANEL_PX))
            for method, part in (("PCA", pca), ("t-SNE", tsne)) if len(part)]


@st.cache_data(show_spinner=False, max_entries=128)
def cached_panels(models_dir: str, name: str, seed: int, points: int, _df: pd.DataFrame) -> list[tuple[str, object]]:
    """`panels` of one run's `points` projected codes, drawn once per process (fixed once stored)."""
    return panels(_df)


def render_latent(projections: dict[str, tuple[int, pd.DataFrame]], probe_accuracy: dict[str, float],
                  models_dir: str) -> None:
    """One PCA | t-SNE pair of images per model (name -> (seed, projections)), with its probe accuracy."""
    with_tsne = any((df["method"] == "t-SNE").any() for _, df in projections.values())
    st.caption(CAPTION.format(shown=f"the {TSNE_N} images also used for t-SNE" if with_tsne else "all of them",
                              tsne=TSNE_TEXT.format(n=TSNE_N) if with_tsne else
                              "t-SNE is not shown: the stored results are not fresh (see the note above)."))
    st.html(legend_html())
    rows = []
    for name, (seed, df) in projections.items():
        if df.empty:
            st.warning(f"{name}: its codes are not finite (the model diverged), so there is nothing to project.")
            continue
        acc = probe_accuracy.get(name)
        shown_acc = "" if acc is None or math.isnan(acc) else f" — linear probe accuracy {acc:.3f}"
        rows.append([(name + shown_acc if i == 0 else "", image, title, PANEL_PX)
                     for i, (title, image) in enumerate(cached_panels(models_dir, name, seed, len(df), df))])
    if rows:
        show_figures(rows, title_lines=2)


def show(ctx: Context) -> None:
    st.subheader("Latent space")
    if need_test_set(ctx) or no_models_note(ctx.runs):
        return
    results = ctx.results()
    if results is None:
        return
    table = results.table
    models = table[table["kind"] == "model"]
    accuracy = {r.name: float(models.loc[(models["name"] == r.name) & (models["seed"] == r.seed),
                                         "probe_accuracy"].iloc[0])
                for r in ctx.runs if ((models["name"] == r.name) & (models["seed"] == r.seed)).any()}
    render_latent({r.name: (r.seed, results.latent(r.name, r.seed)) for r in ctx.runs}, accuracy, ctx.models_dir)
