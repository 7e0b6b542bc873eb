"""Q2 · Cross-entropy explained (Q2): the loss term by term, the logit gradient q − y, entropy in bits."""

from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd
import streamlit as st

from ..maths import explain as ex
from .common import cached_spec


def _vector_label(v: np.ndarray) -> str:
    return "[" + " ".join(f"{x:g}" for x in v) + "]"


@cached_spec
def gradient_chart(label: tuple[float, ...], *predictions: tuple[float, ...]) -> alt.Chart:
    """∂L/∂logit = q − y per class for each prediction q of the one label y, bars side by side."""
    y = np.array(label)
    grads = pd.concat([
        pd.DataFrame({"class": np.arange(y.size), "prediction": _vector_label(np.array(p)),
                      "gradient": ex.logit_gradient(y, np.array(p)), "q": p})
        for p in predictions], ignore_index=True)
    return alt.Chart(grads).mark_bar().encode(
        x=alt.X("class:O", title="class"), xOffset="prediction:N",
        y=alt.Y("gradient:Q", title="∂L/∂logit = q − y (nats per logit unit)"),
        color=alt.Color("prediction:N", legend=alt.Legend(orient="bottom")),
        tooltip=["prediction", "class", alt.Tooltip("q:Q", format=".3f"), alt.Tooltip("gradient:Q", format=".3f")])


def render_cross_entropy() -> None:
    """Q2: categorical cross-entropy term by term, the logit gradient p - y, entropy in bits, CE = H + KL."""
    st.subheader("Cross-entropy, explained")
    st.caption("The asker's example: a 5-class softmax classifier, one example. All losses in nats (natural log, "
               "as Keras reports them) unless marked bits.")
    c1, c2 = st.columns(2)
    label_text = c1.text_input("True label y", "[1 0 0 0 0]", key="q2_label")
    pred_text = c2.text_input("Prediction q (softmax output)", "[0.1 0.5 0.1 0.1 0.2]", key="q2_pred")
    other_text = st.text_input("Compare with another prediction", "[0.1 0.6 0.1 0.1 0.1]", key="q2_other")
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
        st.vega_lite_chart(gradient_chart(tuple(y), tuple(q), tuple(other.prediction)), width="stretch")
        st.caption("Gradient of the loss with respect to each logit (the softmax's input), q − y, for both predictions "
                   "side by side. Equal losses, different updates: every wrong class is pushed down in proportion "
                   "to the probability it took, the true class pushed up by 1 − q.")

    _entropy_sections(pair)


def _entropy_sections(pair) -> None:
    st.markdown("#### Entropy of n equally likely outcomes")
    n = st.number_input("n outcomes", min_value=1, max_value=10**12, value=8, step=1, key="q2_n")
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


def show(ctx=None) -> None:
    """The tab (the dashboard's Context is not needed: this is math only)."""
    render_cross_entropy()
