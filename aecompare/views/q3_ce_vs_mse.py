"""Q3 · CE vs MSE (Q3): shifted BCE, MSE and MAE around a target; Q3's net under SGD and Adam (one at a time)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from ..evaluation import evidence as ev
from ..evaluation.records import every_few_epochs, probe_epochs, probe_outputs
from ..maths import explain as ex
from ..maths.diagnostics import LOW_INPUT_SPREAD
from ..maths.pixel_losses import binary_entropy
from .common import cached_spec, evidence_part, in_registry_order, model_colour, models_link, section, show_image
from .images import strip
from .loaders import question_evidence


def neighbours(target: float) -> tuple[float, float]:
    """The predictions one step of 0.1 either side of `target`, kept inside (0, 1)."""
    return max(target - 0.1, 0.01), min(target + 0.1, 0.99)


def loss_marks(target: float) -> pd.DataFrame:
    """Shifted BCE, MSE and MAE of `target` at its two `neighbours` (one row per prediction)."""
    return pd.DataFrame(ex.loss_table(target, list(neighbours(target)))).rename(columns={
        "shifted_bce": "BCE − H(y) (nats)", "mse": "MSE", "mae": "MAE"})


@cached_spec
def losses_around_chart(target: float) -> alt.LayerChart:
    """Shifted BCE, MSE and MAE of one target as the prediction varies; dots at its two neighbours."""
    p = np.linspace(0.01, 0.99, 197)
    curves = pd.DataFrame({"p": p, "BCE − H(y) (nats)": ex.shifted_bce(target, p),
                           "MSE": ex.squared_error(target, p), "MAE": ex.absolute_error(target, p)})
    long = curves.melt(id_vars="p", var_name="loss", value_name="value")
    marks_long = loss_marks(target).melt(id_vars="prediction", var_name="loss", value_name="value").rename(
        columns={"prediction": "p"})
    chart = alt.Chart(long).mark_line().encode(
        x=alt.X("p:Q", title="prediction p"), y=alt.Y("value:Q", title="loss (minimum 0)"), color="loss:N",
        tooltip=["loss", alt.Tooltip("p:Q", format=".2f"), alt.Tooltip("value:Q", format=".4f")])
    pts = alt.Chart(marks_long).mark_point(size=90, filled=True).encode(
        x="p:Q", y="value:Q", color="loss:N", tooltip=["loss", alt.Tooltip("p:Q", format=".2f"),
                                                       alt.Tooltip("value:Q", format=".4f")])
    rule = alt.Chart(pd.DataFrame({"target": [target]})).mark_rule(strokeDash=[4, 4]).encode(x="target:Q")
    return chart + pts + rule


@cached_spec
def q3_chart(frame: pd.DataFrame, metric: str, title: str) -> alt.Chart | alt.LayerChart:
    """One per-epoch record of the Q3 runs, one line per model (output spread: with the blob threshold)."""
    ch = alt.Chart(every_few_epochs(frame)).mark_line(point=True).encode(
        x=alt.X("epoch:Q", title="epoch (0 = before training)"),
        y=alt.Y(f"{metric}:Q", title=title, scale=alt.Scale(zero=metric == "first_layer_fro_norm")),
        color=model_colour(in_registry_order(frame["model"])),
        tooltip=["model", "epoch", alt.Tooltip(f"{metric}:Q", format=".4f"), alt.Tooltip("val_mse:Q", format=".4f")])
    if metric == "output_spread":
        ch = ch + alt.Chart(pd.DataFrame({"b": [LOW_INPUT_SPREAD]})).mark_rule(
            color="red", strokeDash=[4, 4]).encode(y="b:Q")
    return ch


def norm_change(frame: pd.DataFrame) -> str:
    """Each run's first-layer norm before training and after its last epoch ("q3-sigmoid-bce 13.34 → 13.37 (+0.2%)"):
    the numbers the chart, drawn from 0, cannot show apart. Models in the legend's order (the registry's)."""
    ends = frame.sort_values("epoch").groupby("model")["first_layer_fro_norm"].agg(["first", "last"])
    ends = ends.reindex(in_registry_order(ends.index))
    return "; ".join(f"{model} {r['first']:.2f} → {r['last']:.2f} ({r['last'] / r['first'] - 1:+.1%})"
                     for model, r in ends.iterrows())


SECTIONS = ("Around a target", "The Q3 models")


def render_losses_around() -> None:
    """Shifted BCE, MSE and MAE around a target the visitor picks, with their values one step either side."""
    target = st.slider("Target pixel value", 0.05, 0.95, 0.8, 0.01, key="q3_target")
    left, right = neighbours(target)
    marks = loss_marks(target)
    c1, c2 = st.columns([3, 2])
    c1.vega_lite_chart(losses_around_chart(target), width="stretch")
    c1.caption(f"Per-pixel losses for target {target:.2f}: BCE shifted down by its minimum H(y) = "
               f"{float(binary_entropy(target)):.4f} nats (what is left is the KL divergence), squared error and "
               "absolute error (pixel units). Dots: one step of 0.1 either side.")
    c2.dataframe(marks.set_index("prediction").T.rename(columns=lambda v: f"p = {v:.2f}"), column_config={
        c: st.column_config.NumberColumn(format="%.4f") for c in (f"p = {left:.2f}", f"p = {right:.2f}")})
    b_left, b_right = marks["BCE − H(y) (nats)"]
    worse = "above" if b_right > b_left else "below"
    c2.markdown(f"Shifted BCE at {right:.2f} is **{b_right / b_left:.2f}×** its value at {left:.2f}: being "
                f"{worse} the target costs more, while MSE and MAE give both sides the same value.")


def render_q3_models(evidence: dict | None) -> None:
    """The Q3 models trained with plain SGD (lr 0.1): output spread and first-layer norm per epoch, their probe
    reconstructions, and what they say."""
    st.markdown("#### The Q3 models (plain SGD, lr 0.1)")
    available = evidence_part(evidence, "available", [])
    q3 = evidence_part(evidence, "q3", {})
    runs = q3.get("runs") or []
    if not runs:
        st.info("No Q3 model in models/ — " + models_link(ev.Q3_SGD_MODELS, available))
    else:
        frame = pd.concat([r["frame"] for r in runs], ignore_index=True)
        metric_names = {"output_spread": "output spread (1 = follows input)",
                        "first_layer_fro_norm": "first-layer weight norm ‖W₁‖_F"}
        cols = st.columns(2)
        for col, (metric, title) in zip(cols, metric_names.items(), strict=True):
            col.vega_lite_chart(q3_chart(frame, metric, title), width="stretch")
        cols[0].caption("Output spread per epoch: std of the outputs across probe digits / std of the inputs, "
                        f"averaged over pixels. Red: {LOW_INPUT_SPREAD}, below which the outputs vary far less "
                        "than the inputs (a blob's sign). Drawn: every epoch up to 10, then every 5th and the last.")
        cols[1].caption("Frobenius norm of the 784→100 weight matrix per epoch, axis from 0: a collapse to a zero "
                        "matrix would fall to the axis. Before training → last epoch: " + norm_change(frame)
                        + " (lines this close lie on one another at this scale).")
        kept = sorted(set.intersection(*(set(probe_epochs(r["probes"])) for r in runs)))
        epoch = st.select_slider("Reconstructions after epoch", kept, kept[-1], key="q3_epoch",
                                 help="Runs keep their probe images after every epoch up to 10, then every 5th.")
        for r in runs:
            st.markdown(f"**{r['name']}** ({r['loss']}, {r['optimizer']})")
            outputs = probe_outputs(r["probes"], epoch)
            rows = [strip(outputs[:10], 1, False)]
            if r.get("probe_targets") is not None:
                rows.insert(0, strip(r["probe_targets"][:10], 1, False))
            show_image(st, np.concatenate(rows, axis=0), width="stretch")
            st.caption(("Top: test digits; bottom: " if len(rows) == 2 else "")
                       + f"reconstructions after epoch {epoch}, on the true [0, 1] scale (not stretched).")
            for line in r["reading"]["text"]:
                st.markdown("- " + line)
        st.markdown("**Reading.** " + ev.q3_summary(runs, q3.get("contrast") or []))
    st.markdown("Models: " + models_link(ev.Q3_SGD_MODELS, available) + "; the same losses with Adam: "
                + models_link(ev.ADAM_CONTRAST, available) + ".")


def show(ctx) -> None:
    """The tab: the losses around a target, or the Q3 models, one section at a time."""
    st.subheader("Cross-entropy against MSE")
    st.caption("The asker's net: 784-100-50-100-784, sigmoid everywhere, inputs in [0, 1]: with cross-entropy 'the "
               "output was always a blob' and the first-layer weights went to zero; MSE worked.")
    if section("q3", SECTIONS) == "Around a target":
        render_losses_around()
    else:
        render_q3_models(question_evidence(ctx.models_dir, ctx.state.dataset))
