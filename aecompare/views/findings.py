"""Findings: what the trained models answer, each with a picture and a link to the view that proves it."""

from __future__ import annotations

from urllib.parse import urlencode

import numpy as np
import streamlit as st

from ..findings import Finding, figures_frame, findings
from ..images import png_bytes, strip
from ..records import probe_outputs
from . import loaders
from .common import Context, need_test_set

PICTURE_ZOOM = 2


def evidence_link(finding: Finding) -> str:
    """A same-tab link to the dashboard with the finding's view state in the URL (a fresh page: the view
    opens exactly as stated)."""
    return (f'<a href="?{urlencode(finding.evidence)}" target="_self" data-testid="evidence-link" '
            f'data-finding="{finding.key}">See the evidence →</a>')


def picture(ctx: Context, finding: Finding) -> tuple[np.ndarray, str] | None:
    """One digit per class: the inputs, then each illustrating model's reconstruction after its last epoch."""
    runs = [ctx.catalog.by_name(n)[0] for n in finding.models if ctx.catalog.by_name(n)]
    runs = [r for r in runs if r.probes is not None]
    if not runs or ctx.test is None:
        return None
    index = runs[0].probes["index"][::2]  # the probe digits hold two per class
    rows = [strip(ctx.images(index), PICTURE_ZOOM)]
    rows += [strip(probe_outputs(r.probes)[::2], PICTURE_ZOOM, stretch=ctx.state.stretch) for r in runs]
    image = np.concatenate([np.pad(r, ((0, 4), (0, 0)), constant_values=255) for r in rows])
    caption = "rows: input, " + ", ".join(r.name for r in runs) + " (last epoch" + \
        (", each stretched to its own range)" if ctx.state.stretch else ", clipped to 0-1)")
    return image, caption


@st.cache_data(show_spinner=False, max_entries=16)
def drawn(models_dir: str, dataset: str, stretch: bool, _ctx: Context) -> tuple[list, str]:
    """The findings with their pictures (PNG bytes and caption, or None) and every figure as CSV, once per dataset
    and display in this process."""
    found = findings(loaders.results(models_dir), loaders.mean_lit_pixels(dataset))
    pictures = [picture(_ctx, f) for f in found]
    return ([(f, None if p is None else (png_bytes(p[0]), p[1])) for f, p in zip(found, pictures)],
            figures_frame(found).to_csv(index=False))


def show(ctx: Context) -> None:
    st.subheader("Findings")
    st.caption("What the trained models answer to the three questions. Every figure below is read from the "
               "evaluation results of the models in this folder (a model's figure is the mean over its seeds), and "
               "every claim is checked on them: a claim the models no longer support says so. Each links to the "
               "view that shows the evidence.")
    if need_test_set(ctx) or ctx.results() is None:
        return
    found, figures_csv = drawn(ctx.models_dir, ctx.state.dataset, ctx.state.stretch, ctx)
    for finding, shown in found:
        with st.container(border=True):
            mark = "" if finding.holds else " — not supported by these models"
            text, image = st.columns([3, 2])
            text.markdown(f"**{finding.title}**{mark}\n\n{finding.statement}\n\n{evidence_link(finding)}",
                          unsafe_allow_html=True)  # one element: the link is ours, the statement plain markdown
            if shown is not None:
                image.image(shown[0], caption=shown[1])
                image.download_button("PNG", shown[0], file_name=f"aecompare-finding-{finding.key}.png",
                                      mime="image/png", key=f"finding_png_{finding.key}")
    st.download_button("Download every finding's figures (CSV)", figures_csv, file_name="aecompare-findings.csv",
                       mime="text/csv")
