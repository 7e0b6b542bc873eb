"""Weight collapse: per model and layer over epochs, first-layer filters, singular values, verdicts."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from ..evaluation.records import (
    VERDICT_RULE,
    every_few_epochs,
    first_layer_filters,
    layer_frame,
    singular_frame,
    spread_frame,
    verdict_rows,
)
from ..maths.diagnostics import LOW_INPUT_SPREAD, singular_values
from ..store.schema import PROBE_BATCH
from . import loaders
from .common import (
    Context,
    chart_data,
    chart_spec,
    figures_html,
    model_colour,
    no_models_note,
    section,
    show_table,
)
from .images import diverging_rgb, join
from .legend import GLOSSARY_LINK

METRICS = ("weight norm (Frobenius)", "near-zero weights (fraction)", "dead or saturated units (fraction)",
           "mean |w|")
N_FILTERS = 10


def layer_order(df: pd.DataFrame) -> list[str]:
    """The panels' order, input to output, for rows of nets of different depths (Q3's net is shallower): each layer
    at its deepest place in any net (`df`'s rows list each model's layers in order), the code before a decoder
    layer of the same place. Q1's and Q3's nets together: hidden_1, hidden_2, code, hidden_3, hidden_4, hidden_5,
    output (in order of first appearance, Q3's hidden_3 came last)."""
    place: dict[str, int] = {}
    for _, layers in df.groupby("model", sort=False)["layer"]:
        for i, layer in enumerate(dict.fromkeys(layers)):
            place[layer] = max(place.get(layer, 0), i)
    return sorted(place, key=lambda layer: (place[layer], layer != "code"))


def layer_chart(df: pd.DataFrame, metric: str, order: list[str]) -> alt.Chart:
    """One panel per layer, one line per model (shared scales across models), hover for values."""
    return (alt.Chart(chart_data(df)).mark_line()
            .encode(x=alt.X("epoch:Q", title="epoch (0 = before training)"), y=alt.Y(f"{metric}:Q"),
                    color=model_colour(order),
                    tooltip=["model:N", "layer:N", "units:Q", "epoch:Q", alt.Tooltip(f"{metric}:Q", format=".4g")])
            .properties(width=215, height=170)
            .facet(facet=alt.Facet("layer:N", sort=layer_order(df)), columns=3))


def spread_chart(df: pd.DataFrame, order: list[str]) -> alt.Chart:
    line = (alt.Chart(chart_data(df)).mark_line()
            .encode(x=alt.X("epoch:Q", title="epoch (0 = before training)"),
                    y=alt.Y("output spread:Q", title="output spread (1 = follows input, 0 = blob)"),
                    color=model_colour(order),
                    tooltip=["model:N", "epoch:Q", alt.Tooltip("output spread:Q", format=".4f")]))
    threshold = chart_data(pd.DataFrame({"y": [LOW_INPUT_SPREAD]}))
    rule = alt.Chart(threshold).mark_rule(strokeDash=[4, 4], color="grey").encode(y="y:Q")
    return (line + rule).properties(height=260)


def some_ranks(df: pd.DataFrame, n: int = 25) -> pd.DataFrame:
    """The rows a chart draws of each matrix's spectrum: ranks 1-10, `n` evenly spaced ranks and the last. The
    shape of a smooth decay with a few dozen exact points per matrix instead of up to 784."""
    keep = {*range(1, 11), *np.rint(np.linspace(1, df["index"].max(), n)).astype(int).tolist()}
    last = df.groupby(["model", "layer"])["index"].transform("max")
    return df[df["index"].isin(keep) | (df["index"] == last)]


def singular_chart(df: pd.DataFrame, order: list[str]) -> alt.Chart:
    return (alt.Chart(chart_data(some_ranks(df))).mark_line()
            .encode(x=alt.X("index:Q", title="rank (largest first)"),
                    y=alt.Y("relative to largest:Q", scale=alt.Scale(type="log"),
                            title="singular value / largest (log)"),
                    color=model_colour(order),
                    tooltip=["model:N", "layer:N", "index:Q", alt.Tooltip("singular value:Q", format=".4g"),
                             alt.Tooltip("relative to largest:Q", format=".3g")])
            .properties(width=215, height=170)
            .facet(facet=alt.Facet("layer:N", sort=layer_order(df)), columns=3))


def filters_strip(filters: np.ndarray) -> np.ndarray:
    """Filters (k, 28, 28) in [-1, 1] side by side, blue negative, red positive."""
    return join([diverging_rgb(f, 1.0) for f in filters], axis=1)


def singular_values_of(models_dir: str, runs) -> dict[str, list[np.ndarray]]:
    """Each run's singular values per layer: from the test-set results, or computed from its weights."""
    results = loaders.results(models_dir)
    return {r.name: results.singular_values(r.name, r.seed) if results is not None
            else [singular_values(layer.kernel) for layer in r.layers] for r in runs}


@st.cache_data(show_spinner=False, max_entries=64)
def verdict_table(models_dir: str, names: tuple[str, ...]) -> pd.DataFrame | None:
    """`records.verdict_rows` of the chosen models (None without their test-set output statistics), once per
    choice of models."""
    runs = loaders.catalog(models_dir).first_seeds(names)
    results = loaders.results(models_dir)
    outputs = {r.name: results.output_stats(r.name, r.seed) for r in runs} if results is not None else None
    if outputs is None or any(v is None for v in outputs.values()):
        return None
    return verdict_rows(runs, singular_values_of(models_dir, runs), outputs)


@st.cache_data(show_spinner=False, max_entries=64)
def filters_html(models_dir: str, names: tuple[str, ...]) -> str:
    """Each model's first `N_FILTERS` first-layer filters in a row, as HTML; once per choice of models."""
    runs = loaders.catalog(models_dir).first_seeds(names)
    return figures_html([[(r.name, strip, "", 2 * strip.shape[1])] for r in runs
                         for strip in [filters_strip(first_layer_filters(r, N_FILTERS))]], title_lines=1)


@st.cache_data(show_spinner=False, max_entries=64)
def chart_specs(models_dir: str, names: tuple[str, ...], metric: str) -> dict[str, dict]:
    """The per-layer and output-spread charts for one choice of models, built once per process and shared."""
    runs = loaders.catalog(models_dir).first_seeds(names)
    order = list(names)
    return {"layers": chart_spec(layer_chart(every_few_epochs(layer_frame(runs)), metric, order)),
            "spread": chart_spec(spread_chart(every_few_epochs(spread_frame(runs)), order))}


@st.cache_data(show_spinner=False, max_entries=64)
def singular_spec(models_dir: str, names: tuple[str, ...]) -> dict:
    """The singular-value chart for one choice of models, built once per process and shared."""
    runs = loaders.catalog(models_dir).first_seeds(names)
    return chart_spec(singular_chart(singular_frame(runs, singular_values_of(models_dir, runs)), list(names)))


SECTIONS = ("Verdicts", "Per layer, over epochs", "Filters and spectra")


def show(ctx: Context) -> None:
    st.subheader("Weight collapse")
    if no_models_note(ctx.runs):
        return
    part = section("collapse", SECTIONS)
    names = tuple(r.name for r in ctx.runs)
    if part == "Verdicts":
        show_verdicts(ctx.models_dir, names)
    elif part == "Per layer, over epochs":
        show_layers(ctx.models_dir, names)
    else:
        show_filters_and_spectra(ctx.models_dir, names)


def show_verdicts(models_dir: str, names: tuple[str, ...]) -> None:
    """A verdict per model, its rule and the statistics behind it."""
    verdicts = verdict_table(models_dir, names)
    if verdicts is None:
        st.info("The verdicts need the test-set figures (see the message above).")
        return
    st.markdown("**Verdict per model** (last epoch)")
    show_table(verdicts, hide_index=True, width="stretch",
               column_config={"model": st.column_config.TextColumn(pinned=True),
                              "verdict": st.column_config.TextColumn(width="medium"),  # "right shape, wrong scale"
                              **{k: st.column_config.NumberColumn(format="%.3g")
                                 for k in ("correlation with input", "relative spread", "brightness ratio")}})
    st.caption(VERDICT_RULE + " Effective rank: singular values above 1% of the largest, per weight matrix. "
               + GLOSSARY_LINK)


def show_layers(models_dir: str, names: tuple[str, ...]) -> None:
    """A weight statistic per layer and epoch (one panel per layer), and the output spread per epoch."""
    st.markdown("**Per layer, over epochs**")
    metric = st.selectbox("Quantity", METRICS, key="collapse_metric")
    specs = chart_specs(models_dir, names, metric)
    st.vega_lite_chart(specs["layers"])
    st.caption(f"{metric} of each layer's weight matrix (units: dead/saturated as a fraction of the layer's "
               f"units; near-zero: |w| < 1% of the layer's largest |w|), measured on the first {PROBE_BATCH:,} test "
               "images after every epoch (drawn: each of the first 10, then every 5th and the last). Epoch 0 is the "
               "initialisation.")
    st.vega_lite_chart(specs["spread"], width="stretch")
    st.caption(f"Output spread per epoch (recorded during training on the first {PROBE_BATCH:,} test images): std of "
               f"each output pixel across images / std of that input pixel, averaged over pixels. It depends on the "
               f"outputs' scale: a softmax's outputs, which sum to 1, read low while following the input. Dashed "
               f"line: {LOW_INPUT_SPREAD}, below which outputs vary far less than inputs. The verdicts use the "
               f"scale-free statistics instead.")


def show_filters_and_spectra(models_dir: str, names: tuple[str, ...]) -> None:
    """The first layer's first units as 28x28 filters, and each weight matrix's singular values."""
    st.markdown(f"**First layer's weights as 28×28 filters** (first {N_FILTERS} units)")
    st.html(filters_html(models_dir, names))
    st.caption("Each tile is one unit's 784 incoming weights, on its own symmetric scale: blue negative, white 0, "
               "red positive. A collapsed layer shows no stroke-like structure (or all near-white).")
    st.markdown("**Singular values of each weight matrix**")
    st.vega_lite_chart(singular_spec(models_dir, names))
    st.caption("Singular values relative to the largest, log scale: a fast drop means the layer uses few "
               "directions of its input. Drawn: ranks 1-10, 25 evenly spaced ranks and the last.")
