"""The server's start (`dashboard.app`'s lifespan): the default view's data computed before the first visitor asks.

`streamlit run dashboard.py` imports `dashboard.py` to find the app it serves, then starts the server. As it
starts, a background thread imports the page's code and fills the caches of the default view (`warm_up`) while a
first visitor's browser loads Streamlit's own code; the server answers meanwhile. On a fresh process (a Cloud app
waking up) that visitor's first page then waits for little more than its drawing. A visitor who arrives before the
work is done waits for the computation in progress (Streamlit computes each cached value once), never repeats it.
"""

from __future__ import annotations

import contextlib
import logging
import threading

THREAD = "aecompare-warm-up"


@contextlib.asynccontextmanager
async def warm_start(app):
    """`st.App`'s lifespan: start `warm_up` in a thread of its own, then serve."""
    logging.getLogger("streamlit.runtime.scriptrunner_utils.script_run_context").addFilter(_not_warming_up)
    threading.Thread(target=_warm_up_quietly, name=THREAD, daemon=True).start()
    yield


def warm_up() -> None:
    """What the default view reads (the runs, the test images, the stored results, the sidebar's legend, the
    Findings), computed into the caches the page reads. The imports are here, not at the top: they are part of the
    work, done in the background (`dashboard.py` imports this module before the server starts)."""
    import numpy as np

    from ..store.artifacts import default_models_dir
    from . import findings, loaders, server
    from .common import Context
    from .state import ViewState

    server.tune_process()
    models_dir = str(default_models_dir())
    catalog = loaders.catalog(models_dir)
    default = ViewState()
    test, _ = loaders.test_set(default.dataset)
    loaders.legend_lines(models_dir)
    if test is not None and loaders.results_note(models_dir) is None:
        findings.drawn(models_dir, default.dataset, default.stretch,
                       Context(models_dir, catalog, catalog.first_seeds(), test, np.zeros(0, int), default))


def _warm_up_quietly() -> None:
    try:
        warm_up()
    except Exception:  # noqa: BLE001 - the page computes it again and shows what went wrong
        logging.getLogger(__name__).debug("warm-up failed", exc_info=True)


def _not_warming_up(record: logging.LogRecord) -> bool:
    """Drops Streamlit's "missing ScriptRunContext" warnings from the warm-up thread: the cached loaders' spinners
    have no page to show on there, as expected."""
    return record.threadName != THREAD
