"""What every tab gets: the chosen runs, the test images and the chosen digits (plain data)."""

from __future__ import annotations

import base64
import functools
import html
import os
from dataclasses import dataclass

import numpy as np
import streamlit as st

from ..data import DATASETS, Spec, TestSet, unit_images
from ..evaluation.analysis import Results
from ..registry import name_order
from ..store.catalog import Catalog, Run
from . import loaders
from .images import png_bytes, side_by_side, upscale
from .state import ViewState, bound_choice_warning


@dataclass(frozen=True)
class Context:
    models_dir: str
    catalog: Catalog
    runs: list[Run]  # the chosen models, one run each (lowest seed), in catalog order
    test: TestSet | None  # the dataset's test images, uint8
    indices: np.ndarray  # chosen test indices
    state: ViewState

    def images(self, index, dataset: str | None = None) -> np.ndarray:
        """Test images `index` (an array of indices) of the chosen dataset, or of `dataset` (the Findings and the
        CB pairs show runs of a set dataset), as float32 (k, 784) on [0, 1], converted when asked: the whole set
        as floats would be 31 MB per dataset held for a handful of digits."""
        test = self.test
        if dataset not in (None, self.state.dataset):
            test, _ = loaders.test_set(dataset)
        return unit_images(test.x[np.asarray(index)]) if test is not None else np.zeros((0, 784), np.float32)

    @property
    def inputs(self) -> np.ndarray:
        """The chosen digits, (n, 784) on [0, 1]."""
        return self.images(self.indices)

    @property
    def labels(self) -> np.ndarray:
        return self.test.y[self.indices] if self.test is not None else np.zeros(0, int)

    @property
    def dataset(self) -> Spec:
        """The chosen dataset: its title, its class names and the words the page uses for its images."""
        return DATASETS[self.state.dataset]

    @property
    def captions(self) -> list[str]:
        """One caption per chosen test image: its index and what its label stands for ("#7 · Sneaker")."""
        return [f"#{i} · {self.dataset.classes[y]}" for i, y in zip(self.indices, self.labels, strict=False)]

    @property
    def choice(self) -> tuple:
        """What the visitor chose, hashable: the key under which a tab caches what it draws for that choice (so a
        tab switch or a second visitor with the same choice costs a lookup, not a redraw)."""
        s = self.state
        return (self.models_dir, s.dataset, tuple(r.name for r in self.runs), tuple(int(i) for i in self.indices),
                s.zoom, s.stretch, s.cb_lambda)

    def results(self) -> Results | None:
        """The test-set figures of every run: stored, or computed live once if not fresh (`loaders.results`)."""
        return loaders.results(self.models_dir)


def section(key: str, sections: tuple[str, ...]) -> str:
    """Which of a long tab's sections to draw (the first by default), picked with a segmented control and kept in
    the URL as `key`. One section at a time: a tab drawing all its charts at once kept the visitor waiting about
    a second; one section draws in a few tenths."""
    warn_bad_url_choice(key, sections)
    picked = st.segmented_control("Section", sections, default=sections[0], required=True, key=key,
                                  bind="query-params", label_visibility="collapsed")
    return picked if picked in sections else sections[0]  # an empty URL value (`losses=`) leaves it unpicked


def warn_bad_url_choice(key: str, options: tuple[str, ...]) -> None:
    """A warning when the URL's `key` (a choice Streamlit keeps in the URL itself) is none of `options`, which
    Streamlit passes over without a word; the value leaves the URL, so the next rerun does not warn again."""
    message = bound_choice_warning(key, st.query_params.get(key), options)
    if message:
        st.warning(message)
        del st.query_params[key]


def no_models_note(runs) -> bool:
    """Say so when no model is chosen; True if there is nothing to show."""
    if not runs:
        st.info("No model chosen: pick one or more in the sidebar (Models).")
        return True
    return False


def need_test_set(ctx: Context) -> bool:
    if ctx.test is None:
        st.info("This view needs the test images, which could not be loaded (see the message above).")
        return True
    return False


def chart_data(df) -> dict:
    """A DataFrame as inline Vega-Lite values, for an Altair chart.

    A plain dict, not `alt.Data(values=...)`: Altair's classes check every record on construction
    (0.7 s for a 10,000-row frame), and that check is `chart_spec`'s job.
    """
    import pandas as pd

    clean = df.astype(object).where(pd.notna(df), None)
    return {"values": clean.to_dict("records")}


COMPOSITIONS = {"facet", "repeat", "concat", "hconcat", "vconcat"}  # Streamlit sizes these itself ("pad")


def chart_spec(chart) -> dict:
    """An Altair chart's Vega-Lite spec, its datasets already in the Arrow form Streamlit sends (which it would
    otherwise convert on every rerun: 10-30 ms per dataset). Altair's schema validation is skipped (it costs up to
    a second of CPU per big chart) unless AECOMPARE_VALIDATE_CHARTS is set, as the tests do.

    A single or layered chart fits the page's width, and its stated height is its plot's: Streamlit's default
    squeezes the whole chart, title and axes too, into that height, and cut a legend of a dozen models off."""
    from streamlit.dataframe_util import convert_anything_to_arrow_bytes  # what st.vega_lite_chart itself calls

    spec = chart.to_dict(validate=bool(os.environ.get("AECOMPARE_VALIDATE_CHARTS")))
    if not COMPOSITIONS & spec.keys():
        spec.setdefault("autosize", {"type": "fit-x", "contains": "padding"})
    if "datasets" in spec:
        spec["datasets"] = {name: convert_anything_to_arrow_bytes(rows) for name, rows in spec["datasets"].items()}
    return spec


# Vega's "tableau20": its ten strong colours first, in "tableau10"'s order, then their light partners. Streamlit's
# own palette has ten colours, so a chart of the dozen or more MNIST models drew two models alike.
MODEL_COLOURS = ("#4c78a8", "#f58518", "#e45756", "#439894", "#54a24b", "#b79a20", "#b279a2", "#d67195", "#9e765f",
                 "#79706e", "#9ecae9", "#ffbf79", "#ff9d98", "#83bcb6", "#88d27a", "#f2cf5b", "#d6a5c9", "#fcbfd2",
                 "#d8b5a5", "#bab0ac")


def in_registry_order(names) -> list[str]:
    """Model names without repeats, in the registry's order (`registry.name_order`)."""
    return sorted(dict.fromkeys(names), key=name_order)


def model_colour(names, field: str = "model", **kwargs):
    """An Altair colour encoding by model (`field`): `names` in their order, in the legend and in `MODEL_COLOURS`
    (charts of the same models colour each alike; up to 20 models, no two the same)."""
    import altair as alt

    names = list(names)
    colours = [MODEL_COLOURS[i % len(MODEL_COLOURS)] for i in range(len(names))]
    return alt.Color(f"{field}:N", scale=alt.Scale(domain=names, range=colours), **kwargs)


def cached_spec(build):
    """Decorator for a function that builds an Altair chart: it returns the chart's `chart_spec` instead, built
    once per distinct arguments in this process and shared by every visitor (building a chart costs 20-100 ms
    of CPU, on every rerun of the tab that draws it)."""
    @st.cache_data(show_spinner=False, max_entries=256)
    @functools.wraps(build)
    def spec(*args, **kwargs) -> dict:
        return chart_spec(build(*args, **kwargs))

    return spec


@st.cache_data(show_spinner=False, max_entries=1024)
def _png(image: np.ndarray) -> bytes:
    return png_bytes(image)


def show_image(target, image: np.ndarray, **kwargs) -> None:
    """`target.image(image, **kwargs)` (target: `st` or a column) of a uint8 image, PNG-encoded once per process
    (Streamlit encodes an array on every rerun: a few ms per image, dozens of images per tab)."""
    target.image(_png(np.asarray(image, np.uint8)), **kwargs)


NOT_APPLICABLE = "—"  # a table's missing value: a figure a row does not have (a baseline's seed, an unquoted figure)


def show_table(df, **kwargs) -> None:
    """`st.dataframe` (sortable) of `df`, its missing values shown as a dash, not Streamlit's "None"."""
    st.dataframe(df, **{"placeholder": NOT_APPLICABLE, **kwargs})


GRID_PX = 1000  # the main area's width on a laptop screen in the wide layout, sidebar open (approximate)
FIGURE_GAP = 16  # px between figures (`figure_html`'s right margin)
MAX_PER_ROW = 12


def download_name(kind: str, models, digits) -> str:
    """A file name that says what a download shows: aecompare-<kind>-<models>-digits-<indices>.png."""
    models, digits = list(models), [int(d) for d in digits]
    named = "+".join(models) if len(models) <= 4 else f"{len(models)}-models"
    shown = "-".join(map(str, digits[:10])) + (f"-and-{len(digits) - 10}-more" if len(digits) > 10 else "")
    return f"aecompare-{kind}-{named}-digits-{shown}.png"


Figure = tuple[str, np.ndarray, str]  # (title, uint8 image, caption)


def figure_html(title: str, image: np.ndarray, caption: str, width: int, title_lines: int = 3) -> str:
    """One image as an HTML <figure>: a bold title (`title_lines` high, so the images of a row start at the same
    height whatever the titles' lengths), the PNG inline, a small caption; shown `width` pixels wide. The browser
    enlarges the image's own pixels (nearest neighbour): a digit is sent as 28x28, not as its enlarged copy."""
    src = "data:image/png;base64," + base64.b64encode(png_bytes(np.asarray(image, np.uint8))).decode()
    return (f'<figure style="margin:0 {FIGURE_GAP}px 12px 0;width:{width}px;flex:none">'
            f'<figcaption style="height:{1.3 * title_lines:.1f}em;display:flex;align-items:flex-end;font-weight:600;'
            f'font-size:0.85rem;line-height:1.3;overflow-wrap:anywhere">{html.escape(title)}</figcaption>'
            f'<img src="{src}" width="{width}" alt="{html.escape(title)}" '
            'style="display:block;max-width:100%;image-rendering:pixelated">'
            f'<figcaption style="font-size:0.8rem;opacity:0.7;overflow-wrap:anywhere">{html.escape(caption)}'
            f'</figcaption></figure>')


def figures_html(rows: list[list[tuple[str, np.ndarray, str, int]]], title_lines: int = 3) -> str:
    """Rows of figures (title, image, caption, width) as one HTML block; a row wraps on a narrow screen.

    Drawn as one `st.html` element: as dozens of `st.columns`, `st.markdown` and `st.image` elements the same
    grid costs the browser half a second or more to draw."""
    return "".join('<div style="display:flex;flex-wrap:wrap;align-items:flex-start">'
                   + "".join(figure_html(*figure, title_lines) for figure in row) + "</div>" for row in rows)


@dataclass(frozen=True)
class Grid:
    """An image grid ready to draw: its HTML and the whole grid as one PNG (columns side by side), to download."""

    html: str
    png: bytes | None


def image_grid(lead: Figure, columns: list[Figure], zoom: int) -> Grid:
    """Image columns (title, image, caption), as many per row as fit, `lead` (the input) first in every row;
    images enlarged `zoom` times. On a narrow screen a row wraps, input first."""
    lead_width, width = lead[1].shape[1] * zoom, max([c[1].shape[1] for c in columns] + [1]) * zoom
    per_row = max(1, min(MAX_PER_ROW, (GRID_PX - lead_width - FIGURE_GAP) // (width + FIGURE_GAP)))
    rows = [[(*lead, lead_width)] + [(*c, c[1].shape[1] * zoom) for c in columns[start:start + per_row]]
            for start in range(0, max(len(columns), 1), per_row)]
    png = png_bytes(upscale(side_by_side([lead[1], *(c[1] for c in columns)], gap=3), zoom)) if columns else None
    return Grid(figures_html(rows), png)


def show_grid(grid: Grid, download: str | None = None) -> None:
    """Draw an `image_grid`, with a button offering it as one PNG named `download` (if given)."""
    st.html(grid.html)
    if grid.png is not None and download:
        st.download_button("Download this grid (PNG)", grid.png, file_name=download, mime="image/png",
                           key=f"png_{download}")


def value_range(x: np.ndarray) -> tuple[float, float]:
    return float(np.min(x)), float(np.max(x))


def scale_note(run: Run, outputs_unit: np.ndarray, raw_output: bool = False) -> str:
    """One line saying how a model's outputs are displayed and their actual range."""
    lo, hi = value_range(outputs_unit)
    if run.reads_mean:
        shown = "λ itself (the sigmoid output)" if raw_output else "its mean E[x | λ] (λ: 'show λ' in the sidebar)"
        return f"continuous Bernoulli model, shown through {shown}: range {lo:.4g}..{hi:.4g} on 0-1"
    own = f"{lo * run.scale:.4g}..{hi * run.scale:.4g}"
    if run.exp.activation == "softmax":
        return (f"softmax outputs (sum to 1 over 784 pixels): actual range {own} on its own "
                f"{'0-255' if run.exp.scale == 'raw' else '0-1'} scale")
    if run.exp.scale == "raw":
        return f"raw-scale outputs {own}, shown on the input's 0-255 display, clipped"
    return f"outputs {own} on 0-1, shown clipped to 0-1"


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


def evidence_part(evidence: dict | None, key: str, default):
    """One part of `aecompare.evaluation.evidence.questions_evidence`, or `default` when absent or empty."""
    return (evidence or {}).get(key) or default
