"""The dashboard's views: one module per tab, each `show(ctx)` over a `common.Context` of plain data."""

from . import (
    collapse,
    errors,
    findings,
    latent,
    losses,
    q1_bce,
    q2_cross_entropy,
    q3_ce_vs_mse,
    reconstructions,
    your_digit,
)

TABS = {
    "Findings": findings.show,
    "Reconstructions": reconstructions.show,
    "Error maps": errors.show,
    "Weight collapse": collapse.show,
    "Losses": losses.show,
    "Latent": latent.show,
    "Your digit": your_digit.show,
    "Q1 · BCE in an autoencoder": q1_bce.show,
    "Q2 · Cross-entropy explained": q2_cross_entropy.show,
    "Q3 · CE vs MSE": q3_ce_vs_mse.show,
}
