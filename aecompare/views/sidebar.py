"""Sidebar: which models and digits to compare, kept in the URL (see `state`)."""

from __future__ import annotations

import streamlit as st

from ..data import DATASETS
from ..maths.pixel_losses import READOUTS
from . import state as vs

URL_KEYS = ("dataset", "models", "digits", "idx", "seed", "n", "rank", "zoom", "stretch", "cb")
OWN_CHOICE = "(the models listed below)"


def _groups(exps: dict) -> dict[str, list[str]]:
    """Quick picks: all, by family, by scale, by output/loss pair (names in catalog order)."""
    groups = {"all models": list(exps)}
    for label, key in (("family", lambda e: e.arch.family), ("scale", lambda e: e.scale),
                       ("pair", lambda e: e.pair)):
        for value in dict.fromkeys(key(e) for e in exps.values()):
            groups[f"{label} {value}"] = [n for n, e in exps.items() if key(e) == value]
    return groups


def matching_group(groups: dict[str, list[str]], chosen: list[str]) -> str:
    """The quick pick that selects exactly `chosen` (in any order), else `OWN_CHOICE`."""
    return next((label for label, names in groups.items() if set(names) == set(chosen)), OWN_CHOICE)


def _init_from_url(datasets: dict[str, dict]) -> None:
    params = st.query_params.to_dict()
    dataset, warnings = vs.parse_dataset(params, list(datasets))
    known = list(datasets.get(dataset, {}))
    s, more = vs.parse_query(params, known)
    ss = st.session_state
    ss["url_warnings"] = warnings + more
    ss["sel_dataset"] = dataset
    ss["sel_models"] = list(known if s.models is None else s.models)
    ss["sel_mode"] = s.mode
    ss["sel_idx"] = ", ".join(map(str, s.indices))
    ss["sel_seed"] = s.seed
    ss["sel_n"] = s.n
    ss["sel_rank"] = s.rank_model if s.rank_model in known else (known[0] if known else None)
    ss["sel_zoom"] = s.zoom
    ss["sel_stretch"] = s.stretch
    ss["sel_cb_lambda"] = s.cb_lambda
    ss["url_loaded"] = True


def _max_n(mode: str) -> int:
    return vs.MAX_PER_CLASS if mode == "per_class" else vs.MAX_N


def _pick_dataset(datasets: dict[str, dict], titles: dict[str, str]) -> str:
    """The dataset whose models are compared (only shown when there is a choice); a change selects all its models."""
    ss = st.session_state

    def all_of_it():
        ss["sel_models"] = list(datasets[ss["sel_dataset"]])
        ss["sel_rank"] = next(iter(datasets[ss["sel_dataset"]]), None)

    if len(datasets) > 1:
        st.sidebar.radio("Dataset", list(datasets), key="sel_dataset", format_func=lambda d: titles.get(d, d),
                         horizontal=True, on_change=all_of_it,
                         help="Every tab shows the models trained on this dataset, on its test images.")
    return ss["sel_dataset"]


def _pick_models(exps: dict) -> None:
    """The quick picks and the model list."""
    ss, sb = st.session_state, st.sidebar
    groups = _groups(exps)

    def pick_group():
        if ss["sel_group"] in groups:
            ss["sel_models"] = list(groups[ss["sel_group"]])

    def name_group():
        ss["sel_group"] = matching_group(groups, ss["sel_models"])

    ss["sel_models"] = [n for n in ss["sel_models"] if n in exps]
    if ss.get("sel_group") not in (OWN_CHOICE, *groups):  # first run, or the groups changed
        name_group()
    sb.selectbox("Quick pick", [OWN_CHOICE, *groups], key="sel_group", on_change=pick_group,
                 help="Choose a group of models; edit the list below freely.")
    sb.multiselect("Models", list(exps), key="sel_models", on_change=name_group,
                   help="Every tab shows these models, in the registry's order (raw, normalised, then Q3's net). "
                        "What each one is: 'The models' below.")


def _pick_digits(known: list[str], item: str) -> tuple[str, tuple[int, ...]]:
    """How test images (each a dataset's `item`, "digit") are chosen; returns the mode and the typed indices (the
    default ones otherwise)."""
    ss, sb = st.session_state, st.sidebar
    sb.subheader(f"{item.capitalize()}s (test set)")
    mode = sb.selectbox(f"Choose {item}s by", vs.DIGIT_MODES, key="sel_mode", format_func=vs.MODE_LABELS.get)
    ss["sel_n"] = min(max(1, int(ss.get("sel_n", 1))), _max_n(mode))
    indices = vs.ViewState().indices
    if mode == "typed":
        problems: list[str] = []
        parsed = vs.parse_indices(sb.text_input("Test indices (0-9999, comma separated)", key="sel_idx"),
                                  problems, "Test indices")
        for p in problems:
            sb.warning(p)
        indices = parsed or indices
    elif mode == "random":
        sb.number_input("Seed", 0, 2**31 - 1, key="sel_seed", step=1)
        sb.slider("How many", 1, vs.MAX_N, key="sel_n")
    elif mode == "per_class":
        sb.segmented_control("How many per class", range(1, vs.MAX_PER_CLASS + 1), key="sel_n", required=True)
    else:
        if known:
            if ss.get("sel_rank") not in known:
                ss["sel_rank"] = known[0]
            sb.selectbox("Ranked by the error (MSE on [0,1]) of", known, key="sel_rank")
        sb.slider("k", 1, vs.MAX_N, key="sel_n")
    return mode, indices


def render(datasets: dict[str, dict], titles: dict[str, str]) -> vs.ViewState:
    """Draw the sidebar; `datasets`: dataset -> {model name -> Experiment} (catalog order), `titles`: dataset ->
    its name for people. Returns the chosen state."""
    ss = st.session_state
    if not ss.get("url_loaded"):
        _init_from_url(datasets)
    for w in ss.get("url_warnings", []):
        st.warning(w)
    st.sidebar.header("Compare")
    dataset = _pick_dataset(datasets, titles)
    exps = datasets.get(dataset, {})
    _pick_models(exps)
    mode, indices = _pick_digits(list(exps), DATASETS[dataset].item)
    st.sidebar.subheader("Display")
    # Segmented controls, not sliders, for the default view's few-valued choices: a slider's code (130 kB with the
    # date and number formatting it brings) is the heaviest a first page open would fetch.
    st.sidebar.segmented_control("Pixel size (nearest-neighbour zoom)", vs.ZOOMS, key="sel_zoom", required=True,
                                 format_func="{}×".format)
    st.sidebar.checkbox("Stretch each output to its own range", key="sel_stretch",
                        help="Off: every image on the same 0-1 (0-255) display, clipped. On: each output's own "
                             "min..max mapped to black..white (shows the shape of tiny softmax outputs).")
    if any(e.loss in READOUTS for e in exps.values()):
        st.sidebar.checkbox("Continuous Bernoulli models: show λ, not the mean E[x | λ]", key="sel_cb_lambda",
                            help="A CB model's reconstruction is its mean E[x | λ]; its output λ is more extreme "
                                 "than the data. Tables and stored figures always use the mean.")
    chosen = tuple(n for n in exps if n in ss["sel_models"])
    s = vs.ViewState(models=chosen, mode=mode, indices=indices, seed=int(ss["sel_seed"]), n=int(ss["sel_n"]),
                     rank_model=ss.get("sel_rank") if mode in ("worst", "best") else None,
                     zoom=int(ss["sel_zoom"]), stretch=bool(ss["sel_stretch"]), dataset=dataset,
                     cb_lambda=bool(ss.get("sel_cb_lambda", False)))
    write_url(s, list(exps))
    return s


def write_url(s: vs.ViewState, known: list[str]) -> None:
    """Mirror the state into the URL, touching only our own keys (the tab key is Streamlit's)."""
    wanted = vs.to_query(s, known)
    for key in URL_KEYS:
        if key in wanted:
            if st.query_params.get(key) != wanted[key]:
                st.query_params[key] = wanted[key]
        elif key in st.query_params:
            del st.query_params[key]
