"""aecompare dashboard: `streamlit run dashboard.py`. Compares every trained autoencoder in models/.

Thin on purpose: page setup, cached data, sidebar, tabs. Views live in aecompare/views/.
Never imports TensorFlow: models run through the numpy forward pass (aecompare.network).
The models folder is $AECOMPARE_MODELS, default models/ next to this file.
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from aecompare.compare import choose_digits
from aecompare.views import TABS, loaders, sidebar
from aecompare.views.common import Context

st.set_page_config(page_title="aecompare: autoencoder losses compared", layout="wide")
loaders.tune_process()
models_dir = os.environ.get("AECOMPARE_MODELS") or str(Path(__file__).resolve().parent / "models")

st.title("Autoencoder losses, compared on trained models")
catalog = loaders.catalog(models_dir)
for problem in catalog.problems:
    st.warning(problem)
mnist, mnist_error = loaders.mnist_or_error()
if mnist_error:
    st.error(mnist_error)

exps = {r.name: r.exp for r in catalog.first_seeds()}
state = sidebar.render(exps)
runs = [catalog.by_name(name)[0] for name in state.models]
errors_for_rank = (loaders.test_errors(models_dir, state.rank_model)
                   if state.mode in ("worst", "best") and state.rank_model and mnist else None)
indices = (choose_digits(state.mode, mnist.test_y, indices=state.indices, seed=state.seed, n=state.n,
                         per_image_error=errors_for_rank["per_image_mse"] if errors_for_rank else None)
           if mnist else [])
ctx = Context(models_dir, catalog, runs, mnist, loaders.test_x_unit(), indices, state)
st.caption(f"{len(catalog.runs)} trained runs in {models_dir}; showing {len(runs)} model(s) and "
           f"{len(indices)} test digit(s). MNIST: {mnist.source if mnist else 'not loaded'}.")

for tab, show in zip(st.tabs(list(TABS), key="tab", bind="query-params"), TABS.values(), strict=True):
    if tab.open:
        with tab, loaders.one_view_at_a_time():
            show(ctx)
