"""Q1 · BCE in an autoencoder (Q1): BCE's minimum at p = y, the softmax's 1/k ceiling, raw targets."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from ..evaluation import evidence as ev
from ..evaluation.records import every_few_epochs
from ..maths import explain as ex
from ..maths.diagnostics import LOW_INPUT_SPREAD
from .common import (
    cached_spec,
    evidence_part,
    in_registry_order,
    model_colour,
    models_link,
    section,
    show_image,
    show_table,
)
from .images import strip
from .loaders import question_evidence

SECTIONS = ("BCE's floor", "Softmax outputs", "Raw targets", "Continuous Bernoulli")


def render_bce_floor() -> None:
    """BCE of one pixel: its minimum at p = y, of value H(y), and its derivative."""
    st.markdown("#### BCE for one pixel: minimum at p = y, equal to the entropy H(y)")
    y = st.slider("Target pixel value y", 0.0, 1.0, 0.3, 0.01, key="q1_y")
    _, h = ex.bce_minimum(y)
    c1, c2 = st.columns(2)
    c1.vega_lite_chart(bce_chart(y), width="stretch")
    c1.caption(f"BCE = −y log p − (1−y) log(1−p) for y = {y:.2f}; red: the minimum at p = y, value "
               f"H(y) = {h:.4f} nats ({ex.to_bits(h):.4f} bits), zero only for y = 0 or 1.")
    c2.vega_lite_chart(bce_derivative_chart(y), width="stretch")
    c2.caption("Its derivative −y/p + (1−y)/(1−p): negative below p = y, positive above, zero exactly at p = y.")


P = np.linspace(0.005, 0.995, 397)


@cached_spec
def bce_chart(y: float) -> alt.LayerChart:
    """BCE of one target y as the prediction p varies, with its minimum (p = y, value H(y)) in red."""
    p_star, h = ex.bce_minimum(y)
    loss_line = alt.Chart(pd.DataFrame({"p": P, "BCE (nats)": ex.bce_curve(y, P)})).mark_line().encode(
        x=alt.X("p:Q", title="prediction p"), y=alt.Y("BCE (nats):Q"),
        tooltip=[alt.Tooltip("p:Q", format=".3f"), alt.Tooltip("BCE (nats):Q", format=".4f")])
    minimum = alt.Chart(pd.DataFrame({"p": [p_star], "BCE (nats)": [h]})).mark_point(
        size=120, filled=True, color="red").encode(x="p:Q", y="BCE (nats):Q", tooltip=[
            alt.Tooltip("p:Q", title="minimum at p = y", format=".3f"),
            alt.Tooltip("BCE (nats):Q", title="H(y), nats", format=".4f")])
    return loss_line + minimum


@cached_spec
def bce_derivative_chart(y: float) -> alt.LayerChart:
    """dBCE/dp of one target y (clipped to ±20), with the zero line."""
    deriv = alt.Chart(pd.DataFrame({"p": P, "dBCE/dp": np.clip(ex.bce_derivative(y, P), -20, 20)})).mark_line(
        color="orange").encode(x=alt.X("p:Q", title="prediction p"),
                               y=alt.Y("dBCE/dp:Q", title="dBCE/dp (clipped to ±20)"),
                               tooltip=[alt.Tooltip("p:Q", format=".3f"), alt.Tooltip("dBCE/dp:Q", format=".3f")])
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(strokeDash=[4, 4]).encode(y="zero:Q")
    return deriv + zero


@cached_spec
def ceiling_chart(per_image: pd.DataFrame) -> alt.LayerChart:
    """The softmax models' mean output on a digit's lit pixels against its k lit pixels, aggregated over the digits
    of each k (line: their mean, band: lowest to highest digit); dashed: the ceiling 1/k."""
    by_k = (per_image[per_image.lit_pixels > 0].groupby(["model", "lit_pixels"], as_index=False)
            .agg(mean=("mean_output_on_lit_pixels", "mean"), low=("mean_output_on_lit_pixels", "min"),
                 high=("mean_output_on_lit_pixels", "max"), digits=("mean_output_on_lit_pixels", "size"),
                 ceiling=("ceiling_1_over_k", "first")))
    y_scale = alt.Scale(type="log")
    base = alt.Chart(by_k).encode(x=alt.X("lit_pixels:Q", title="lit pixels k in the digit"),
                                  color=model_colour(in_registry_order(by_k["model"])))
    band = base.mark_area(opacity=0.2).encode(y=alt.Y("low:Q", scale=y_scale), y2="high:Q")
    line = base.mark_line(point=True).encode(
        y=alt.Y("mean:Q", scale=y_scale, title="mean output on lit pixels ([0, 1] scale, log)"),
        tooltip=["model", alt.Tooltip("lit_pixels:Q", title="k"), alt.Tooltip("digits:Q", title="test digits"),
                 alt.Tooltip("mean:Q", format=".2e"), alt.Tooltip("low:Q", format=".2e", title="lowest"),
                 alt.Tooltip("high:Q", format=".2e", title="highest"), alt.Tooltip("ceiling:Q", format=".2e")])
    ceiling = base.mark_line(color="black", strokeDash=[4, 4]).encode(y="ceiling:Q", detail="model:N")
    return alt.layer(band, line, ceiling)


def render_softmax(evidence: dict | None) -> None:
    """Softmax over 784 pixels: the 1/k ceiling, next to the softmax models' outputs."""
    available = evidence_part(evidence, "available", [])
    st.markdown("#### Softmax over 784 pixels: outputs that sum to 1")
    ceiling = (evidence or {}).get("ceiling")
    if ceiling and ceiling.get("n_images"):
        st.markdown(f"A softmax makes all 784 outputs sum to 1, so over the k lit pixels of a digit the average "
                    f"output is at most 1/k. In {ceiling['n_images']} test digits, k (pixels > "
                    f"{ceiling['threshold']}) runs from {ceiling['k_min']} to {ceiling['k_max']}, median "
                    f"{ceiling['k_median']:.0f}: a lit pixel can average at most **1/{ceiling['k_median']:.0f} ≈ "
                    f"{ceiling['ceiling_at_median']:.4f}** where the target is about 1.")
    else:
        st.markdown("A softmax makes all 784 outputs sum to 1, so over the k lit pixels of a digit the average "
                    "output is at most 1/k (MNIST is not loaded here, so k is not counted).")
    softmax = evidence_part(evidence, "softmax", [])
    if not softmax:
        st.info("No softmax model in models/ — " + models_link(ev.SOFTMAX_MODELS, available))
    per_image = [s["per_image"] for s in softmax if s.get("per_image") is not None]
    for s in softmax:
        st.markdown(f"**{s['name']}** ({s['scale']} targets): outputs on the [0, 1] scale range "
                    f"{s['output_min']:.2e}–{s['output_max']:.2e}, summing to {s['output_sum_mean']:.4f} per image "
                    f"(final validation BCE {s['final_val_loss']:.4g} nats per pixel, on its own scale).")
        rows = [strip(s["probe_outputs"][:10], 1, False), strip(s["probe_outputs"][:10], 1, True)]
        if s.get("probe_targets") is not None:
            rows.insert(0, strip(s["probe_targets"][:10], 1, False))
        show_image(st, np.concatenate(rows, axis=0), width="stretch")
        st.caption(("Rows: test digits; " if len(rows) == 3 else "Rows: ") + "the model's reconstructions after the "
                   "last epoch on the true [0, 1] scale (black: every output is tiny); the same reconstructions "
                   "stretched to each image's own min–max (the shape is there, the brightness cannot be).")
    if per_image:
        st.vega_lite_chart(ceiling_chart(pd.concat(per_image, ignore_index=True)), width="stretch")
        st.caption(f"Each model's mean output over a digit's lit pixels (target ≈ 1), over the first "
                   f"{ev.N_EVIDENCE_IMAGES:,} test digits grouped by their number k of lit pixels: the line joins the "
                   "groups' means, the band spans their lowest to highest digit. Dashed: the ceiling 1/k (divided by "
                   "255 for the raw model, whose outputs are shown on the [0, 1] scale).")
    st.markdown("Models: " + models_link(ev.SOFTMAX_MODELS, available) + ". Compare "
                + models_link(("norm-sigmoid-bce",), available) + " (sigmoid output, normalised pixels).")


@cached_spec
def raw_target_chart(y_raw: int) -> alt.LayerChart:
    """Unclipped BCE of a raw target y_raw as p -> 1 (x: -log10(1 - p)), with Keras' clipping floor in red."""
    exps = np.linspace(1, 12, 111)
    ps = 1 - 10.0 ** -exps
    raw = pd.DataFrame({"-log10(1-p)": exps, "p": ps, "BCE (nats)": ex.raw_bce_curve(y_raw, ps)})
    raw_chart = alt.Chart(raw).mark_line().encode(
        x=alt.X("-log10(1-p):Q", title="−log₁₀(1 − p): p → 1 to the right"), y=alt.Y("BCE (nats):Q"),
        tooltip=[alt.Tooltip("p:Q", format=".12f"), alt.Tooltip("BCE (nats):Q", format=".1f")])
    floor_rule = alt.Chart(pd.DataFrame({"floor": [float(ex.bce_clipped_floor(y_raw))]})).mark_rule(
        color="red", strokeDash=[4, 4]).encode(
        y=alt.Y("floor:Q", title="BCE (nats)"),
        tooltip=[alt.Tooltip("floor:Q", title="Keras clip floor (nats)", format=".1f")])
    return raw_chart + floor_rule


@cached_spec
def raw_models_chart(curves: pd.DataFrame, floor: float | None) -> alt.LayerChart:
    """The raw BCE models' training and validation loss per epoch; red: the lowest BCE clipping allows."""
    bce_curves = every_few_epochs(curves[curves.loss == "bce"]).melt(
        id_vars=["model", "epoch"], value_vars=["train_loss", "val_loss"], var_name="split",
        value_name="bce").dropna()
    layers = [alt.Chart(bce_curves).mark_line(point=True).encode(
        x=alt.X("epoch:Q", title="epoch (0 = before training)"), y=alt.Y("bce:Q", title="BCE (nats per pixel)"),
        color=model_colour(in_registry_order(bce_curves["model"])), strokeDash="split:N",
        tooltip=["model", "split", "epoch", alt.Tooltip("bce:Q", format=".2f")])]
    if floor is not None:
        layers.append(alt.Chart(pd.DataFrame({"floor": [floor]})).mark_rule(
            color="red", strokeDash=[4, 4]).encode(y=alt.Y("floor:Q", title="BCE (nats per pixel)"), tooltip=[
                alt.Tooltip("floor:Q", title="lowest clipped BCE on these targets", format=".1f")]))
    return alt.layer(*layers)


def render_raw_targets(evidence: dict | None) -> None:
    """Raw 0-255 targets: BCE's missing floor, next to the raw models' curves."""
    available = evidence_part(evidence, "available", [])
    st.markdown("#### Raw 0–255 targets: BCE has no lower bound")
    y_raw = st.select_slider("Raw target y", options=[2, 10, 50, 128, 255], value=255, key="q1_yraw")
    floor = float(ex.bce_clipped_floor(y_raw))
    c1, c2 = st.columns(2)
    c1.vega_lite_chart(raw_target_chart(y_raw), width="stretch")
    c1.caption(f"Unclipped BCE for y = {y_raw}: the derivative −y/p + (1−y)/(1−p) is negative everywhere on (0, 1), "
               f"so the loss falls without limit as p → 1. Red: where Keras' clipping of p to 1 − 1e-7 (float32) "
               f"stops it, {floor:.1f} nats per pixel.")
    raw_ev = evidence_part(evidence, "raw_bce", {})
    curves = raw_ev.get("curves") if isinstance(raw_ev.get("curves"), pd.DataFrame) else pd.DataFrame()
    if curves.empty:
        c2.info("No raw model in models/ — " + models_link(ev.RAW_BCE_MODELS, available))
    else:
        c2.vega_lite_chart(raw_models_chart(curves, raw_ev.get("floor")), width="stretch")
        cap = ("The raw BCE models' recorded training and validation loss per epoch (their own 0–255 scale; drawn: "
               "every epoch up to 10, then every 5th and the last).")
        if raw_ev.get("floor") is not None:
            cap += (f" Red: the lowest BCE Keras' clipping allows on {raw_ev['floor_images']} test digits "
                    f"(mean target {raw_ev['mean_target']:.1f}): {raw_ev['floor']:.1f} nats per pixel — a negative "
                    "'loss' that rewards pushing every output to the clip, not reconstructing.")
        c2.caption(cap)
        last = curves.sort_values("epoch").groupby("model").tail(1)
        show_table(last[["model", "activation", "loss", "epoch", "val_loss", "output_spread", "diverged_epoch"]],
                   hide_index=True, column_config={
                       "output_spread": st.column_config.NumberColumn(format="%.2e"),
                       "val_loss": st.column_config.NumberColumn(format="%.2f")})
        st.caption("Each raw model after its last epoch: validation loss on its own scale, output spread "
                   f"(std of outputs across digits / std of inputs; below {LOW_INPUT_SPREAD} the outputs vary far "
                   "less than the inputs), the epoch its loss stopped being finite (— if it never did).")
    st.markdown("Models: " + models_link(ev.RAW_BCE_MODELS + ev.RAW_OTHER_MODELS, available) + "; the fix, normalised: "
                + models_link(("norm-sigmoid-bce", "norm-sigmoid-mse", "norm-linear-mae"), available) + ".")


def show(ctx) -> None:
    """The tab: the question's math and models, then the continuous Bernoulli, one section at a time."""
    from . import continuous_bernoulli

    st.subheader("Binary cross-entropy in an autoencoder")
    st.caption("The asker's net: 784-128-64-28-64-128-784, ReLU, softmax output, binary_crossentropy, on raw "
               "MNIST. Losses in nats per pixel.")
    part = section("q1", SECTIONS)
    if part == "Continuous Bernoulli":
        continuous_bernoulli.show(ctx)
    elif part == "BCE's floor":
        render_bce_floor()
    else:
        evidence = question_evidence(ctx.models_dir, ctx.state.dataset)
        (render_softmax if part == "Softmax outputs" else render_raw_targets)(evidence)
