"""The dashboard's views: one module per tab, each `show(ctx)` over a `common.Context` of plain data."""

from __future__ import annotations

import importlib

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


def show(tab: str, ctx) -> None:
    """Draw one tab. Its module is imported when the tab is first opened: the charts' tabs import Altair, which the
    default view (Findings) does not need; on a cold start that saves the first visitor a few tenths of a second."""
    importlib.import_module(f"{__name__}.{TABS[tab]}").show(ctx)
