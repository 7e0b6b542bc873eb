"""Losses: every model on one yardstick (table + CSV), training curves overlaid, probe digits per epoch."""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from ..evaluation.analysis import seed_summary
from ..evaluation.columns import TABLE_COLUMNS
from ..evaluation.records import curves_frame, every_few_epochs, probe_epochs, probe_outputs
from ..store.artifacts import PROBES_SEED
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
from .images import strip
from .legend import GLOSSARY_LINK


def table_for(table: pd.DataFrame, chosen: list[str], dataset: str) -> pd.DataFrame:
    """Rows of the chosen models plus the baselines and published rows of `dataset` (the yardsticks stay visible,
    never another dataset's under the same names); the columns of the command line's table first (the metrics),
    then the rest of the settings."""
    models = table["kind"] == "model"
    keep = (models & table["name"].isin(chosen)) | (~models & (table["dataset"] == dataset))
    first = [c for c in TABLE_COLUMNS if c in table]
    return table.loc[keep, first + [c for c in table if c not in first]].reset_index(drop=True)


def seed_band(df: pd.DataFrame) -> pd.DataFrame:
    """Curves (model, seed, curve, epoch, value) -> per model/curve/epoch the mean, min, max over seeds."""
    g = df.groupby(["model", "curve", "epoch"], sort=False)["value"]
    return g.agg(value="mean", low="min", high="max", seeds="count").reset_index()


def epoch_values(band: pd.DataFrame, order: list[str]) -> tuple[pd.DataFrame, list[str]]:
    """Per epoch, one text per model: its curves' values there, mean over seeds ("test 0.0123 · train 0.0119"), in
    columns m0, m1, ... (Vega-Lite field names: model names hold dots and dashes); and the models, in `order`."""
    present = set(band["model"])
    models = [m for m in order if m in present]
    split = band["curve"].str.extract(r"\((\w+)\)$")[0].fillna(band["curve"])  # "own loss (test)" -> "test"
    text = (band.assign(split=split, text=split + " " + band["value"].map("{:.4g}".format))
            .sort_values(["split"]).groupby(["epoch", "model"], sort=False)["text"].agg(" · ".join)
            .unstack("model").reindex(columns=models).fillna("").sort_index())
    text.columns = [f"m{i}" for i in range(len(models))]
    return text.reset_index(), models


def curve_chart(df: pd.DataFrame, log: bool, title: str, order: list[str]) -> alt.LayerChart:
    """Lines per model (and train/test) on one shared scale: the mean over seeds, with a min-max band
    where several seeds exist; symlog when log is asked and values reach <= 0. Hovering marks the nearest epoch,
    with every model's values there in one tooltip (`epoch_values`), and draws the points of that epoch (all of
    them at once slow the page), each with its own seeds' spread."""
    if log:
        scale = alt.Scale(type="log") if (df["value"] > 0).all() else alt.Scale(type="symlog")
    else:
        scale = alt.Scale(type="linear")
    band = seed_band(df)
    # The rows go on the layer, once: on `base` every derived layer and every Altair copy of it would deep-copy
    # thousands of records (half a second for the two curve charts).
    base = alt.Chart().encode(x=alt.X("epoch:Q", title="epoch (0 = before training)"),
                              color=model_colour(order, legend=alt.Legend(symbolOpacity=1, orient="bottom", columns=4)))
    line = base.mark_line().encode(y=alt.Y("value:Q", scale=scale, title=title),
                                   strokeDash=alt.StrokeDash("curve:N", title="curve"))
    spread = base.transform_filter("datum.seeds > 1").mark_area(opacity=0.25).encode(
        y=alt.Y("low:Q", scale=scale), y2="high:Q", detail="curve:N")
    hover = alt.selection_point(nearest=True, on="pointerover", fields=["epoch"], empty=False, clear="pointerout")
    values, models = epoch_values(band, order)
    epochs = chart_data(values)
    tooltip = [alt.Tooltip("epoch:Q")] + [alt.Tooltip(f"m{i}:N", title=m) for i, m in enumerate(models)]
    selector = alt.Chart(epochs).mark_rule(opacity=0).encode(x="epoch:Q", tooltip=tooltip).add_params(hover)
    rule = alt.Chart(epochs).mark_rule(color="grey").encode(x="epoch:Q").transform_filter(hover)
    points = base.mark_point(filled=True, size=30).encode(
        y=alt.Y("value:Q", scale=scale), shape=alt.Shape("curve:N", legend=None),
        tooltip=["model:N", "curve:N", "epoch:Q", alt.Tooltip("value:Q", format=".5g", title="mean over seeds"),
                 alt.Tooltip("low:Q", format=".5g", title="min"), alt.Tooltip("high:Q", format=".5g", title="max"),
                 "seeds:Q"]).transform_filter(hover)
    return alt.layer(spread, line, selector, rule, points, data=chart_data(band), title=title, height=320)


@st.cache_data(show_spinner=False, max_entries=64)
def curve_specs(models_dir: str, names: tuple[str, ...], log: bool) -> dict[str, dict]:
    """Both curve charts' specs for one choice of models, built once per process and shared (building a
    chart of thousands of points costs a second of CPU)."""
    catalog = loaders.catalog(models_dir)
    curves = every_few_epochs(curves_frame([run for n in names for run in catalog.by_name(n)]))
    own = curves[curves["curve"].str.startswith("own loss")]
    common = curves[curves["curve"].str.startswith("MSE")]
    return {"own": chart_spec(curve_chart(own, log, "own loss (each on its own scale)", list(names))),
            "common": chart_spec(curve_chart(common, log, "MSE on [0, 1]", list(names)))}


@st.cache_data(show_spinner=False, max_entries=128)
def probe_strips(choice: tuple, epoch: int, _ctx: Context) -> str:
    """The probe digits (first row) and each chosen run's reconstructions of them after `epoch`, as HTML; once per
    `Context.choice` and epoch in this process."""
    with_probes = [r for r in _ctx.runs if r.probes is not None]
    index = with_probes[0].probes["index"]  # every run stores the same probe digits
    rows = []
    if _ctx.test is not None:
        inputs = strip(_ctx.images(index), 1)
        rows.append([("inputs", inputs, f"test {_ctx.dataset.item}s " + " ".join(f"#{i}" for i in index),
                      2 * inputs.shape[1])])
    for run in with_probes:
        images = probe_outputs(run.probes, epoch)
        lo, hi = float(images.min()), float(images.max())
        picture = strip(images, 1, _ctx.state.stretch)
        rows.append([(run.name, picture, f"epoch {epoch}: outputs {lo:.3g}..{hi:.3g} on [0, 1]"
                      + (" (each stretched to its own range)" if _ctx.state.stretch else ", shown clipped to 0-1"),
                      2 * picture.shape[1])])
    return figures_html(rows, title_lines=1)


def show_evaluation(ctx: Context) -> None:
    """The evaluation table (stored next to the models), the seeds' spread, a CSV download."""
    results = ctx.results()
    if results is None:
        st.info("The evaluation table needs the test images (see the message above).")
        return
    st.caption("Every model and baseline on all 10,000 test images, read from the results stored next to the "
               "models (`python -m aecompare.evaluate` prints the same table).")
    shown = table_for(results.table, [r.name for r in ctx.runs], ctx.state.dataset)
    show_table(shown, hide_index=True, width="stretch",
               column_config={"name": st.column_config.TextColumn(width="medium", pinned=True)})
    st.caption("One row per trained run, plus this dataset's baselines (PCA, the mean image) and published "
               "figures (quoted, not measured); — where a row has no such figure. own_loss_*: each model's own "
               "loss on its own scale (raw models: 0-255, not comparable across losses). mse, mae, bce, excess_bce "
               "(BCE − entropy of the targets: the part a model can still remove), psnr (dB), ssim and "
               "sse_per_image (squared error summed over 784 pixels, the unit of Hinton & Salakhutdinov 2006) are "
               "all on the [0, 1] scale over the 10,000 test images. mse_grey / excess_bce_grey: the same over the "
               "mid-grey target pixels only (0.1 < y < 0.9). Click a column header to sort. " + GLOSSARY_LINK)
    st.download_button("Download the table (CSV, all rows, with settings)", results.table.to_csv(index=False),
                       file_name="aecompare-evaluation.csv", mime="text/csv")
    show_seed_spread(shown)


def show_seed_spread(table: pd.DataFrame) -> None:
    """Mean ± std over seeds for the models trained with more than one seed."""
    summary = seed_summary(table[table["kind"] == "model"])
    summary = summary[summary["n_seeds"] > 1]
    if summary.empty:
        return
    st.markdown("**Repeated seeds: mean ± standard deviation**")
    metrics_shown = ("mse", "mae", "excess_bce", "psnr", "ssim", "sse_per_image", "probe_accuracy")
    rows = [{"name": r["name"], "seeds": int(r["n_seeds"]),
             **{m: f"{r[m]:.4g} ± {r[m + '_std']:.2g}" for m in metrics_shown}} for _, r in summary.iterrows()]
    show_table(pd.DataFrame(rows), hide_index=True, width="stretch")
    st.caption("Over the seeds committed for each model (sample standard deviation, ddof=1); same scale as above. "
               + GLOSSARY_LINK)


PAIRS = ("sigmoid-bce", "sigmoid-mse", "sigmoid-cb", "linear-mae", "softmax-bce")


def datasets_side_by_side(table: pd.DataFrame) -> pd.DataFrame:
    """The same output/loss pairs (Q1's net, normalised pixels) on MNIST and on Fashion-MNIST: MSE over
    all pixels and over the mid-grey ones, mean ± std over seeds, and each pair's rank on each dataset."""
    summary = seed_summary(table).set_index("name")

    def cell(name, column):
        if name not in summary.index:
            return ""
        mean, std = summary.loc[name, column], summary.loc[name, f"{column}_std"]
        return f"{mean:.5f}" + ("" if pd.isna(std) else f" ± {std:.5f}")

    rows = []
    for pair in PAIRS:
        mnist, fashion = f"norm-{pair}", f"fashion-norm-{pair}"
        if mnist in summary.index or fashion in summary.index:
            rows.append({"output + loss": pair.replace("-", "+"), "MNIST MSE": cell(mnist, "mse"),
                         "Fashion-MNIST MSE": cell(fashion, "mse"), "MNIST MSE, grey pixels": cell(mnist, "mse_grey"),
                         "Fashion-MNIST MSE, grey pixels": cell(fashion, "mse_grey")})
    return pd.DataFrame(rows)


CURVES = {"MSE per epoch": "common", "Own loss per epoch": "own"}  # section -> `curve_specs` key
SECTIONS = ("The yardstick", *CURVES, "Probe digits")


def show(ctx: Context) -> None:
    st.subheader("Losses")
    part = section("losses", SECTIONS)
    if part == "The yardstick":
        show_yardstick(ctx)
    elif no_models_note(ctx.runs):
        return
    elif part in CURVES:
        show_curves(ctx, CURVES[part])
    else:
        show_probe_digits(ctx)


def show_yardstick(ctx: Context) -> None:
    """Every model and baseline on one yardstick, the seeds' spread, and the same losses on both datasets."""
    st.markdown("**Every model on the same yardstick**")
    show_evaluation(ctx)
    results = ctx.results()
    if results is not None and results.table["dataset"].nunique() > 1:
        st.markdown("**The same losses on both datasets**")
        show_table(datasets_side_by_side(results.table), hide_index=True, width="stretch")
        st.caption("Q1's net on normalised pixels, trained on each dataset and scored on its own test images "
                   "(± over seeds where several were trained). Grey pixels: targets strictly between 0.1 and 0.9 "
                   "(8.6% of MNIST's test pixels, 40% of Fashion-MNIST's), where the losses treat targets "
                   "differently. CB models are read through their mean E[x | λ]. " + GLOSSARY_LINK)


def show_curves(ctx: Context, which: str) -> None:
    """The chosen models' MSE on [0, 1] ("common") or own loss ("own") per epoch, mean over seeds with a band."""
    log = st.toggle("Log scale (symmetric log where values reach 0 or below)", key="losses_log")
    st.vega_lite_chart(curve_specs(ctx.models_dir, tuple(r.name for r in ctx.runs), log)[which], width="stretch")
    shown = ("MSE on the [0, 1] scale: the common yardstick, every model comparable" if which == "common" else
             "each model's own loss (BCE, MSE or MAE, on its own pixel scale: raw models' values are on 0-255; "
             "raw-target BCE has no lower bound), not comparable across losses")
    st.caption(f"Per epoch, {shown}. Solid/dashed: train/test. Epoch 0: before training (test only); drawn: every "
               "epoch up to 10, then every 5th and the last. Where a model has several seeds the line is their mean "
               "and the shaded band spans their min to max; hover for the values.")


def show_probe_digits(ctx: Context) -> None:
    """The probe digits as each chosen model reconstructed them after an epoch picked with a slider."""
    st.markdown(f"**Probe {ctx.dataset.item}s, epoch by epoch**")
    with_probes = [r for r in ctx.runs if r.probes is not None]
    if len(with_probes) < len(ctx.runs):
        st.caption("No probe images for " + ", ".join(f"{r.name} (seed {r.seed})" for r in ctx.runs
                                                     if r.probes is None)
                   + f": only seed {PROBES_SEED}'s runs keep them (the other seeds serve the spread).")
    if not with_probes:
        return
    kept = sorted(set.intersection(*(set(probe_epochs(r.probes)) for r in with_probes)))
    epoch = st.select_slider("Epoch (0 = before training)", kept, kept[-1], key="probe_epoch",
                             help="Runs keep their probe images after every epoch up to 10, then every 5th.")
    st.html(probe_strips(ctx.choice, epoch, ctx))
