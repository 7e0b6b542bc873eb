"""Findings: what the trained models answer, each with a picture and a link to the view that proves it."""

from __future__ import annotations

import base64
import html
from urllib.parse import urlencode

import numpy as np
import streamlit as st

from ..evaluation.answers import Finding, figures_frame, findings
from ..evaluation.records import probe_outputs
from . import loaders
from .common import Context, need_test_set
from .images import png_bytes, strip

PICTURE_ZOOM = 2


def evidence_link(finding: Finding) -> str:
    """A same-tab link to the dashboard with the finding's view state in the URL (a fresh page: the view
    opens exactly as stated)."""
    return (f'<a href="?{html.escape(urlencode(finding.evidence))}" data-testid="evidence-link" '
            f'data-finding="{finding.key}">See the evidence →</a>')


def picture(ctx: Context, finding: Finding) -> tuple[np.ndarray, str] | None:
    """One digit per class: the inputs, then each illustrating model's reconstruction after its last epoch."""
    runs = ctx.catalog.first_seeds(finding.models)
    runs = [r for r in runs if r.probes is not None]
    if not runs or ctx.test is None:
        return None
    index = runs[0].probes["index"][::2]  # the probe digits hold two per class
    rows = [strip(ctx.images(index, runs[0].exp.dataset), PICTURE_ZOOM)]
    rows += [strip(probe_outputs(r.probes)[::2], PICTURE_ZOOM, stretch=ctx.state.stretch) for r in runs]
    image = np.concatenate([np.pad(r, ((0, 4), (0, 0)), constant_values=255) for r in rows])
    caption = "rows: input, " + ", ".join(r.name for r in runs) + " (last epoch" + \
        (", each stretched to its own range)" if ctx.state.stretch else ", clipped to 0-1)")
    return image, caption


def card(finding: Finding, picture_png: bytes | None, caption: str) -> str:
    """One finding as a bordered HTML card: title, statement and evidence link, and beside them (below them on a
    narrow screen) its picture with a PNG download link. Everything shown is escaped: statements are plain text."""
    mark = "" if finding.holds else " — not supported by these models"
    figure = ""
    if picture_png is not None:
        src = "data:image/png;base64," + base64.b64encode(picture_png).decode()
        figure = (f'<div style="flex:2 1 280px;text-align:center"><img src="{src}" alt="{html.escape(caption)}" '
                  f'style="max-width:100%"><div style="font-size:0.8rem;opacity:0.7">{html.escape(caption)}</div>'
                  f'<a data-picture download="aecompare-finding-{finding.key}.png">Download the picture (PNG)</a>'
                  "</div>")
    return (f'<div style="display:flex;flex-wrap:wrap;gap:1rem 1.5rem;border:1px solid rgba(49,51,63,0.2);'
            f'border-radius:0.5rem;padding:1rem;margin-bottom:1rem"><div style="flex:3 1 360px">'
            f"<p><strong>{html.escape(finding.title)}</strong>{mark}</p><p>{html.escape(finding.statement)}</p>"
            f"<p>{evidence_link(finding)}</p></div>{figure}</div>")


# st.html's sanitizer drops a link whose address is a data: URI, so each download link takes its card's picture
# once the cards are in the page.
PICTURE_LINKS_JS = ("<script>document.querySelectorAll('a[data-picture]').forEach((a) => "
                    "{ a.href = a.parentElement.querySelector('img').src; });</script>")


@st.cache_data(show_spinner=False, max_entries=16)
def drawn(models_dir: str, dataset: str, stretch: bool, _ctx: Context) -> tuple[list[str], str]:
    """Every finding as a `card` and every finding's figures as CSV, once per dataset and display in this
    process."""
    found = findings(loaders.results(models_dir), loaders.mean_lit_pixels(dataset))
    cards = []
    for finding in found:
        shown = picture(_ctx, finding)
        cards.append(card(finding, None, "") if shown is None else card(finding, png_bytes(shown[0]), shown[1]))
    return cards, figures_frame(found).to_csv(index=False)


def show(ctx: Context) -> None:
    st.subheader("Findings")
    st.caption("What the trained models answer to the three questions. Every figure below is read from the "
               "evaluation results of the models in this folder (a model's figure is the mean over its seeds), and "
               "every claim is checked on them: a claim the models no longer support says so. Each links to the "
               "view that shows the evidence.")
    if need_test_set(ctx) or ctx.results() is None:
        return
    cards, figures_csv = drawn(ctx.models_dir, ctx.state.dataset, ctx.state.stretch, ctx)
    # One element for all the cards: as columns, images and download buttons (or a markdown element each) they
    # cost the browser several times as long to draw, and markdown with HTML loads a parser of its own.
    st.html("".join(cards) + PICTURE_LINKS_JS, unsafe_allow_javascript=True)
    st.download_button("Download every finding's figures (CSV)", figures_csv, file_name="aecompare-findings.csv",
                       mime="text/csv")
