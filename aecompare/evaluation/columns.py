"""The evaluation table's columns and their types, shared by the analysis that fills the table, the stored
CSV that keeps it and the command line that prints it (without pandas: its import is most of a second)."""

from __future__ import annotations

from ..maths import metrics
from ..registry import REGISTRY

SETTINGS = tuple(k for k in REGISTRY[0].settings() if k not in ("name", "seed"))
OWN_LOSS = ("own_loss_last", "own_loss_best", "best_epoch")
COLUMNS = ("name", "kind", "seed", *SETTINGS, "readout", *OWN_LOSS, *metrics.METRICS, "probe_accuracy",
           *metrics.BAND_METRICS, "note")
TABLE_COLUMNS = ("name", "kind", "seed", "loss", "scale", "readout", "own_loss_last", "own_loss_best", "best_epoch",
                 *metrics.METRICS, "probe_accuracy", "mse_grey", "excess_bce_grey")  # what the text table prints
INT_COLUMNS = ("seed", "best_epoch", "epochs", "batch_size")
TEXT_COLUMNS = ("name", "kind", "family", "arch", "hidden_activation", "activation", "loss", "scale", "optimizer",
                "dataset", "readout", "note")
# The table's column types, kept through CSV: integers stay integers ("0", not "0.0"), text stays text.
TABLE_DTYPES = {**dict.fromkeys(INT_COLUMNS, "Int64"), **dict.fromkeys(TEXT_COLUMNS, "str")}


def typed_cell(column: str, text: str):
    """A cell of the stored CSV as the value pandas reads with TABLE_DTYPES: None if empty, else int, str or float."""
    if text == "":
        return None
    if column in INT_COLUMNS:
        return int(text)
    return text if column in TEXT_COLUMNS else float(text)
