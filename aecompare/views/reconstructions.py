"""Reconstructions: one row per chosen digit, the input first, then one column per model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import streamlit as st

from ..images import join, to_display, upscale
from .common import Context, download_name, image_grid, need_test_set, scale_note


def render_grid(inputs: np.ndarray, captions: list[str], outputs: dict[str, np.ndarray],
                errors: dict[str, np.ndarray], zoom: int, stretch: bool, download: str | None = None) -> None:
    """`inputs` (n, 784) and each `outputs[model]` (n, 784) on [0, 1]; `errors[model]` per-image MSE.

    One image per column (the digits stacked top to bottom, in the same order in every column), then
    the per-digit MSE as a table.
    """
    names = list(outputs)
    lead = ("input", join([upscale(to_display(x), zoom) for x in inputs], axis=0, gap=6),
            "rows: " + ", ".join(captions))
    columns = [(name, join([upscale(to_display(y, stretch), zoom) for y in outputs[name]], axis=0, gap=6),
                f"mean MSE {errors[name].mean():.4f}") for name in names]
    image_grid(lead, columns, lead_width=28 * zoom, width=28 * zoom, download=download)
    if names:
        table = pd.DataFrame({n: errors[n] for n in names}, index=pd.Index(captions, name="digit"))
        with st.expander("MSE of each digit (rows as in the grid, [0, 1] scale)"):
            st.table(table.map("{:.4f}".format))  # a static table: much lighter on the page than st.dataframe


def show(ctx: Context) -> None:
    st.subheader("Reconstructions")
    if need_test_set(ctx):
        return
    inputs = ctx.inputs
    outputs = {r.name: r.reconstruct(inputs, raw_output=ctx.state.cb_lambda) for r in ctx.runs}
    errors = {n: ((o - inputs) ** 2).mean(axis=1) for n, o in outputs.items()}
    display = ("each output stretched to its own min..max (black..white)" if ctx.state.stretch
               else "every image on the same 0-255 display (0-1 for normalised models), clipped")
    per_digit = " (each digit's in the table below)" if ctx.runs else ""
    st.caption(f"Rows: {len(inputs)} test digits (index · true label), the same for every model. Columns: the "
               f"input, then each model's output; {display}. Under each column: its MSE against the inputs on "
               f"the [0, 1] scale, averaged over its digits{per_digit}. "
               f"Pixels enlarged {ctx.state.zoom}x, nearest neighbour.")
    if ctx.runs:
        with st.expander("Output scales (actual range of each model's outputs on these digits)",
                         expanded=False):
            for r in ctx.runs:
                st.markdown(f"- **{r.name}**: {scale_note(r, outputs[r.name], ctx.state.cb_lambda)}")
    else:
        st.info("No model chosen: only the inputs are shown. Pick models in the sidebar.")
    captions = [f"#{i} · {lab}" for i, lab in zip(ctx.indices, ctx.labels, strict=False)]
    render_grid(inputs, captions, outputs, errors, ctx.state.zoom, ctx.state.stretch,
                download_name("reconstructions", outputs, ctx.indices))
