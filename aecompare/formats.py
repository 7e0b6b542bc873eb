"""Tables as plain text, CSV and JSON, for the command lines (and the dashboard's downloads).

Cells keep their type: integers print as integers (seed 0, not 0.0), missing values as empty or null.
"""

from __future__ import annotations

import json
import math
from typing import TYPE_CHECKING

import numpy as np

if TYPE_CHECKING:
    import pandas as pd


def format_table(rows: list[dict]) -> str:
    """A plain-text table of dicts (same keys), columns as wide as their content."""
    if not rows:
        return "(nothing)"
    keys = list(rows[0])
    cells = [[str(r[k]) for k in keys] for r in rows]
    widths = [max(len(k), *(len(c[j]) for c in cells)) for j, k in enumerate(keys)]
    line = "  ".join(k.ljust(w) for k, w in zip(keys, widths))
    return "\n".join([line, "-" * len(line)] + ["  ".join(c.ljust(w) for c, w in zip(r, widths)) for r in cells])


def records(table: pd.DataFrame) -> list[dict]:
    """Rows as JSON-ready dicts: NaN and NA -> None, numpy scalars -> Python numbers."""
    import pandas as pd

    out = []
    for row in table.to_dict(orient="records"):
        clean = {}
        for k, v in row.items():
            if isinstance(v, np.generic):
                v = v.item()
            if v is pd.NA or (isinstance(v, float) and math.isnan(v)):
                v = None
            clean[k] = v
        out.append(clean)
    return out


def format_cell(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return ""
    if isinstance(v, float):
        return f"{v:.4g}" if abs(v) < 1e5 else f"{v:.3e}"
    return str(v)


def render(table: pd.DataFrame, fmt: str, text_columns: tuple[str, ...] | None = None) -> str:
    """`table` as "json", "csv" or "table" (plain text of `text_columns`, all columns if None)."""
    if fmt == "json":
        return json.dumps(records(table), indent=1, allow_nan=False)
    if fmt == "csv":
        return table.to_csv(index=False)
    cols = [c for c in (text_columns or table.columns) if c in table]
    return format_table([{c: format_cell(r[c]) for c in cols} for r in records(table[cols])])
