"""The continuous Bernoulli, in the BCE question's tab: the likelihood BCE should have been, and what it does
to trained models on the grey pixels of digits' edges."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from ..evaluation.records import probe_outputs
from ..maths import explain as ex
from ..maths.pixel_losses import cb_log_norm
from .common import Context, cached_spec, chart_data, show_table
from .images import png_bytes, strip

PAIRS = (("norm-sigmoid-bce", "norm-sigmoid-cb"), ("q3-sigmoid-bce-adam", "q3-sigmoid-cb-adam"))
GREY_TARGETS = (0.1, 0.25, 0.5, 0.67, 0.8, 0.9)


@cached_spec
def loss_curves(y: float) -> alt.LayerChart:
    """BCE and CB NLL of one target y as λ varies, with each one's minimum marked."""
    lam = np.linspace(0.002, 0.998, 499)
    curves = ex.losses_over_lambda(y, lam)
    df = pd.concat([pd.DataFrame({"λ": lam, "loss": curves["bce"], "curve": "BCE"}),
                    pd.DataFrame({"λ": lam, "loss": curves["cb"], "curve": "CB NLL = BCE − log C(λ)"})])
    cb_lam, cb_floor = ex.cb_minimum(y)
    marks = pd.DataFrame({"λ": [y, cb_lam], "loss": [float(ex.bce_curve(y, y)), cb_floor],
                          "curve": ["BCE", "CB NLL = BCE − log C(λ)"]})
    lines = alt.Chart(chart_data(df)).mark_line().encode(
        x=alt.X("λ:Q", title="prediction λ (the sigmoid output)"), y=alt.Y("loss:Q", title="nats per pixel"),
        color=alt.Color("curve:N", title=None))
    points = alt.Chart(chart_data(marks)).mark_point(size=110, filled=True).encode(
        x="λ:Q", y="loss:Q", color="curve:N",
        tooltip=[alt.Tooltip("curve:N"), alt.Tooltip("λ:Q", format=".4f", title="minimum at λ"),
                 alt.Tooltip("loss:Q", format=".4f")])
    zero = alt.Chart(chart_data(pd.DataFrame({"zero": [0.0]}))).mark_rule(strokeDash=[4, 4]).encode(y="zero:Q")
    return alt.layer(lines, points, zero).properties(height=280)


@cached_spec
def log_norm_chart() -> alt.Chart:
    lam = np.linspace(0.001, 0.999, 499)
    return (alt.Chart(chart_data(pd.DataFrame({"λ": lam, "log C(λ)": cb_log_norm(lam)}))).mark_line()
            .encode(x=alt.X("λ:Q"), y=alt.Y("log C(λ):Q", scale=alt.Scale(zero=False), title="log C(λ), nats"))
            .properties(height=280))


def floors_table() -> pd.DataFrame:
    f = ex.loss_floors(np.array(GREY_TARGETS))
    return pd.DataFrame({"target y": f["target"], "BCE's best λ": f["bce_lambda"], "BCE floor H(y)": f["bce_floor"],
                         "CB's best λ (E[x|λ] = y)": f["cb_lambda"], "CB floor": f["cb_floor"],
                         "a CB model's mean if it output λ = y": f["cb_mean_at_bce_lambda"]})


def render_math() -> None:
    st.markdown("#### The continuous Bernoulli: the likelihood BCE should have been")
    st.markdown(
        "On targets in [0, 1] rather than {0, 1}, BCE is not the log-likelihood of any distribution: "
        "λ^x (1 − λ)^(1 − x) does not integrate to 1 over x ∈ [0, 1]. Adding the missing normaliser "
        "C(λ) = 2 artanh(1 − 2λ) / (1 − 2λ) gives the **continuous Bernoulli** (Loaiza-Ganem & Cunningham, "
        "NeurIPS 2019), whose negative log-likelihood is BCE − log C(λ). It is a *density*, not a probability, "
        "so its NLL goes **below 0** wherever the density exceeds 1. And its mean is not λ: "
        "E[x | λ] = λ / (2λ − 1) + 1 / (2 artanh(1 − 2λ)), pulled towards 1/2, so a CB model is read through "
        "E[x | λ]. At the optimum E[x | λ] equals the target (an exponential family), so a grey 0.67 needs λ ≈ 0.90.")
    y = st.slider("Target pixel value y", 0.0, 1.0, 0.67, 0.01, key="cb_y")
    left, right = st.columns(2)
    left.vega_lite_chart(loss_curves(y), width="stretch")
    left.caption(f"Both losses of a target y = {y:.2f} as the prediction λ varies; dots: each one's minimum. BCE is "
                 "lowest at λ = y; the CB NLL where E[x | λ] = y. Dashed: 0 — the CB NLL dips below it.")
    right.vega_lite_chart(log_norm_chart(), width="stretch")
    right.caption("log C(λ), the normaliser BCE lacks: log 2 at λ = 1/2 (computed there by its series), growing "
                  "towards the ends. It depends on λ only, so it changes which λ is best, not the target's part.")
    show_table(floors_table(), hide_index=True, width="stretch")
    st.caption("The λ that minimises each loss for grey targets, and each loss's floor (nats per pixel). Last "
               "column: what a CB model would show if it output BCE's answer λ = y, read through its mean.")


def render_models(ctx: Context) -> None:
    """The trained BCE and CB models side by side: reconstructions (CB: its mean and λ) and the grey-pixel error."""
    st.markdown("#### On trained models: the grey pixels of the digits' edges")
    results = ctx.results()
    pairs = [p for p in PAIRS if all(ctx.catalog.by_name(n) and ctx.catalog.by_name(n)[0].probes is not None
                                     for n in p)]
    if not pairs or results is None or ctx.test is None:
        st.info("No pair of BCE and CB models in this folder: train them with "
                "`python -m aecompare.train --only norm-sigmoid-cb q3-sigmoid-cb-adam`.")
        return
    table = results.table
    rows = table[(table["kind"] == "model") & table["name"].isin([n for p in pairs for n in p])]
    columns = ["name", "seed", "loss", "mse", "mse_grey", "mse_rest", "excess_bce", "excess_bce_grey", "grey_fraction"]
    show_table(rows[columns], hide_index=True, width="stretch")
    st.caption("MSE and BCE − H(y) over all test pixels, over the mid-grey target pixels (0.1 < y < 0.9, "
               "grey_fraction of them) and over the rest; CB models read through their mean E[x | λ].")
    for bce, cb in pairs:
        st.image(pair_picture(ctx.models_dir, (bce, cb), ctx),
                 caption=f"rows: input; {bce}; {cb} read through its mean E[x | λ]; the same model's λ itself — more "
                         "extreme than the data (last epoch).")


@st.cache_data(show_spinner=False, max_entries=16)
def pair_picture(models_dir: str, pair: tuple[str, str], _ctx: Context) -> bytes:
    """One digit per class: inputs, the BCE model's reconstructions, the CB model's mean and its λ, as a PNG."""
    bce, cb = _ctx.catalog.first_seeds(pair)
    x = _ctx.images(bce.probes["index"][::2], bce.exp.dataset)
    return png_bytes(np.concatenate([np.pad(strip(images, 2), ((0, 4), (0, 0)), constant_values=255) for images in (
        x, probe_outputs(bce.probes)[::2], probe_outputs(cb.probes)[::2], cb.reconstruct(x, raw_output=True))]))


def show(ctx: Context) -> None:
    render_math()
    render_models(ctx)
