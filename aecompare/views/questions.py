"""The three questions (seeds 000, 001, 002), each answered by live math beside the trained models.

`questions_evidence(catalog, test_x_unit)` turns the catalog (plus MNIST test images on [0, 1],
optional) into plain data: dicts, numpy arrays and DataFrames, cache-friendly and testable. The
`render_*` functions draw that data with Streamlit and Altair; every number they show comes from
`aecompare.explain` or from the models' records. With no models they still show the math.

Model links use the dashboard's query parameter: `?models=a,b` selects those models.
"""

from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from .. import explain as ex
from ..diagnostics import LOW_INPUT_SPREAD, output_statistics, verdict
from ..losses import binary_entropy
from ..records import probe_epochs, probe_outputs
from .common import draw_chart
from .server import read_only, serialise_heavy

SOFTMAX_MODELS = ("raw-softmax-bce", "norm-softmax-bce")
RAW_BCE_MODELS = ("raw-softmax-bce", "raw-sigmoid-bce")
RAW_OTHER_MODELS = ("raw-sigmoid-mse", "raw-linear-mae")
S002_MODELS = ("s002-sigmoid-bce", "s002-sigmoid-mse")
ADAM_CONTRAST = ("s002-sigmoid-bce-adam", "s002-sigmoid-mse-adam", "norm-sigmoid-bce", "norm-sigmoid-mse")
N_EVIDENCE_IMAGES = 1000  # test images used for output ranges and lit-pixel counts
WEIGHTS_ZERO_RATIO = 0.1  # "went to zero": first-layer norm below 10% of its initial value


# ====================================================================== evidence (no Streamlit)


def history_frame(run) -> pd.DataFrame:
    """One row per epoch (0 = before training): losses, output spread, first-layer weight stats."""
    h = run.history
    rows = []
    for epoch, rec in [(0, h.get("initial") or {})] + [(r.get("epoch", i + 1), r)
                                                       for i, r in enumerate(h.get("epochs", []))]:
        layers = rec.get("layers") or [{}]
        first = layers[0]
        rows.append({
            "model": run.name, "epoch": int(epoch),
            "train_loss": rec.get("train_loss", np.nan), "val_loss": rec.get("val_loss", np.nan),
            "val_mse": rec.get("val_mse", np.nan), "output_spread": rec.get("output_spread", np.nan),
            "first_layer_fro_norm": first.get("fro_norm", np.nan),
            "first_layer_mean_abs": first.get("mean_abs", np.nan),
            "first_layer_near_zero": first.get("near_zero", np.nan),
            "saturated_hidden_units": sum(int(r.get("dead_units", 0)) for r in layers[:-1]),
            "hidden_units": sum(int(r.get("units", 0)) for r in layers[:-1]),
        })
    return pd.DataFrame(rows)


def _softmax_evidence(run, test_x: np.ndarray | None) -> dict:
    final = probe_outputs(run.probes)
    out = {"name": run.name, "scale": run.exp.scale, "probe_labels": np.asarray(run.probes["labels"]),
           "probe_outputs": final, "probe_targets": None,
           "final_val_loss": float(run.history["epochs"][-1]["val_loss"]) if run.history.get("epochs") else None}
    out["output_min"] = float(final.min())
    out["output_max"] = float(final.max())
    out["output_sum_mean"] = float(final.sum(axis=1).mean())  # on the [0, 1] scale (raw: 1/255)
    if test_x is not None:
        out["probe_targets"] = test_x[run.probes["index"]]
        x = test_x[:N_EVIDENCE_IMAGES]
        recon = run.reconstruct(x)  # outputs on [0, 1]
        lit = x > 0.5
        k = lit.sum(axis=1)
        mean_lit = np.where(k > 0, (recon * lit).sum(axis=1) / np.maximum(k, 1), np.nan)
        out["per_image"] = pd.DataFrame({
            "model": run.name, "lit_pixels": k, "mean_output_on_lit_pixels": mean_lit,
            "ceiling_1_over_k": ex.softmax_ceiling(k) / run.scale, "max_output": recon.max(axis=1),
            "output_sum": recon.sum(axis=1)})
    return out


def _raw_bce_evidence(catalog, test_x: np.ndarray | None) -> dict:
    frames = []
    for name in RAW_BCE_MODELS + RAW_OTHER_MODELS:
        for run in catalog.by_name(name)[:1]:
            f = history_frame(run)
            f["loss"] = run.exp.loss
            f["activation"] = run.exp.activation
            f["diverged_epoch"] = run.history.get("diverged_epoch")
            frames.append(f)
    curves = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()
    out = {"curves": curves, "floor": None, "mean_target": None}
    if test_x is not None:
        # every test image (the set the validation loss is computed on), as counts of each value 0-255:
        # a pixel's best clipped BCE (float32, as Keras) depends on its value only
        counts = sum(np.bincount(np.rint(test_x[i:i + 1000] * 255).astype(np.uint8).ravel(), minlength=256)
                     for i in range(0, len(test_x), 1000))
        values = np.arange(256, dtype=np.float64)
        out["floor"] = ex.best_clipped_bce(values, weights=counts)
        out["mean_target"] = float(np.average(values, weights=counts))
        out["floor_images"] = int(len(test_x))
    return out


def s002_reading(frame: pd.DataFrame, diverged_epoch, loss: str, blob_mse: float | None,
                 stats: dict | None = None) -> dict:
    """A plain-language reading of one seed-002 run, computed from its per-epoch records and (`stats`) the
    `diagnostics.output_statistics` of its reconstructions of test images, which decide the verdict."""
    first, last = frame.iloc[0], frame.iloc[-1]
    ratio = float(last.first_layer_fro_norm / first.first_layer_fro_norm) if first.first_layer_fro_norm else math.nan
    kind, why = verdict(diverged_epoch, stats, []) if stats else ("not judged", "needs the test images")
    weights_zero = bool(ratio < WEIGHTS_ZERO_RATIO)
    text = [f"First-layer weights (784→{int(frame.attrs.get('first_units', 0)) or 'hidden'}): Frobenius norm "
            f"{first.first_layer_fro_norm:.3f} before training, {last.first_layer_fro_norm:.3f} after epoch "
            f"{int(last.epoch)} ({ratio - 1:+.2%}); {last.first_layer_near_zero:.1%} of them are below 1% of the "
            "largest. " + ("They **did go to zero**." if weights_zero else "They did **not** go to zero.")]
    text.append(f"Output spread {first.output_spread:.4f} → {last.output_spread:.4f} during training (1 = outputs "
                f"vary as much as the inputs, below {LOW_INPUT_SPREAD}: far less). Verdict on the test images: "
                f"**{kind}** ({why}).")
    if blob_mse is not None:
        text.append(f"Validation MSE {last.val_mse:.4f} per pixel; predicting the mean test image for every "
                    f"digit scores {blob_mse:.4f}: the model is "
                    + ("no better than that mean image." if last.val_mse >= 0.95 * blob_mse
                       else f"{1 - last.val_mse / blob_mse:.0%} better than that mean image."))
    return {"kind": kind, "why": why, "weights_went_to_zero": weights_zero, "fro_ratio": ratio,
            "spread_first": float(first.output_spread), "spread_last": float(last.output_spread),
            "val_mse_last": float(last.val_mse), "blob_mse": blob_mse, "loss": loss, "text": text}


def _output_stats(run, test_x: np.ndarray | None) -> dict | None:
    """`output_statistics` of the run's reconstructions of the first N_EVIDENCE_IMAGES test images."""
    if test_x is None:
        return None
    x = test_x[:N_EVIDENCE_IMAGES]
    return output_statistics(x, run.reconstruct(x))


def _s002_evidence(catalog, test_x: np.ndarray | None) -> dict:
    blob_mse = None
    if test_x is not None:
        blob_mse = float(np.mean(test_x.reshape(len(test_x), -1).var(axis=0)))
    runs = []
    for name in S002_MODELS:
        for run in catalog.by_name(name)[:1]:
            f = history_frame(run)
            f.attrs["first_units"] = run.layers[0].units if run.layers else 0
            runs.append({"name": name, "loss": run.exp.loss,
                         "optimizer": f"{run.exp.optimizer.name} lr {run.exp.optimizer.learning_rate:g}",
                         "frame": f, "probes": run.probes,
                         "probe_targets": test_x[run.probes["index"]] if test_x is not None else None,
                         "reading": s002_reading(f, run.history.get("diverged_epoch"), run.exp.loss, blob_mse,
                                                 _output_stats(run, test_x))})
    contrast = []
    for name in ADAM_CONTRAST:
        for run in catalog.by_name(name)[:1]:
            f = history_frame(run)
            stats = _output_stats(run, test_x)
            kind = verdict(run.history.get("diverged_epoch"), stats, [])[0] if stats else "not judged"
            contrast.append({"name": name, "arch": run.exp.arch.label, "optimizer": run.exp.optimizer.name,
                             "spread_last": float(f.output_spread.iloc[-1]), "val_mse_last": float(f.val_mse.iloc[-1]),
                             "kind": kind})
    return {"runs": runs, "blob_mse": blob_mse, "contrast": contrast}


def questions_evidence(catalog, test_x_unit: np.ndarray | None = None) -> dict:
    """Everything the three views need from the trained models, as plain data.

    `catalog`: an `aecompare.catalog.Catalog` (may be empty). `test_x_unit`: MNIST test images on
    [0, 1] (n, 784) or (n, 28, 28), or None when MNIST is unavailable (then no targets are shown).
    """
    test_x = None
    if test_x_unit is not None:
        test_x = np.asarray(test_x_unit, np.float32).reshape(len(test_x_unit), -1)
    names = catalog.names() if catalog is not None else []
    return {
        "available": names,
        "softmax": [_softmax_evidence(catalog.by_name(n)[0], test_x) for n in SOFTMAX_MODELS if n in names],
        "ceiling": ex.softmax_ceiling_summary(test_x[:N_EVIDENCE_IMAGES]) if test_x is not None else None,
        "raw_bce": _raw_bce_evidence(catalog, test_x) if catalog is not None else {"curves": pd.DataFrame()},
        "s002": _s002_evidence(catalog, test_x) if catalog is not None else {"runs": [], "contrast": []},
    }


@st.cache_resource(show_spinner="Reading the models' records for the three questions ...")
@serialise_heavy
def cached_evidence(models_dir: str, has_mnist: bool, _catalog, _test_x_unit) -> dict:
    """`questions_evidence`, computed once per models folder (the catalog is cached per folder too)."""
    return read_only(questions_evidence(_catalog, _test_x_unit))


def _ctx_evidence(ctx) -> dict:
    x = getattr(ctx, "x_test", None)
    return cached_evidence(str(ctx.models_dir), x is not None, ctx.catalog, x)


def show_cross_entropy(ctx=None) -> None:
    """Dashboard tab (takes the dashboard's Context, unused): seed 001."""
    render_cross_entropy()


def show_bce_autoencoder(ctx) -> None:
    """Dashboard tab: seed 000, on the context's catalog and MNIST test images."""
    render_bce_autoencoder(_ctx_evidence(ctx))


def show_ce_vs_mse(ctx) -> None:
    """Dashboard tab: seed 002, on the context's catalog and MNIST test images."""
    render_ce_vs_mse(_ctx_evidence(ctx))


# ====================================================================== drawing helpers


def models_link(names, available=None) -> str:
    """Markdown naming models, linked to the dashboard's selection `?models=a,b` when they exist."""
    present = [n for n in names if available is None or n in available]
    missing = [n for n in names if n not in present]
    parts = []
    if present:
        parts.append(f"[{', '.join(present)}](?models={','.join(present)})")
    if missing:
        parts.append(f"{', '.join(missing)} (not in models/: train with `python -m aecompare.train "
                     f"--only {' '.join(missing)}`)")
    return "; ".join(parts)


def _image_row(images: np.ndarray, stretch: bool) -> np.ndarray:
    """Images (n, 784) side by side as one (28, 28 n) array on [0, 1], each optionally stretched to its own range."""
    imgs = np.asarray(images, np.float64).reshape(-1, 28, 28)
    if stretch:
        lo = imgs.min(axis=(1, 2), keepdims=True)
        hi = imgs.max(axis=(1, 2), keepdims=True)
        imgs = (imgs - lo) / np.where(hi > lo, hi - lo, 1)
    pad = np.ones((len(imgs), 28, 2))
    return np.clip(np.concatenate(np.concatenate([imgs, pad], axis=2), axis=1), 0, 1)


def _vector_label(v: np.ndarray) -> str:
    return "[" + " ".join(f"{x:g}" for x in v) + "]"


def _get(evidence, key, default):
    return (evidence or {}).get(key) or default


# ====================================================================== (a) cross-entropy, seed 001


def render_cross_entropy() -> None:
    """Seed 001: categorical cross-entropy term by term, the logit gradient p - y, entropy in bits, CE = H + KL."""
    st.subheader("Cross-entropy, explained")
    st.caption("Seed 001: a 5-class softmax classifier, one example. All losses in nats (natural log, as Keras "
               "reports them) unless marked bits.")
    c1, c2 = st.columns(2)
    label_text = c1.text_input("True label y", "[1 0 0 0 0]", key="q001_label")
    pred_text = c2.text_input("Prediction q (softmax output)", "[0.1 0.5 0.1 0.1 0.2]", key="q001_pred")
    other_text = st.text_input("Compare with another prediction", "[0.1 0.6 0.1 0.1 0.1]", key="q001_other")
    try:
        pair = ex.check_pair(label_text, pred_text)
        other = ex.check_pair(label_text, other_text)
    except ex.ProbabilityInputError as e:
        st.error(f"{e}.")
        pair = other = None
    if pair is not None:
        for note in dict.fromkeys(pair.notes + [f"(comparison) {n}" for n in other.notes]):
            st.info(note)
        y, q = pair.label, pair.prediction
        terms = ex.cross_entropy_terms(y, q)
        loss = float(terms.sum())
        table = pd.DataFrame({"class": np.arange(y.size), "y": y, "q": q, "log q (nats)": np.log(q),
                              "-y·log q (nats)": terms})
        st.markdown(f"**L = −Σ yᵢ log qᵢ = {loss:.4f} nats** ({ex.to_bits(loss):.4f} bits)"
                    + (f" = −log({q[np.argmax(y)]:g})" if pair.one_hot else ""))
        st.dataframe(table, hide_index=True)
        st.caption("One row per class: classes the label gives 0 contribute nothing, whatever the prediction.")

        other_loss = ex.cross_entropy(y, other.prediction)
        same = math.isclose(loss, other_loss, rel_tol=1e-9, abs_tol=1e-12)
        st.markdown(f"Loss for {_vector_label(other.prediction)}: **{other_loss:.4f} nats** — "
                    + ("the same: the loss only looks at the probability of the labelled class."
                       if same else "different."))
        grads = pd.concat([
            pd.DataFrame({"class": np.arange(y.size), "prediction": _vector_label(p),
                          "gradient": ex.logit_gradient(y, p), "q": p})
            for p in (q, other.prediction)], ignore_index=True)
        chart = alt.Chart(grads).mark_bar().encode(
            x=alt.X("class:O", title="class"), xOffset="prediction:N",
            y=alt.Y("gradient:Q", title="∂L/∂logit = q − y (nats per logit unit)"),
            color=alt.Color("prediction:N", legend=alt.Legend(orient="bottom")),
            tooltip=["prediction", "class", alt.Tooltip("q:Q", format=".3f"), alt.Tooltip("gradient:Q", format=".3f")])
        draw_chart(st, chart, width="stretch")
        st.caption("Gradient of the loss with respect to each logit (the softmax's input), q − y, for both predictions "
                   "side by side. Equal losses, different updates: every wrong class is pushed down in proportion "
                   "to the probability it took, the true class pushed up by 1 − q.")

    st.markdown("#### Entropy of n equally likely outcomes")
    n = st.number_input("n outcomes", min_value=1, max_value=10**12, value=8, step=1, key="q001_n")
    bits = ex.uniform_entropy_bits(int(n))
    st.markdown(f"H = log₂ {int(n)} = **{bits:.4g} bits** = {bits * ex.LN2:.4g} nats "
                f"(each outcome has probability 1/{int(n)}; 8 → 3 bits, 1024 → 10 bits).")

    if pair is not None:
        st.markdown("#### Cross-entropy = entropy + KL divergence")
        d = ex.decomposition(pair.label, pair.prediction)
        rows = [{"unit": u, "H(y) entropy": d[u]["entropy"], "KL(y‖q)": d[u]["kl"],
                 "H(y, q) cross-entropy": d[u]["cross_entropy"]} for u in ("nats", "bits")]
        st.dataframe(pd.DataFrame(rows), hide_index=True)
        st.caption("Cross-entropy is the cost of describing y's outcomes with a code built for q; the entropy is "
                   "the unavoidable part (0 for a one-hot label), the KL divergence the part a better q removes. "
                   "It is smallest, equal to the entropy, when q = y.")


# ====================================================================== (b) BCE in an autoencoder, seed 000


def render_bce_autoencoder(evidence: dict | None) -> None:
    """Seed 000: BCE's minimum at p = y (value H(y)); softmax's 1/k ceiling; raw 0-255 targets' missing floor."""
    available = _get(evidence, "available", [])
    st.subheader("Binary cross-entropy in an autoencoder")
    st.caption("Seed 000: 784-128-64-28-64-128-784, ReLU, softmax output, binary_crossentropy, on raw MNIST. "
               "Losses in nats per pixel.")

    st.markdown("#### BCE for one pixel: minimum at p = y, equal to the entropy H(y)")
    y = st.slider("Target pixel value y", 0.0, 1.0, 0.3, 0.01, key="q000_y")
    p = np.linspace(0.005, 0.995, 397)
    p_star, h = ex.bce_minimum(y)
    curve = pd.DataFrame({"p": p, "BCE (nats)": ex.bce_curve(y, p),
                          "dBCE/dp": np.clip(ex.bce_derivative(y, p), -20, 20)})
    base = alt.Chart(curve).encode(x=alt.X("p:Q", title="prediction p"))
    loss_line = base.mark_line().encode(y=alt.Y("BCE (nats):Q"), tooltip=[
        alt.Tooltip("p:Q", format=".3f"), alt.Tooltip("BCE (nats):Q", format=".4f")])
    minimum = alt.Chart(pd.DataFrame({"p": [p_star], "BCE (nats)": [h]})).mark_point(
        size=120, filled=True, color="red").encode(x="p:Q", y="BCE (nats):Q", tooltip=[
            alt.Tooltip("p:Q", title="minimum at p = y", format=".3f"),
            alt.Tooltip("BCE (nats):Q", title="H(y), nats", format=".4f")])
    deriv = base.mark_line(color="orange").encode(y=alt.Y("dBCE/dp:Q", title="dBCE/dp (clipped to ±20)"), tooltip=[
        alt.Tooltip("p:Q", format=".3f"), alt.Tooltip("dBCE/dp:Q", format=".3f")])
    zero = alt.Chart(pd.DataFrame({"zero": [0.0]})).mark_rule(strokeDash=[4, 4]).encode(y="zero:Q")
    c1, c2 = st.columns(2)
    draw_chart(c1, loss_line + minimum, width="stretch")
    c1.caption(f"BCE = −y log p − (1−y) log(1−p) for y = {y:.2f}; red: the minimum at p = y, value "
               f"H(y) = {h:.4f} nats ({ex.to_bits(h):.4f} bits), zero only for y = 0 or 1.")
    draw_chart(c2, deriv + zero, width="stretch")
    c2.caption("Its derivative −y/p + (1−y)/(1−p): negative below p = y, positive above, zero exactly at p = y.")

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
    softmax = _get(evidence, "softmax", [])
    if not softmax:
        st.info("No softmax model in models/ — " + models_link(SOFTMAX_MODELS, available))
    per_image = [s["per_image"] for s in softmax if s.get("per_image") is not None]
    for s in softmax:
        st.markdown(f"**{s['name']}** ({s['scale']} targets): outputs on the [0, 1] scale range "
                    f"{s['output_min']:.2e}–{s['output_max']:.2e}, summing to {s['output_sum_mean']:.4f} per image "
                    f"(final validation BCE {s['final_val_loss']:.4g} nats per pixel, on its own scale).")
        rows = [_image_row(s["probe_outputs"][:10], stretch=False), _image_row(s["probe_outputs"][:10], stretch=True)]
        if s.get("probe_targets") is not None:
            rows.insert(0, _image_row(s["probe_targets"][:10], stretch=False))
        st.image(np.concatenate(rows, axis=0), clamp=True, width="stretch")
        st.caption(("Rows: test digits; " if len(rows) == 3 else "Rows: ") + "the model's reconstructions after the "
                   "last epoch on the true [0, 1] scale (black: every output is tiny); the same reconstructions "
                   "stretched to each image's own min–max (the shape is there, the brightness cannot be).")
    if per_image:
        df = pd.concat(per_image, ignore_index=True)
        df = df[df.lit_pixels > 0]
        pts = alt.Chart(df).mark_circle(size=14, opacity=0.5).encode(
            x=alt.X("lit_pixels:Q", title="lit pixels k in the digit"),
            y=alt.Y("mean_output_on_lit_pixels:Q", scale=alt.Scale(type="log"),
                    title="mean output on lit pixels ([0, 1] scale, log)"),
            color="model:N", tooltip=["model", "lit_pixels", alt.Tooltip("mean_output_on_lit_pixels:Q", format=".2e"),
                                      alt.Tooltip("max_output:Q", format=".2e"),
                                      alt.Tooltip("output_sum:Q", format=".4f")])
        line = alt.Chart(df).mark_line(color="black", strokeDash=[4, 4]).encode(
            x="lit_pixels:Q", y="ceiling_1_over_k:Q", detail="model:N")
        draw_chart(st, pts + line, width="stretch")
        st.caption("Each dot is a test digit: the model's mean output over its lit pixels (target ≈ 1). Dashed: the "
                   "ceiling 1/k (divided by 255 for the raw model, whose outputs are shown on the [0, 1] scale).")
    st.markdown("Models: " + models_link(SOFTMAX_MODELS, available) + ". Compare "
                + models_link(("norm-sigmoid-bce",), available) + " (sigmoid output, normalised pixels).")

    st.markdown("#### Raw 0–255 targets: BCE has no lower bound")
    y_raw = st.select_slider("Raw target y", options=[2, 10, 50, 128, 255], value=255, key="q000_yraw")
    exps = np.linspace(1, 12, 111)
    ps = 1 - 10.0 ** -exps
    floor = float(ex.bce_clipped_floor(y_raw))
    raw = pd.DataFrame({"-log10(1-p)": exps, "p": ps, "BCE (nats)": ex.raw_bce_curve(y_raw, ps)})
    raw_chart = alt.Chart(raw).mark_line().encode(
        x=alt.X("-log10(1-p):Q", title="−log₁₀(1 − p): p → 1 to the right"), y=alt.Y("BCE (nats):Q"),
        tooltip=[alt.Tooltip("p:Q", format=".12f"), alt.Tooltip("BCE (nats):Q", format=".1f")])
    floor_rule = alt.Chart(pd.DataFrame({"floor": [floor]})).mark_rule(color="red", strokeDash=[4, 4]).encode(
        y=alt.Y("floor:Q", title="BCE (nats)"),
        tooltip=[alt.Tooltip("floor:Q", title="Keras clip floor (nats)", format=".1f")])
    c1, c2 = st.columns(2)
    draw_chart(c1, raw_chart + floor_rule, width="stretch")
    c1.caption(f"Unclipped BCE for y = {y_raw}: the derivative −y/p + (1−y)/(1−p) is negative everywhere on (0, 1), "
               f"so the loss falls without limit as p → 1. Red: where Keras' clipping of p to 1 − 1e-7 (float32) "
               f"stops it, {floor:.1f} nats per pixel.")
    raw_ev = _get(evidence, "raw_bce", {})
    curves = raw_ev.get("curves") if isinstance(raw_ev.get("curves"), pd.DataFrame) else pd.DataFrame()
    if curves.empty:
        c2.info("No raw model in models/ — " + models_link(RAW_BCE_MODELS, available))
    else:
        bce_curves = curves[curves.loss == "bce"].melt(
            id_vars=["model", "epoch"], value_vars=["train_loss", "val_loss"], var_name="split",
            value_name="bce").dropna()
        layers = [alt.Chart(bce_curves).mark_line(point=True).encode(
            x=alt.X("epoch:Q", title="epoch (0 = before training)"), y=alt.Y("bce:Q", title="BCE (nats per pixel)"),
            color="model:N", strokeDash="split:N",
            tooltip=["model", "split", "epoch", alt.Tooltip("bce:Q", format=".2f")])]
        if raw_ev.get("floor") is not None:
            layers.append(alt.Chart(pd.DataFrame({"floor": [raw_ev["floor"]]})).mark_rule(
                color="red", strokeDash=[4, 4]).encode(y=alt.Y("floor:Q", title="BCE (nats per pixel)"), tooltip=[
                    alt.Tooltip("floor:Q", title="lowest clipped BCE on these targets", format=".1f")]))
        draw_chart(c2, alt.layer(*layers), width="stretch")
        cap = "The raw BCE models' recorded training and validation loss per epoch (their own 0–255 scale)."
        if raw_ev.get("floor") is not None:
            cap += (f" Red: the lowest BCE Keras' clipping allows on {raw_ev['floor_images']} test digits "
                    f"(mean target {raw_ev['mean_target']:.1f}): {raw_ev['floor']:.1f} nats per pixel — a negative "
                    "'loss' that rewards pushing every output to the clip, not reconstructing.")
        c2.caption(cap)
        last = curves.sort_values("epoch").groupby("model").tail(1)
        st.dataframe(last[["model", "activation", "loss", "epoch", "val_loss", "output_spread", "diverged_epoch"]],
                     hide_index=True, column_config={
                         "output_spread": st.column_config.NumberColumn(format="%.2e"),
                         "val_loss": st.column_config.NumberColumn(format="%.2f")})
        st.caption("Each raw model after its last epoch: validation loss on its own scale, output spread "
                   f"(std of outputs across digits / std of inputs; below {LOW_INPUT_SPREAD} the outputs vary far "
                   "less than the inputs).")
    st.markdown("Models: " + models_link(RAW_BCE_MODELS + RAW_OTHER_MODELS, available) + "; the fix, normalised: "
                + models_link(("norm-sigmoid-bce", "norm-sigmoid-mse", "norm-linear-mae"), available) + ".")


# ====================================================================== (c) CE against MSE, seed 002


def render_ce_vs_mse(evidence: dict | None) -> None:
    """Seed 002: shifted BCE vs MSE vs MAE around a target, beside the seed-002 models trained with plain SGD."""
    available = _get(evidence, "available", [])
    st.subheader("Cross-entropy against MSE around a target")
    st.caption("Seed 002: 784-100-50-100-784, sigmoid everywhere, inputs in [0, 1]: with cross-entropy 'the output "
               "was always a blob' and the first-layer weights went to zero; MSE worked.")
    target = st.slider("Target pixel value", 0.05, 0.95, 0.8, 0.01, key="q002_target")
    p = np.linspace(0.01, 0.99, 197)
    curves = pd.DataFrame({"p": p, "BCE − H(y) (nats)": ex.shifted_bce(target, p),
                           "MSE": ex.squared_error(target, p), "MAE": ex.absolute_error(target, p)})
    long = curves.melt(id_vars="p", var_name="loss", value_name="value")
    left, right = max(target - 0.1, 0.01), min(target + 0.1, 0.99)
    marks = pd.DataFrame(ex.loss_table(target, [left, right])).rename(columns={
        "shifted_bce": "BCE − H(y) (nats)", "mse": "MSE", "mae": "MAE"})
    marks_long = marks.melt(id_vars="prediction", var_name="loss", value_name="value").rename(
        columns={"prediction": "p"})
    chart = alt.Chart(long).mark_line().encode(
        x=alt.X("p:Q", title="prediction p"), y=alt.Y("value:Q", title="loss (minimum 0)"), color="loss:N",
        tooltip=["loss", alt.Tooltip("p:Q", format=".2f"), alt.Tooltip("value:Q", format=".4f")])
    pts = alt.Chart(marks_long).mark_point(size=90, filled=True).encode(
        x="p:Q", y="value:Q", color="loss:N", tooltip=["loss", alt.Tooltip("p:Q", format=".2f"),
                                                       alt.Tooltip("value:Q", format=".4f")])
    rule = alt.Chart(pd.DataFrame({"target": [target]})).mark_rule(strokeDash=[4, 4]).encode(x="target:Q")
    c1, c2 = st.columns([3, 2])
    draw_chart(c1, chart + pts + rule, width="stretch")
    c1.caption(f"Per-pixel losses for target {target:.2f}: BCE shifted down by its minimum H(y) = "
               f"{float(binary_entropy(target)):.4f} nats (what is left is the KL divergence), squared error and "
               "absolute error (pixel units). Dots: one step of 0.1 either side.")
    c2.dataframe(marks.set_index("prediction").T.rename(columns=lambda v: f"p = {v:.2f}"), column_config={
        c: st.column_config.NumberColumn(format="%.4f") for c in (f"p = {left:.2f}", f"p = {right:.2f}")})
    b_left, b_right = marks["BCE − H(y) (nats)"]
    worse = "above" if b_right > b_left else "below"
    c2.markdown(f"Shifted BCE at {right:.2f} is **{b_right / b_left:.2f}×** its value at {left:.2f}: being "
                f"{worse} the target costs more, while MSE and MAE give both sides the same value.")

    st.markdown("#### The seed-002 models (plain SGD, lr 0.1)")
    s002 = _get(evidence, "s002", {})
    runs = s002.get("runs") or []
    if not runs:
        st.info("No seed-002 model in models/ — " + models_link(S002_MODELS, available))
    else:
        frame = pd.concat([r["frame"] for r in runs], ignore_index=True)
        metric_names = {"output_spread": "output spread (1 = follows input)",
                        "first_layer_fro_norm": "first-layer weight norm ‖W₁‖_F"}
        cols = st.columns(2)
        for col, (metric, title) in zip(cols, metric_names.items(), strict=True):
            ch = alt.Chart(frame).mark_line(point=True).encode(
                x=alt.X("epoch:Q", title="epoch (0 = before training)"),
                y=alt.Y(f"{metric}:Q", title=title, scale=alt.Scale(zero=metric == "first_layer_fro_norm")),
                color="model:N", tooltip=["model", "epoch", alt.Tooltip(f"{metric}:Q", format=".4f"),
                                          alt.Tooltip("val_mse:Q", format=".4f")])
            if metric == "output_spread":
                ch = ch + alt.Chart(pd.DataFrame({"b": [LOW_INPUT_SPREAD]})).mark_rule(
                    color="red", strokeDash=[4, 4]).encode(y="b:Q")
            draw_chart(col, ch, width="stretch")
        cols[0].caption("Output spread per epoch: std of the outputs across probe digits / std of the inputs, "
                        f"averaged over pixels. Red: {LOW_INPUT_SPREAD}, below which the outputs vary far less "
                        "than the inputs (a blob's sign).")
        cols[1].caption("Frobenius norm of the 784→100 weight matrix per epoch, axis from 0: a collapse to a zero "
                        "matrix would fall to the axis.")
        max_epoch = int(frame.epoch.max())
        epoch = st.slider("Reconstructions after epoch", 0, max_epoch, max_epoch, key="q002_epoch")
        for r in runs:
            st.markdown(f"**{r['name']}** ({r['loss']}, {r['optimizer']})")
            outputs = probe_outputs(r["probes"], min(epoch, probe_epochs(r["probes"]) - 1))
            rows = [_image_row(outputs[:10], stretch=False)]
            if r.get("probe_targets") is not None:
                rows.insert(0, _image_row(r["probe_targets"][:10], stretch=False))
            st.image(np.concatenate(rows, axis=0), clamp=True, width="stretch")
            st.caption(("Top: test digits; bottom: " if len(rows) == 2 else "")
                       + f"reconstructions after epoch {epoch}, on the true [0, 1] scale (not stretched).")
            for line in r["reading"]["text"]:
                st.markdown("- " + line)
        st.markdown("**Reading.** " + _s002_summary(runs, s002.get("contrast") or []))
    st.markdown("Models: " + models_link(S002_MODELS, available) + "; the same losses with Adam: "
                + models_link(ADAM_CONTRAST, available) + ".")


def _s002_summary(runs: list[dict], contrast: list[dict]) -> str:
    """What the seed-002 records say about the asker's explanation, worded from the computed readings."""
    by_loss = {r["loss"]: r["reading"] for r in runs}
    parts = []
    zero = [r["name"] for r in runs if r["reading"]["weights_went_to_zero"]]
    parts.append("First-layer weights went to zero in " + ", ".join(zero) + "." if zero
                 else "In neither run did the first-layer weights go to zero: their norm barely moved from its "
                      "initial value.")
    blobs = [r["name"] for r in runs if r["reading"]["kind"] == "blob"]
    if len(blobs) == len(runs) and len(runs) > 1:
        parts.append("Both the cross-entropy and the MSE model ended as blobs, so the loss alone does not explain "
                     "the blob here; with sigmoid hidden layers and plain SGD neither learns within these epochs.")
    elif blobs:
        parts.append(f"Only {', '.join(blobs)} ended as a blob, as the asker saw.")
    else:
        parts.append("Neither model ended as a blob.")
    if "bce" in by_loss and "mse" in by_loss:
        b, m = by_loss["bce"], by_loss["mse"]
        parts.append(f"Final output spread: BCE {b['spread_last']:.4f}, MSE {m['spread_last']:.4f}; validation MSE: "
                     f"BCE {b['val_mse_last']:.4f}, MSE {m['val_mse_last']:.4f} per pixel.")
        if b["spread_last"] < m["spread_last"]:
            parts.append(f"The BCE run's outputs vary {m['spread_last'] / max(b['spread_last'], 1e-12):.1f}× less "
                         "than the MSE run's: cross-entropy blobs harder here, but both blob.")
    learned = [c for c in contrast if c["kind"] != "blob"]
    if learned:
        parts.append("With Adam, " + ", ".join(f"{c['name']} ({c['arch']}: spread {c['spread_last']:.2f}, val MSE "
                                               f"{c['val_mse_last']:.4f})" for c in learned)
                     + " reconstruct with the same two losses.")
        s002_arch = {c["arch"] for c in contrast if c["name"].startswith("s002-")}
        if blobs and any(c["arch"] in s002_arch for c in learned):
            parts.append("On seed 002's own net only the optimizer differs from the SGD runs, so here the "
                         "optimizer, not the loss, decides whether the model blobs.")
    return " ".join(parts)


__all__ = ["questions_evidence", "cached_evidence", "render_cross_entropy", "render_bce_autoencoder",
           "render_ce_vs_mse", "show_cross_entropy", "show_bce_autoencoder", "show_ce_vs_mse", "models_link",
           "history_frame", "s002_reading"]
