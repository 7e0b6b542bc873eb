"""The dashboard's views: one module per tab, each `show(ctx)` over a `common.Context` of plain data."""

from __future__ import annotations

import importlib
import threading

TABS = {  # tab label -> its module in this package
    "Findings": "findings",
    "Reconstructions": "reconstructions",
    "Error maps": "errors",
    "Weight collapse": "collapse",
    "Losses": "losses",
    "Latent": "latent",
    "Your digit": "your_digit",
    "Q1 · BCE in an autoencoder": "q1_bce",
    "Q2 · Cross-entropy explained": "q2_cross_entropy",
    "Q3 · CE vs MSE": "q3_ce_vs_mse",
}


_PRELOAD = threading.Lock()


def show(tab: str, ctx) -> None:
    """Draw one tab. Its module is imported when the tab is first opened (or by `preload`): the charts' tabs import
    Altair, which the default view (Findings) does not need."""
    importlib.import_module(f"{__name__}.{TABS[tab]}").show(ctx)


def preload() -> None:
    """Import every tab's module in a background thread, once per process; called once the first page is drawn.
    The first page does not wait for Altair and the charts' code (0.8 s of CPU on a slow core), and neither does
    the first click on a chart's tab: they load while the visitor reads. A click meanwhile waits for the import
    in progress (Python's import lock), never imports twice."""
    if _PRELOAD.acquire(blocking=False):  # never released: once per process
        threading.Thread(target=_import_tabs, name="aecompare-preload", daemon=True).start()


def _import_tabs() -> None:
    for module in TABS.values():
        importlib.import_module(f"{__name__}.{module}")
