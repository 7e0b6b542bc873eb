"""Error maps: input | reconstruction | signed error per digit; mean error heatmaps; error per class."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from ..compare import diverging_rgb, heatmap_frame, stack_tiles, to_display, upscale
from . import loaders
from .common import Context, chart_data, chart_spec, image_grid, need_mnist, no_models_note

MAX_TRIPLET_ROWS = 6


def triplet(x: np.ndarray, y: np.ndarray, limit: float, zoom: int, stretch: bool) -> np.ndarray:
    """One RGB strip: reconstruction (grey) | signed error y - x (blue < 0 < red), both 28x28 upscaled."""
    grey = to_display(y, stretch)
    recon = np.repeat(grey[..., None], 3, axis=2)
    err = diverging_rgb((np.asarray(y) - np.asarray(x)).reshape(28, 28), limit)
    gap = np.full((28, 2, 3), 255, np.uint8)
    return upscale(np.concatenate([recon, gap, err], axis=1), zoom)


def render_triplets(inputs, captions, outputs: dict[str, np.ndarray], zoom: int, stretch: bool) -> float:
    """Rows of input | (reconstruction | error) per model; returns the shared error limit used."""
    names = list(outputs)
    limit = max([float(np.abs(o - inputs).max()) for o in outputs.values()] + [1e-6])
    lead = ("input", stack_tiles([upscale(to_display(x), zoom) for x in inputs]), "rows: " + ", ".join(captions))
    columns = [(name, stack_tiles([triplet(x, y, limit, zoom, stretch) for x, y in zip(inputs, outputs[name])]),
                "reconstruction | error") for name in names]
    image_grid(lead, columns, lead_width=28 * zoom, width=58 * zoom)
    return limit


def heatmaps(maps: dict[str, np.ndarray], value: str, title: str) -> alt.Chart:
    """One 28x28 heatmap per model, one colour scale shared by all; hover shows the value."""
    df = heatmap_frame(maps, value)
    return (alt.Chart(chart_data(df), title=title).mark_rect()
            .encode(x=alt.X("col:O", axis=None), y=alt.Y("row:O", axis=None),
                    color=alt.Color(f"{value}:Q", scale=alt.Scale(scheme="inferno", domainMin=0)),
                    tooltip=["model:N", "row:O", "col:O", alt.Tooltip(f"{value}:Q", format=".4f")])
            .properties(width=130, height=130)
            .facet(facet=alt.Facet("model:N", sort=list(maps), title=None), columns=5))


def class_chart(per_class: pd.DataFrame) -> alt.Chart:
    """MSE per digit class, one bar per model (shared y scale)."""
    return (alt.Chart(chart_data(per_class), title="MSE per digit class (test set, [0, 1] scale)").mark_bar()
            .encode(x=alt.X("digit:O", title="true digit"), xOffset="model:N",
                    y=alt.Y("mse:Q", title="mean squared error per pixel"), color="model:N",
                    tooltip=["model:N", "digit:O", alt.Tooltip("mse:Q", format=".5f"),
                             alt.Tooltip("mae:Q", format=".5f")])
            .properties(height=300))


def show(ctx: Context) -> None:
    st.subheader("Error maps")
    if need_mnist(ctx) or no_models_note(ctx.runs):
        return
    inputs = ctx.inputs[:MAX_TRIPLET_ROWS]
    idx = ctx.indices[:MAX_TRIPLET_ROWS]
    outputs = {r.name: r.reconstruct(inputs) for r in ctx.runs}
    captions = [f"#{i} · {lab}" for i, lab in zip(idx, ctx.labels[:MAX_TRIPLET_ROWS], strict=False)]
    st.markdown("**Per digit: input | reconstruction | signed error**")
    limit = render_triplets(inputs, captions, outputs, ctx.state.zoom, ctx.state.stretch)
    more = f" (the first {MAX_TRIPLET_ROWS} of {len(ctx.indices)} chosen)" if len(ctx.indices) > len(idx) else ""
    st.caption(f"Digits{more}: input, then per model its reconstruction (grey, 0-1 display, clipped"
               f"{'; stretched to its own range' if ctx.state.stretch else ''}) and the signed error "
               f"output − input on the [0, 1] scale: blue below 0, white 0, red above; one scale for every "
               f"model, saturating at ±{limit:.3f} (the largest |error| shown).")

    specs = test_set_chart_specs(ctx.models_dir, tuple(r.name for r in ctx.runs))
    st.vega_lite_chart(specs["squared"])
    st.vega_lite_chart(specs["absolute"])
    st.caption("Each square is one model; one colour scale for all models (0 = black). Hover for the value.")
    st.vega_lite_chart(specs["per_class"], width="stretch")


@st.cache_data(show_spinner=False, max_entries=32)
def test_set_chart_specs(models_dir: str, names: tuple[str, ...]) -> dict[str, dict]:
    """The test-set charts' specs for one choice of models, built once and shared: with 12 models they
    hold 20,000 points, whose building costs more CPU than everything else on the tab."""
    summaries = {n: loaders.test_errors(models_dir, n) for n in names}
    summaries = {n: s for n, s in summaries.items() if s is not None}
    per_class = pd.concat([s["per_class"].assign(model=n) for n, s in summaries.items()], ignore_index=True)
    return {
        "squared": chart_spec(heatmaps({n: s["sq_map"].reshape(28, 28) for n, s in summaries.items()},
                                       "mean squared error",
                                       "Mean squared error per pixel over the 10,000 test images ([0, 1] scale)")),
        "absolute": chart_spec(heatmaps({n: s["abs_map"].reshape(28, 28) for n, s in summaries.items()},
                                        "mean absolute error",
                                        "Mean absolute error per pixel over the 10,000 test images ([0, 1] scale)")),
        "per_class": chart_spec(class_chart(per_class))}
