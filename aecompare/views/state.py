"""The dashboard's view state and its URL form (query parameters), without Streamlit.

A link reproduces a view: which models, which digits, display options. Parsing never raises:
an unknown or malformed value gives a warning (shown to the visitor) and that field's default.
Model names from the URL are only compared with the catalog's names, never used as paths.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

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


def _int(text: str, lo: int, hi: int, what: str, warnings: list[str]) -> int | None:
    try:
        v = int(str(text).strip())
    except ValueError:
        warnings.append(f"URL: {what}={text!r} is not a whole number; using the default.")
        return None
    if not lo <= v <= hi:
        warnings.append(f"URL: {what}={v} is outside {lo}..{hi}; using the default.")
        return None
    return v


def parse_indices(text: str, warnings: list[str], what: str = "idx") -> tuple[int, ...] | None:
    """Comma/space-separated test indices 0..9999; None (plus a warning) if any is bad."""
    parts = [p for p in str(text).replace(",", " ").split() if p]
    if not parts:
        warnings.append(f"{what}: no indices given; using the default.")
        return None
    out = []
    for p in parts:
        v = _int(p, 0, N_TEST - 1, what, warnings)
        if v is None:
            return None
        out.append(v)
    if len(out) > MAX_N:
        warnings.append(f"{what}: {len(out)} indices given, showing the first {MAX_N}.")
        out = out[:MAX_N]
    return tuple(dict.fromkeys(out))


def parse_query(params: dict, known_models: list[str]) -> tuple[ViewState, list[str]]:
    """ViewState from query parameters (values str or list of str), plus warnings for bad values."""
    warnings: list[str] = []

    def get(key):
        v = params.get(key)
        if isinstance(v, (list, tuple)):
            v = v[-1] if v else None
        return v

    s = ViewState()
    raw = get("models")
    if raw is not None:
        if raw == NONE:
            s = replace(s, models=())
        else:
            names = [n for n in str(raw).split(",") if n]
            unknown = [n for n in names if n not in known_models]
            chosen = tuple(n for n in known_models if n in names)
            if unknown:
                shown = ", ".join(repr(n[:40]) for n in unknown[:5])
                fallback = "they are left out" if chosen else "showing all models"
                warnings.append(f"URL: unknown model(s) {shown}; {fallback}.")
            if chosen or not names:
                s = replace(s, models=chosen)
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
            v = _int(get(key), lo, hi, key, warnings)
            if v is not None:
                s = replace(s, **{key: v})
    if s.zoom not in ZOOMS:
        warnings.append(f"URL: zoom={s.zoom} is not one of {ZOOMS}; using the default.")
        s = replace(s, zoom=ViewState.zoom)
    rank = get("rank")
    if rank is not None:
        if rank in known_models:
            s = replace(s, rank_model=rank)
        else:
            warnings.append(f"URL: rank={str(rank)[:40]!r} is not a known model; using the default.")
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
