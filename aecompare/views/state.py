"""The dashboard's view state and its URL form (query parameters), without Streamlit.

A link reproduces a view: which models, which digits, display options. Parsing never raises:
an unknown or malformed value gives a warning (shown to the visitor) and that field's default.
Model names from the URL are only compared with the catalog's names, never used as paths.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace

from ..registry import FORMER_NAMES

DIGIT_MODES = ("per_class", "typed", "random", "worst", "best")
MODE_LABELS = {
    "per_class": "n per class",
    "typed": "typed test indices",
    "random": "random (seeded)",
    "worst": "k worst for a model",
    "best": "k best for a model",
}
N_TEST = 10000
MAX_N = 50  # digits shown at most (rows of the grid)
MAX_PER_CLASS = 5
ZOOMS = (2, 3, 4, 6, 8)
NONE = "none"  # models=none: no model chosen (absent parameter: all models)
MAX_INDEX_CHARS = 100_000  # a longer idx is refused unread (10,000 indices of 4 digits fit in 50,000)
_WHOLE = re.compile(r"\s*(-?[0-9]+)\s*", re.ASCII)


@dataclass(frozen=True)
class ViewState:
    """What the visitor chose. `models` None means every model."""

    models: tuple[str, ...] | None = None
    mode: str = "per_class"
    indices: tuple[int, ...] = (0, 1, 2, 3, 4)
    seed: int = 0
    n: int = 1
    rank_model: str | None = None
    zoom: int = 3
    stretch: bool = False
    dataset: str = "mnist"
    cb_lambda: bool = False  # continuous Bernoulli models: show λ itself instead of the mean E[x | λ]


def parse_dataset(params: dict, known_datasets: list[str]) -> tuple[str, list[str]]:
    """The dataset= value if it names one of `known_datasets`, else the first (MNIST) and a warning."""
    raw = params.get("dataset")
    raw = raw[-1] if isinstance(raw, (list, tuple)) and raw else raw
    default = known_datasets[0] if known_datasets else ViewState.dataset
    if raw is None or raw in known_datasets:
        return raw or default, []
    return default, [f"URL: dataset={_quote(raw)} is not one of {', '.join(known_datasets)}; showing {default}."]


def bound_choice_warning(key: str, value, options: Sequence[str]) -> str | None:
    """The warning for a URL value of a choice Streamlit keeps in the URL itself (the tabs, a long tab's sections),
    which passes over a value that is none of `options` without a word; the page shows the first. None if fine."""
    if value is None or value in options:
        return None
    return f"URL: {key}={_quote(value)} is not one of {', '.join(options)}; showing {options[0]}."


def _quote(text, limit: int = 40) -> str:
    """A URL or typed value for a message: quoted, cut to `limit` characters (values can be megabytes)."""
    text = str(text)
    return repr(text[:limit]) + ("…" if len(text) > limit else "")


def _int(text: str, lo: int, hi: int, label: str, warnings: list[str]) -> int | None:
    """A whole number lo..hi written in ASCII digits (sign and surrounding spaces allowed); None plus a
    warning otherwise. `label` ("URL: seed") starts the message. int() alone would take "٣", "５０", "1_000"."""
    match = _WHOLE.fullmatch(str(text))
    if match is None:
        warnings.append(f"{label}={_quote(text)} is not a whole number (digits 0-9); using the default.")
        return None
    digits = match.group(1)
    if len(digits) > 20 or not lo <= int(digits) <= hi:
        warnings.append(f"{label}={digits[:20]} is outside {lo}..{hi}; using the default.")
        return None
    return int(digits)


def _index_note(what: str, given: int, unique: int, shown: int) -> str:
    return (f"{what}: {given:,} indices given, {unique:,} different; showing {shown} digit{'s' if shown != 1 else ''}"
            + (f" (the first {MAX_N})." if unique > MAX_N else "."))


def parse_indices(text: str, warnings: list[str], what: str = "idx") -> tuple[int, ...] | None:
    """Comma/space-separated test indices 0..9999, repeats dropped, at most `MAX_N`; None plus a warning
    if any is bad. `what` ("URL: idx", "Test indices") starts each message; at most one warning."""
    text = str(text)
    if len(text) > MAX_INDEX_CHARS:
        warnings.append(f"{what}: {len(text):,} characters, more than {MAX_INDEX_CHARS:,}; using the default.")
        return None
    parts = text.replace(",", " ").split()
    if not parts:
        warnings.append(f"{what}: no indices given; using the default.")
        return None
    bad = next((p for p in parts if not (p.isascii() and p.isdigit() and len(p) <= 5 and int(p) < N_TEST)), None)
    if bad is not None:
        warnings.append(f"{what}: {_quote(bad)} is not a test index (a whole number 0..{N_TEST - 1}); "
                        "using the default.")
        return None
    unique = list(dict.fromkeys(int(p) for p in parts))
    shown = tuple(unique[:MAX_N])
    if len(shown) < len(parts):
        warnings.append(_index_note(what, len(parts), len(unique), len(shown)))
    return shown


def _models(raw, known_models: list[str], warnings: list[str]) -> tuple[str, ...] | None:
    """The models= value: () for "none", the known names given (catalog order; a model's former name is its
    name), None (all) with a warning when no name is given or none is known."""
    if raw == NONE:
        return ()
    names = dict.fromkeys(FORMER_NAMES.get(n.strip(), n.strip()) for n in str(raw).split(","))  # URL order, once
    names.pop("", None)
    if not names:
        warnings.append(f"URL: models={_quote(raw)} gives no model names; showing all models.")
        return None
    chosen = tuple(n for n in known_models if n in names)
    known = set(known_models)
    unknown = [n for n in names if n not in known]
    if unknown:
        shown = ", ".join(_quote(n) for n in unknown[:5]) + (f" and {len(unknown) - 5:,} more" if len(unknown) > 5
                                                             else "")
        warnings.append(f"URL: unknown model(s) {shown}; {'they are left out' if chosen else 'showing all models'}.")
    return chosen or None


def parse_query(params: dict, known_models: list[str]) -> tuple[ViewState, list[str]]:
    """ViewState from query parameters (values str or list of str), plus warnings for bad values."""
    warnings: list[str] = []

    def get(key):
        v = params.get(key)
        if isinstance(v, (list, tuple)):
            v = v[-1] if v else None
        return v

    s = ViewState()
    if get("models") is not None:
        s = replace(s, models=_models(get("models"), known_models, warnings))
    mode = get("digits")
    if mode is not None:
        if mode in DIGIT_MODES:
            s = replace(s, mode=mode)
        else:
            warnings.append(f"URL: digits={str(mode)[:40]!r} is not one of {', '.join(DIGIT_MODES)}; "
                            "using the default.")
    if get("idx") is not None:
        idx = parse_indices(get("idx"), warnings, "URL: idx")
        if idx is not None:
            s = replace(s, indices=idx)
    for key, lo, hi in (("seed", 0, 2**31 - 1), ("n", 1, MAX_N), ("zoom", min(ZOOMS), max(ZOOMS))):
        if get(key) is not None:
            v = _int(get(key), lo, hi, f"URL: {key}", warnings)
            if v is not None:
                s = replace(s, **{key: v})
    if s.zoom not in ZOOMS:
        warnings.append(f"URL: zoom={s.zoom} is not one of {ZOOMS}; using the default.")
        s = replace(s, zoom=ViewState.zoom)
    rank = FORMER_NAMES.get(get("rank"), get("rank"))
    if rank is not None:
        if rank in known_models:
            s = replace(s, rank_model=rank)
        else:
            warnings.append(f"URL: rank={str(rank)[:40]!r} is not a known model; using the default.")
    readout = get("cb")
    if readout is not None:
        if readout in ("mean", "lambda"):
            s = replace(s, cb_lambda=readout == "lambda")
        else:
            warnings.append(f"URL: cb={_quote(readout, 10)} should be mean or lambda; using the default (mean).")
    stretch = get("stretch")
    if stretch is not None:
        if stretch in ("0", "1"):
            s = replace(s, stretch=stretch == "1")
        else:
            warnings.append(f"URL: stretch={str(stretch)[:10]!r} should be 0 or 1; using the default.")
    return s, warnings


def to_query(s: ViewState, known_models: list[str]) -> dict[str, str]:
    """The query parameters for a state; defaults are left out to keep links short."""
    q: dict[str, str] = {}
    if s.dataset != ViewState.dataset:
        q["dataset"] = s.dataset
    if s.cb_lambda:
        q["cb"] = "lambda"
    if s.models is not None and list(s.models) != list(known_models):
        q["models"] = ",".join(s.models) if s.models else NONE
    d = ViewState()
    if s.mode != d.mode:
        q["digits"] = s.mode
    if s.mode == "typed" and s.indices != d.indices:
        q["idx"] = ",".join(map(str, s.indices))
    if s.mode == "random" and s.seed != d.seed:
        q["seed"] = str(s.seed)
    if s.n != d.n and s.mode != "typed":
        q["n"] = str(s.n)
    if s.mode in ("worst", "best") and s.rank_model:
        q["rank"] = s.rank_model
    if s.zoom != d.zoom:
        q["zoom"] = str(s.zoom)
    if s.stretch:
        q["stretch"] = "1"
    return q
