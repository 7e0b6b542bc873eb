"""The page every visit runs (`dashboard.py` calls `main`): the title, the shared data, the sidebar and the tabs."""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from ..data import DATASETS
from ..digits import choose_digits
from ..store.artifacts import default_models_dir
from . import TABS, legend, loaders, prefetch, preload, server, show, sidebar
from .common import Context, warn_bad_url_choice


def main() -> None:
    """The whole page: run for every visit and every sidebar change (a tab switch reruns only `draw_tabs`)."""
    st.set_page_config(page_title="aecompare: autoencoder losses compared", layout="wide")
    server.tune_process()
    models_dir = str(default_models_dir())

    st.title("Autoencoder losses, compared on trained models")
    catalog = loaders.catalog(models_dir)
    for problem in catalog.problems:
        st.warning(problem, icon="⚠️")
    firsts = catalog.first_seeds()
    datasets = dict.fromkeys(["mnist", *(r.exp.dataset for r in firsts)])
    state = sidebar.render({d: {r.name: r.exp for r in firsts if r.exp.dataset == d} for d in datasets},
                           {d: DATASETS[d].title for d in datasets if d in DATASETS})
    legend.render(loaders.legend_lines(models_dir))
    test, test_error = loaders.test_set(state.dataset)
    if test_error:
        st.error(test_error)
    note = loaders.results_note(models_dir)
    if note:
        st.warning(note, icon="⏳")
    runs = catalog.first_seeds(state.models)
    ranking = None
    if state.mode in ("worst", "best") and state.rank_model and test is not None:
        ranking = loaders.results(models_dir).array(state.rank_model, catalog.by_name(state.rank_model)[0].seed,
                                                     "per_image_mse")
    indices = (choose_digits(state.mode, test.y, indices=state.indices, seed=state.seed, n=state.n,
                             per_image_error=ranking) if test is not None else [])
    ctx = Context(models_dir, catalog, runs, test, indices, state)
    st.caption(f"{len(catalog.runs)} trained runs in {Path(models_dir).name}/; showing {len(runs)} model(s) and "
               f"{len(indices)} test {ctx.dataset.item}(s) of {ctx.dataset.title}.")

    draw_tabs(ctx)
    prefetch.render()  # the visitor's browser fetches the other tabs' element code
    preload()  # the server imports the other tabs' modules


@st.fragment
def draw_tabs(ctx: Context) -> None:
    """The tabs, only the open one drawn. A fragment: switching tabs (or a widget inside a tab) reruns this
    alone, with the `ctx` of the last full run, not the title, the sidebar and the legend."""
    warn_bad_url_choice("tab", tuple(TABS))
    for tab, name in zip(st.tabs(list(TABS), key="tab", bind="query-params"), TABS, strict=True):
        if tab.open:
            with tab, server.TAB_DRAWING:
                show(name, ctx)
