"""Error maps: input | reconstruction | signed error per image; mean error maps over the test set; error per class."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from ..data import DATASETS
from . import loaders
from .common import (
    Context,
    Grid,
    chart_data,
    chart_spec,
    download_name,
    figures_html,
    image_grid,
    model_colour,
    need_test_set,
    no_models_note,
    show_grid,
)
from .images import colour_bar, diverging_rgb, join, png_bytes, sequential_rgb, to_display

MAX_TRIPLET_ROWS = 6
MAP_ZOOM = 5


def triplet(x: np.ndarray, y: np.ndarray, limit: float, stretch: bool) -> np.ndarray:
    """One RGB strip: reconstruction (grey) | signed error y - x (blue < 0 < red), both 28x28."""
    grey = to_display(y, stretch)
    recon = np.repeat(grey[..., None], 3, axis=2)
    err = diverging_rgb((np.asarray(y) - np.asarray(x)).reshape(28, 28), limit)
    return join([recon, err], axis=1)


def render_triplets(inputs, captions, outputs: dict[str, np.ndarray], zoom: int, stretch: bool) -> tuple[Grid, float]:
    """Rows of input | (reconstruction | error) per model as an image grid, and the shared error limit used."""
    limit = max([float(np.abs(o - inputs).max()) for o in outputs.values()] + [1e-6])
    lead = ("input", join([to_display(x) for x in inputs], axis=0), "rows: " + ", ".join(captions))
    columns = [(name, join([triplet(x, y, limit, stretch) for x, y in zip(inputs, out)], axis=0),
                "reconstruction | error") for name, out in outputs.items()]
    return image_grid(lead, columns, zoom), limit


@st.cache_data(show_spinner=False, max_entries=64)
def triplets(choice: tuple, _ctx: Context) -> tuple[Grid, float]:
    """`render_triplets` of the first chosen digits for one `Context.choice`, once per process."""
    inputs = _ctx.inputs[:MAX_TRIPLET_ROWS]
    outputs = {r.name: r.reconstruct(inputs, raw_output=_ctx.state.cb_lambda) for r in _ctx.runs}
    captions = _ctx.captions[:MAX_TRIPLET_ROWS]
    return render_triplets(inputs, captions, outputs, _ctx.state.zoom, _ctx.state.stretch)


def render_maps(maps: dict[str, np.ndarray]) -> tuple[str, np.ndarray, float]:
    """One 28x28 map per model on one colour scale shared by all (0 black, the largest value of any model pale
    yellow): the maps as HTML, the scale as an image, and the value at its top."""
    top = max([float(np.max(m)) for m in maps.values()] + [1e-12])
    figures = [(name, sequential_rgb(m.reshape(28, 28), top), f"max {float(np.max(m)):.4f}", 28 * MAP_ZOOM)
               for name, m in maps.items()]
    return figures_html([figures]), colour_bar(top, width=280), top


@st.cache_data(show_spinner=False, max_entries=64)
def error_maps(models_dir: str, runs: tuple[tuple[str, int], ...], what: str) -> tuple[str, bytes, float]:
    """`render_maps` of the stored per-pixel error maps `what` of the runs (name, seed), the scale as a PNG,
    once per process."""
    results = loaders.results(models_dir)
    html, bar, top = render_maps({name: results.array(name, seed, what) for name, seed in runs})
    return html, png_bytes(bar), top


@st.cache_data(show_spinner=False, max_entries=64)
def class_spec(models_dir: str, runs: tuple[tuple[str, int], ...], dataset: str) -> dict:
    """`class_chart` of the runs (name, seed) of `dataset` from the stored per-class errors, once per choice of
    models."""
    per_class = loaders.results(models_dir).per_class
    chosen = set(runs)
    rows = per_class[[(n, s) in chosen for n, s in zip(per_class["name"], per_class["seed"])]]
    spec = DATASETS[dataset]
    rows = rows.assign(**{"class": [spec.classes[d] for d in rows["label"]]})
    return chart_spec(class_chart(rows, [name for name, _ in runs], spec.classes, spec.class_word))


def class_chart(per_class: pd.DataFrame, order: list[str], classes: tuple[str, ...], class_word: str) -> alt.Chart:
    """MSE per class (column `class`, one of `classes`, named a `class_word`), one bar per model (shared y scale),
    hover for MSE and MAE."""
    return (alt.Chart(chart_data(per_class), title=f"MSE per {class_word} (test set, [0, 1] scale)").mark_bar()
            .encode(x=alt.X("class:N", sort=list(classes), title=f"true {class_word}", axis=alt.Axis(labelAngle=0)),
                    xOffset=alt.XOffset("name:N", sort=order),
                    y=alt.Y("mse:Q", title="mean squared error per pixel"),
                    color=model_colour(order, field="name", title="model"),
                    tooltip=[alt.Tooltip("name:N", title="model"), alt.Tooltip("class:N", title=class_word),
                             alt.Tooltip("mse:Q", format=".5f"), alt.Tooltip("mae:Q", format=".5f")])
            .properties(height=300))


def show(ctx: Context) -> None:
    st.subheader("Error maps")
    if need_test_set(ctx) or no_models_note(ctx.runs):
        return
    idx = ctx.indices[:MAX_TRIPLET_ROWS]
    grid, limit = triplets(ctx.choice, ctx)
    st.markdown(f"**Per {ctx.dataset.item}: input | reconstruction | signed error**")
    show_grid(grid, download_name("errors", [r.name for r in ctx.runs], idx))
    more = f" (the first {MAX_TRIPLET_ROWS} of {len(ctx.indices)} chosen)" if len(ctx.indices) > len(idx) else ""
    st.caption(f"{ctx.dataset.item.capitalize()}s{more}: input, then per model its reconstruction (grey, 0-1 "
               f"display, clipped"
               f"{'; stretched to its own range' if ctx.state.stretch else ''}) and the signed error "
               f"output − input on the [0, 1] scale: blue below 0, white 0, red above; one scale for every "
               f"model, saturating at ±{limit:.3f} (the largest |error| shown).")

    if ctx.results() is None:
        return
    runs = tuple((r.name, r.seed) for r in ctx.runs)
    for what, title in (("squared_map", "Mean squared error per pixel over the test images ([0, 1] scale)"),
                        ("absolute_map", "Mean absolute error per pixel over the test images ([0, 1] scale)")):
        maps, bar, top = error_maps(ctx.models_dir, runs, what)
        st.markdown(f"**{title}**")
        st.html(maps)
        st.image(bar, caption=f"scale: 0 (black) to {top:.4f} (pale yellow), every model alike")
    st.vega_lite_chart(class_spec(ctx.models_dir, runs, ctx.state.dataset), width="stretch")
    scale = (", every model on one linear scale. A model whose errors are ten times another's flattens the other's "
             "bars: hover a bar for its values (MAE too), or leave that model out (the sidebar's Models)."
             if len(runs) > 1 else ". Hover a bar for its values (MAE too).")
    st.caption(f"Each bar is one model's mean squared error over the test images of that {ctx.dataset.class_word}"
               + scale)
