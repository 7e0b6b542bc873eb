"""Latent: each model's bottleneck codes of the test images in 2-D (PCA, t-SNE), coloured by digit."""

from __future__ import annotations

import math

import altair as alt
import pandas as pd
import streamlit as st

from ..latent import TSNE_N
from .common import chart_data, draw_chart
from .loaders import one_at_a_time

CAPTION = (
    "Each point is one test image's bottleneck code, projected to 2-D and coloured by its true digit; "
    "hover for the digit and the test-image index. **PCA** (left): the two directions of largest variance "
    "of the codes of all 10,000 test images (fitted on all, drawn for the {shown} images also used for "
    "t-SNE, to keep the page light). **t-SNE** (right): a fixed random subsample of {tsne} test images "
    "(scikit-learn, perplexity 30, random_state 0); it keeps neighbours together, but the sizes of and "
    "distances between its clusters mean little. Axes have no units. The probe accuracy is a logistic "
    "regression on the codes of training images, scored on all 10,000 test codes (chance ≈ 0.11)."
)


def points_to_draw(df: pd.DataFrame, max_points: int) -> pd.DataFrame:
    """The t-SNE points, and PCA points of the same test images (or its first `max_points`)."""
    tsne = df[df["method"] == "t-SNE"]
    pca = df[df["method"] == "PCA"]
    if len(tsne):
        pca = pca[pca["index"].isin(tsne["index"])]
    return pd.concat([pca.head(max_points), tsne.head(max_points)], ignore_index=True)


def latent_chart(df: pd.DataFrame, max_points: int = TSNE_N, size: int = 260) -> alt.HConcatChart:
    """Side-by-side PCA and t-SNE scatters of one model's projections (columns method, index, digit, x, y)."""
    shown = points_to_draw(df, max_points)
    panels = []
    for method in ("PCA", "t-SNE"):
        part = shown[shown["method"] == method]
        if part.empty:
            continue
        panels.append(
            alt.Chart(chart_data(part), title=f"{method} ({len(part)} test images)")
            .mark_circle(size=14, opacity=0.7)
            .encode(x=alt.X("x:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
                    y=alt.Y("y:Q", title=None, axis=alt.Axis(labels=False, ticks=False)),
                    color=alt.Color("digit:N", scale=alt.Scale(scheme="category10"), title="digit"),
                    tooltip=[alt.Tooltip("digit:N"), alt.Tooltip("index:Q", title="test image"),
                             alt.Tooltip("x:Q", format=".3g"), alt.Tooltip("y:Q", format=".3g")])
            .properties(width=size, height=size))
    return alt.hconcat(*panels)


def render_latent(projections: dict[str, pd.DataFrame], probe_accuracy: dict[str, float] | None = None,
                  max_points: int = TSNE_N) -> None:
    """One PCA | t-SNE pair per model (`aecompare.latent.latent_projections`), with its probe accuracy."""
    if not projections:
        st.info("No models chosen: pick some in the sidebar to see their codes.")
        return
    st.caption(CAPTION.format(shown=min(max_points, TSNE_N), tsne=TSNE_N))
    for name, df in projections.items():
        acc = (probe_accuracy or {}).get(name)
        shown_acc = "" if acc is None or math.isnan(acc) else f" — linear probe accuracy {acc:.3f}"
        st.markdown(f"**{name}**{shown_acc}")
        if df.empty:
            st.warning(f"{name}: its codes are not finite (the model diverged), so there is nothing to project.")
            continue
        draw_chart(st, latent_chart(df, max_points), width="content")


@st.cache_data(show_spinner="Projecting the test codes ...", max_entries=64)
@one_at_a_time
def projections_of(models_dir: str, name: str, tsne: bool) -> pd.DataFrame:
    """One model's projections, cached per (folder, model, t-SNE on/off) and shared by every visitor."""
    from ..latent import latent_projections
    from . import loaders

    mnist, _ = loaders.mnist_or_error()
    return latent_projections(loaders.catalog(models_dir), mnist, names=[name], tsne_n=TSNE_N if tsne else 0,
                              test_x_unit=loaders.test_x_unit())[name]


def show(ctx) -> None:
    """The Latent tab: PCA of every chosen model's codes; t-SNE on request (seconds per model)."""
    from .common import need_mnist
    from .losses import evaluation

    st.subheader("Latent space")
    if need_mnist(ctx):
        return
    tsne = st.toggle(f"Add t-SNE ({TSNE_N} test images; takes several seconds per model the first time)",
                     key="latent_tsne")
    table = evaluation(ctx.models_dir)
    firsts = table[table["kind"] == "model"].sort_values("seed").drop_duplicates("name") if table is not None else None
    accuracy = dict(zip(firsts["name"], firsts["probe_accuracy"])) if firsts is not None else None
    render_latent({r.name: projections_of(ctx.models_dir, r.name, tsne) for r in ctx.runs}, accuracy,
                  max_points=TSNE_N)
