"""The dashboard's views: one module per tab, each `show(ctx)` over a `common.Context` of plain data."""

from . import collapse, errors, findings, latent, losses, questions, reconstructions, your_digit

TABS = {
    "Findings": findings.show,
    "Reconstructions": reconstructions.show,
    "Error maps": errors.show,
    "Weight collapse": collapse.show,
    "Losses": losses.show,
    "Latent": latent.show,
    "Your digit": your_digit.show,
    "Q1 · BCE in an autoencoder": questions.show_bce_autoencoder,
    "Q2 · Cross-entropy explained": questions.show_cross_entropy,
    "Q3 · CE vs MSE": questions.show_ce_vs_mse,
}
