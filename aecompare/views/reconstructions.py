"""Reconstructions: one row per chosen digit, the input first, then one column per model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import streamlit as st

from .common import Context, Grid, download_name, image_grid, need_test_set, scale_note, show_grid
from .images import join, to_display


@dataclass(frozen=True)
class Drawn:
    """What the tab draws for one choice: the grid, each digit's MSE per model, each model's output range."""

    grid: Grid
    errors: pd.DataFrame  # one row per digit (index: its caption), one column per model: MSE on [0, 1]
    errors_table: str  # `errors` as a markdown table (a table element's code is ~1 MB for a fresh browser)
    scales: list[str]  # one line per model: how its outputs are displayed and their actual range


def render_grid(inputs: np.ndarray, captions: list[str], outputs: dict[str, np.ndarray], zoom: int,
                stretch: bool) -> Grid:
    """`inputs` (n, 784) and each `outputs[model]` (n, 784) on [0, 1] as an image grid: one image per column (the
    digits stacked top to bottom, in the same order in every column), under it its mean MSE."""
    lead = ("input", join([to_display(x) for x in inputs], axis=0), "rows: " + ", ".join(captions))
    columns = [(name, join([to_display(y, stretch) for y in out], axis=0),
                f"mean MSE {((out - inputs) ** 2).mean():.4f}") for name, out in outputs.items()]
    return image_grid(lead, columns, zoom)


@st.cache_data(show_spinner=False, max_entries=64)
def drawn(choice: tuple, _ctx: Context) -> Drawn:
    """The tab's figures for one `Context.choice`, computed once per process and shared by every visitor."""
    inputs, s = _ctx.inputs, _ctx.state
    outputs = {r.name: r.reconstruct(inputs, raw_output=s.cb_lambda) for r in _ctx.runs}
    captions = _ctx.captions
    errors = pd.DataFrame({n: ((o - inputs) ** 2).mean(axis=1) for n, o in outputs.items()},
                          index=pd.Index(captions, name=_ctx.dataset.item))
    scales = [f"- **{r.name}**: {scale_note(r, outputs[r.name], s.cb_lambda)}" for r in _ctx.runs]
    return Drawn(render_grid(inputs, captions, outputs, s.zoom, s.stretch), errors,
                 errors.to_markdown(floatfmt=".4f"), scales)


def show(ctx: Context) -> None:
    st.subheader("Reconstructions")
    if need_test_set(ctx):
        return
    d = drawn(ctx.choice, ctx)
    display = ("each output stretched to its own min..max (black..white)" if ctx.state.stretch
               else "every image on the same 0-255 display (0-1 for normalised models), clipped")
    item = ctx.dataset.item
    per_item = f" (each {item}'s in the table below)" if ctx.runs else ""
    st.caption(f"Rows: {len(ctx.indices)} test {item}s (index · true label), the same for every model. Columns: the "
               f"input, then each model's output; {display}. Under each column: its MSE against the inputs on "
               f"the [0, 1] scale, averaged over its {item}s{per_item}. "
               f"Pixels enlarged {ctx.state.zoom}x, nearest neighbour.")
    if ctx.runs:
        with st.expander(f"Output scales (actual range of each model's outputs on these {item}s)", expanded=False):
            st.markdown("\n".join(d.scales))
    else:
        st.info("No model chosen: only the inputs are shown. Pick models in the sidebar.")
    show_grid(d.grid, download_name("reconstructions", d.errors.columns, ctx.indices))
    if ctx.runs:
        with st.expander(f"MSE of each {item} (rows as in the grid, [0, 1] scale)"):
            st.markdown(d.errors_table)
