"""The sidebar's legend: one line per model (what it is, its verdict) and a glossary every table links to."""

from __future__ import annotations

import streamlit as st

from ..evaluation.analysis import Results
from ..maths.diagnostics import verdict
from ..registry import Experiment
from ..store.catalog import Catalog

GLOSSARY_ANCHOR = "glossary"
GLOSSARY = {
    "MSE": "mean squared error per pixel, on the [0, 1] scale (raw models' outputs divided by 255).",
    "MAE": "mean absolute error per pixel, [0, 1] scale.",
    "BCE": "binary cross-entropy per pixel, −y log p − (1 − y) log(1 − p), in nats; p clipped to "
           "[1e-7, 1 − 1e-7] as Keras does. Its floor is H(y), not 0, unless targets are exactly 0 or 1.",
    "excess BCE": "BCE − H(y), the KL divergence: the part of BCE a model can still remove (0 when p = y).",
    "CB NLL": "the continuous Bernoulli's negative log-likelihood, BCE − log C(λ): the proper likelihood of grey "
              "targets; a density, so it can be below 0. A CB model is read through its mean E[x | λ].",
    "PSNR": "peak signal-to-noise ratio per image in dB, data range 1, outputs clipped to [0, 1]; higher is better.",
    "SSIM": "structural similarity per image (scikit-image's definition: 7×7 window, data range 1); 1 = identical.",
    "SSE per image": "squared error summed over an image's 784 pixels: Hinton & Salakhutdinov's unit (PCA-30: 13.87).",
    "probe accuracy": "test accuracy of a logistic regression on the bottleneck codes (chance ≈ 0.11 on MNIST, "
                      "0.10 on Fashion-MNIST): does the code keep the classes apart, whatever the reconstructions "
                      "look like?",
    "own loss": "the model's training loss on its own scale (raw models: 0-255): not comparable across losses.",
    "grey pixels": "target pixels strictly between 0.1 and 0.9 (MNIST: 9% of test pixels, the strokes' edges); "
                   "_grey and _rest columns pool the error over them and over the rest.",
    "relative spread": "how much each output pixel varies across images, over the outputs' typical size: ~0.7 "
                       "when outputs follow the inputs, ~0 for a blob, whatever the outputs' scale.",
}
VERDICT_BADGES = {"healthy": "🟢 healthy", "blob": "🔴 blob", "right shape, wrong scale": "🟠 right shape, wrong scale",
                  "many dead units": "🟠 many dead units", "diverged": "🔴 diverged"}


def model_line(exp: Experiment, seeds: int, verdict: str | None) -> str:
    """One line saying what a model is: net, activations, loss, pixel scale, optimizer, epochs, seeds, verdict."""
    badge = VERDICT_BADGES.get(verdict, "⚪ not judged") if verdict else "⚪ not judged"
    return (f"**{exp.name}** — {exp.arch.label} net, {exp.arch.hidden_activation} hidden, {exp.activation} output, "
            f"{exp.loss.upper()} loss, {'raw 0-255' if exp.scale == 'raw' else '[0, 1]'} pixels, "
            f"{exp.optimizer.name} (lr {exp.optimizer.learning_rate:g}), {exp.epochs} epochs, "
            f"{seeds} seed{'s' if seeds != 1 else ''}, {exp.dataset}; {badge}")


def model_verdict(run, results: Results | None) -> str | None:
    """The run's verdict from the stored results' output statistics (None without them)."""
    stats = results.output_stats(run.name, run.seed) if results is not None else None
    hidden = (run.history.get("epochs") or [{}])[-1].get("layers", [])[:-1]
    return verdict(run.history.get("diverged_epoch"), stats, hidden)[0] if stats else None


def model_lines(catalog: Catalog, results: Results | None) -> list[str]:
    """`model_line` of every model in the catalog (verdicts from `results` when given)."""
    return [model_line(run.exp, len(catalog.by_name(run.name)), model_verdict(run, results))
            for run in catalog.first_seeds()]


def render(lines: list[str]) -> None:
    """The sidebar's legend (`model_lines`) and the glossary."""
    sb = st.sidebar
    with sb.expander("The models", expanded=False):
        st.markdown("\n\n".join(lines))
        st.caption("Verdicts: Weight collapse tab (rule there), from each model's outputs over the test images.")
    sb.subheader("Glossary", anchor=GLOSSARY_ANCHOR)
    sb.markdown("\n".join(f"- **{term}**: {text}" for term, text in GLOSSARY.items()))


GLOSSARY_LINK = f"Terms: [glossary](#{GLOSSARY_ANCHOR}) (in the sidebar)."
