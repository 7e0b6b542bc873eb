"""Latent: each model's bottleneck codes of the test images in 2-D (PCA, t-SNE), coloured by true class."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from ..evaluation.analysis import TSNE_N
from . import loaders
from .common import Context, figures_html, need_test_set, no_models_note
from .images import CLASS_COLOURS, scatter

PANEL_PX = 260

CAPTION = (
    "Each dot is one test image's bottleneck code, projected to 2-D and coloured by its true {class_word}. "
    "**PCA** (left): the two directions of largest variance of the codes of all 10,000 test images, drawn for "
    "{shown}. {tsne} Axes have no units. The probe accuracy is a logistic regression on the codes of "
    "training images, scored on all 10,000 test codes (chance {chance:.2f}: always answering the commonest "
    "{class_word})."
)
TSNE_TEXT = ("**t-SNE** (right): a fixed random subsample of {n} test images (scikit-learn, perplexity 30, "
             "random_state 0); it keeps neighbours together, but the sizes of and distances between its clusters "
             "mean little.")


def legend_html(classes: tuple[str, ...], class_word: str) -> str:
    """The class colours (label 0-9, named `classes`) as a one-line legend."""
    swatches = "".join(f"<span style='color:{c}'>●</span>&nbsp;{html.escape(name)}&emsp;"
                       for name, c in zip(classes, CLASS_COLOURS, strict=True))
    return f"<div style='font-size:0.9em'>{class_word}:&emsp;{swatches}</div>"


def panels(df: pd.DataFrame) -> list[tuple[str, object]]:
    """(title, image) for the PCA and t-SNE scatters of one model's projections (columns method, index,
    label, x, y); PCA is drawn for the t-SNE subsample when there is one, so the two can be compared."""
    tsne = df[df["method"] == "t-SNE"]
    pca = df[df["method"] == "PCA"]
    if len(tsne):
        pca = pca[pca["index"].isin(tsne["index"])]
    return [(f"{method} ({len(part)} test images)", scatter(part[["x", "y"]].to_numpy(), part["label"].to_numpy(),
                                                             PANEL_PX))
            for method, part in (("PCA", pca), ("t-SNE", tsne)) if len(part)]


@dataclass(frozen=True)
class Drawn:
    """What the tab draws for a choice of runs: their panels as HTML, whether t-SNE is among them, and the runs
    whose codes are not finite (nothing to project)."""

    html: str
    with_tsne: bool
    diverged: list[str]


def render_latent(projections: dict[str, pd.DataFrame], probe_accuracy: dict[str, float]) -> Drawn:
    """One row per model (name -> its projections): PCA | t-SNE images, titled with its probe accuracy."""
    rows, diverged = [], []
    for name, df in projections.items():
        if df.empty:
            diverged.append(name)
            continue
        acc = probe_accuracy.get(name)
        shown_acc = "" if acc is None or math.isnan(acc) else f" — linear probe accuracy {acc:.3f}"
        rows.append([(name + shown_acc if i == 0 else "", image, title, PANEL_PX)
                     for i, (title, image) in enumerate(panels(df))])
    with_tsne = any((df["method"] == "t-SNE").any() for df in projections.values())
    return Drawn(figures_html(rows, title_lines=2), with_tsne, diverged)


@st.cache_data(show_spinner=False, max_entries=64)
def drawn(models_dir: str, runs: tuple[tuple[str, int], ...]) -> Drawn:
    """`render_latent` of the runs (name, seed) from the stored projections, once per process."""
    results = loaders.results(models_dir)
    table = results.table
    models = table[table["kind"] == "model"].set_index(["name", "seed"])
    accuracy = {name: float(models.loc[(name, seed), "probe_accuracy"]) for name, seed in runs
                if (name, seed) in models.index}
    return render_latent({name: results.latent(name, seed) for name, seed in runs}, accuracy)


def show(ctx: Context) -> None:
    st.subheader("Latent space")
    if need_test_set(ctx) or no_models_note(ctx.runs) or ctx.results() is None:
        return
    d = drawn(ctx.models_dir, tuple((r.name, r.seed) for r in ctx.runs))
    spec = ctx.dataset
    chance = np.bincount(ctx.test.y, minlength=len(spec.classes)).max() / len(ctx.test.y)
    st.caption(CAPTION.format(shown=f"the {TSNE_N} images also used for t-SNE" if d.with_tsne else "all of them",
                              class_word=spec.class_word, chance=chance,
                              tsne=TSNE_TEXT.format(n=TSNE_N) if d.with_tsne else
                              "t-SNE is not shown: the stored results are not fresh (see the note above)."))
    st.html(legend_html(spec.classes, spec.class_word))
    for name in d.diverged:
        st.warning(f"{name}: its codes are not finite (the model diverged), so there is nothing to project.")
    st.html(d.html)
