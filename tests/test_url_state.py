"""URL values (issue 10): each bad value gives exactly one warning, composed once, and its default;
the digits shown are as many as the warning says; absurd values cost little."""

from __future__ import annotations

import time

import pytest

from aecompare.views.state import MAX_N, ViewState, bound_choice_warning, parse_indices, parse_query

KNOWN = ["raw-linear-mae", "norm-sigmoid-bce", "norm-softmax-bce"]


def parse(**params) -> tuple[ViewState, list[str]]:
    return parse_query(params, KNOWN)


def one_warning(warnings: list[str], *fragments: str) -> str:
    assert len(warnings) == 1, warnings
    (w,) = warnings
    assert w.startswith("URL: ") and "URL: URL:" not in w, w
    assert all(f in w for f in fragments), w
    return w


@pytest.mark.parametrize("key, value", [
    ("zoom", "٣"), ("zoom", "３"), ("n", "５０"), ("n", "²"), ("seed", "1_000"), ("seed", "+-1"), ("seed", "1e3"),
    ("seed", " "), ("n", "7.0"),
])
def test_only_ascii_digits_are_numbers(key, value):
    s, warnings = parse(**{key: value})
    one_warning(warnings, f"URL: {key}=", "is not a whole number", "using the default")
    assert s == ViewState()


@pytest.mark.parametrize("key, value, want", [("seed", " 1000 ", 1000), ("n", "07", 7), ("zoom", "8", 8),
                                              ("seed", "2147483647", 2**31 - 1)])
def test_ascii_numbers_with_spaces_are_accepted(key, value, want):
    s, warnings = parse(**{key: value})
    assert warnings == [] and getattr(s, key) == want


@pytest.mark.parametrize("key, value", [("seed", "-3"), ("seed", "9" * 5000), ("n", "51"), ("zoom", "99")])
def test_numbers_out_of_range_warn_once(key, value):
    s, warnings = parse(**{key: value})
    w = one_warning(warnings, f"URL: {key}=", "is outside")
    assert s == ViewState() and len(w) < 200


@pytest.mark.parametrize("value", ["", ",,,", " , ,"])
def test_no_model_names_warns_and_shows_all(value):
    s, warnings = parse(models=value)
    one_warning(warnings, "gives no model names; showing all models")
    assert s.models is None


def test_models_none_and_known_names_still_work():
    assert parse(models="none") == (ViewState(models=()), [])
    s, warnings = parse(models="norm-softmax-bce,,raw-linear-mae,raw-linear-mae")
    assert warnings == [] and s.models == ("raw-linear-mae", "norm-softmax-bce")  # catalog order
    s, warnings = parse(models="norm-softmax-bce,bogus")
    one_warning(warnings, "unknown model(s) 'bogus'; they are left out")
    assert s.models == ("norm-softmax-bce",)


@pytest.mark.parametrize("value, fragment", [("1,x", "'x' is not a test index"), ("", "no indices given"),
                                             ("10000", "'10000' is not a test index"), ("٣", "'٣' is not"),
                                             ("-1", "'-1' is not")])
def test_bad_idx_warns_once_without_a_doubled_prefix(value, fragment):
    s, warnings = parse(digits="typed", idx=value)
    w = one_warning(warnings, "URL: idx: ", fragment, "using the default")
    assert s.indices == ViewState().indices and w.count("URL:") == 1


def test_repeated_idx_is_deduplicated_before_the_cap_and_the_warning_is_true():
    s, warnings = parse(digits="typed", idx=",".join(["5"] * 5000))
    one_warning(warnings, "5,000 indices given, 1 different; showing 1 digit.")
    assert s.indices == (5,)
    s, warnings = parse(digits="typed", idx=",".join(str(i % 70) for i in range(700)))
    one_warning(warnings, f"700 indices given, 70 different; showing {MAX_N} digits (the first {MAX_N}).")
    assert s.indices == tuple(range(MAX_N))
    s, warnings = parse(digits="typed", idx="7, 3 7")
    one_warning(warnings, "3 indices given, 2 different; showing 2 digits.")
    assert s.indices == (7, 3)
    assert parse(digits="typed", idx="7,3") == (ViewState(mode="typed", indices=(7, 3)), [])


def test_typed_indices_have_their_own_label():
    warnings: list[str] = []
    assert parse_indices("1, 2, x", warnings, "Test indices") is None
    assert warnings == ["Test indices: 'x' is not a test index (a whole number 0..9999); using the default."]


@pytest.mark.parametrize("params", [
    {"idx": "5," * 500_000}, {"idx": "1" * 1_000_000}, {"idx": "x" * 1_000_000},
    {"models": "a," * 500_000}, {"seed": "9" * 1_000_000}, {"zoom": " " * 1_000_000 + "x"},
])
def test_a_megabyte_value_costs_little(params):
    start = time.perf_counter()
    s, warnings = parse_query({"digits": "typed", **params}, KNOWN)
    assert time.perf_counter() - start < 0.5
    one_warning(warnings)
    assert len(warnings[0]) < 300 and s.indices == ViewState().indices and s.models is None


def test_a_tab_or_section_the_page_lacks_is_named_with_what_is_shown():
    """Streamlit keeps the tab and the sections in the URL itself and shows the first for a value it lacks, silently;
    the page says so. Exact labels only: Streamlit matches them exactly."""
    options = ("The yardstick", "MSE per epoch")
    assert bound_choice_warning("losses", None, options) is None
    assert bound_choice_warning("losses", "MSE per epoch", options) is None
    w = bound_choice_warning("losses", "mse per epoch", options)
    assert w == "URL: losses='mse per epoch' is not one of The yardstick, MSE per epoch; showing The yardstick."
    assert len(bound_choice_warning("tab", "x" * 100_000, options)) < 200
