"""The dashboard rendered by Streamlit's AppTest over a tiny models folder trained in the session."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from aecompare.registry import model_names
from aecompare.views import TABS as VIEW_TABS
from aecompare.views.state import ViewState, parse_query, to_query

from conftest import REPO, TINY_NAMES

TABS = tuple(VIEW_TABS)
KNOWN = [n for n in model_names() if n in TINY_NAMES]  # the catalog keeps the registry's order


@pytest.fixture
def app(tiny_models, monkeypatch):
    monkeypatch.setenv("AECOMPARE_MODELS", str(tiny_models))

    def make(**params) -> AppTest:
        at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=180)
        for k, v in params.items():
            at.query_params[k] = v
        return at.run()

    return make


def no_exceptions(at: AppTest) -> None:
    assert not at.exception, [e.value for e in at.exception]


def sections() -> list[tuple[str, str, str]]:
    """(tab, URL key, section) of every tab drawn one section at a time."""
    from aecompare.views import collapse, losses, q1_bce, q3_ce_vs_mse

    tabs = (("Weight collapse", "collapse", collapse), ("Losses", "losses", losses),
            ("Q1 · BCE in an autoencoder", "q1", q1_bce), ("Q3 · CE vs MSE", "q3", q3_ce_vs_mse))
    return [(tab, key, s) for tab, key, module in tabs for s in module.SECTIONS]


@pytest.mark.slow
@pytest.mark.parametrize("tab", TABS)
@pytest.mark.parametrize("models", ["all", "one", "none"])
def test_every_tab_renders(app, tab, models):
    params = {"tab": tab}
    if models == "one":
        params["models"] = "norm-sigmoid-bce"
    elif models == "none":
        params["models"] = "none"
    at = app(**params)
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    assert not at.warning, [w.value for w in at.warning]


@pytest.mark.slow
@pytest.mark.parametrize("tab,key,section", sections())
@pytest.mark.parametrize("models", ["all", "none"])
def test_every_section_renders(app, tab, key, section, models):
    at = app(tab=tab, **{key: section}, **({"models": "none"} if models == "none" else {}))
    no_exceptions(at)
    assert not at.error, [e.value for e in at.error]
    assert not at.warning, [w.value for w in at.warning]
    assert at.query_params.get(key, section) in (section, [section])  # the first section's key may be left out


@pytest.mark.slow
def test_the_default_view_draws_no_slider(app):
    """A slider's code (~130 kB with the number and date formatting it brings) is the heaviest a first page open
    would fetch: the sidebar's few-valued choices are segmented controls there, and the browser fetches the
    slider's code for the tabs that draw one while the visitor reads the first view."""
    from aecompare.views import prefetch

    at = app()
    no_exceptions(at)
    assert not at.slider and not at.select_slider
    assert at.button_group(key="sel_zoom").value == ViewState().zoom and at.button_group(key="sel_n").value == 1
    assert "Slider" in prefetch.ELEMENTS


@pytest.mark.slow
def test_url_state_round_trips(app):
    at = app(models="raw-linear-mae,norm-sigmoid-bce", digits="typed", idx="7,3", zoom="4", stretch="1")
    no_exceptions(at)
    assert not at.warning
    assert at.multiselect(key="sel_models").value == ["raw-linear-mae", "norm-sigmoid-bce"]
    assert at.text_input(key="sel_idx").value == "7, 3"
    q = dict(at.query_params)
    flat = {k: v[-1] if isinstance(v, list) else v for k, v in q.items()}
    assert flat == {"models": "raw-linear-mae,norm-sigmoid-bce", "digits": "typed", "idx": "7,3", "zoom": "4",
                    "stretch": "1"}


@pytest.mark.slow
def test_bad_url_values_warn_and_fall_back(app):
    at = app(models="../../etc/passwd,bogus", digits="everything", n="lots", zoom="99", rank="/tmp/x")
    no_exceptions(at)
    text = " ".join(w.value for w in at.warning)
    for fragment in ("unknown model", "digits=", "n='lots'", "zoom=99", "rank="):
        assert fragment in text, text
    assert at.multiselect(key="sel_models").value == KNOWN or set(at.multiselect(key="sel_models").value) == set(KNOWN)


@pytest.mark.slow
@pytest.mark.parametrize("params, key, shown", [
    ({"tab": "losses"}, "tab", "Findings"),
    ({"tab": "Losses", "losses": "Probes"}, "losses", "The yardstick"),
    ({"tab": "Losses", "losses": ""}, "losses", "The yardstick"),  # empty: Streamlit's control picks nothing
])
def test_a_tab_or_section_the_page_lacks_warns_once_and_shows_the_first(app, params, key, shown):
    at = app(**params)
    no_exceptions(at)
    assert [w.value for w in at.warning] == [f"URL: {key}={params[key]!r} is not one of "
                                             f"{', '.join(_options(key))}; showing {shown}."]
    if key == "losses":
        assert "**Every model on the same yardstick**" in [m.value for m in at.markdown]
    assert key not in at.query_params  # so the next rerun has nothing to warn about
    at.run()
    no_exceptions(at)
    assert not at.warning


def _options(key: str) -> tuple[str, ...]:
    return TABS if key == "tab" else tuple(s for _, k, s in sections() if k == key)


@pytest.mark.slow
def test_changing_digits_updates_url(app):
    at = app()
    at.selectbox(key="sel_mode").set_value("random").run()
    at.number_input(key="sel_seed").set_value(5).run()
    no_exceptions(at)
    assert at.query_params["digits"] in ("random", ["random"])
    assert at.query_params["seed"] in ("5", ["5"])


def test_parse_query_round_trip():
    s = ViewState(models=("raw-linear-mae",), mode="worst", n=7, rank_model="norm-sigmoid-bce", zoom=6)
    back, warnings = parse_query(to_query(s, KNOWN), KNOWN)
    assert warnings == []
    assert back == s


def test_parse_query_defaults_and_warnings():
    s, warnings = parse_query({}, KNOWN)
    assert s == ViewState() and warnings == []
    s, warnings = parse_query({"models": "none"}, KNOWN)
    assert s.models == () and warnings == []
    s, warnings = parse_query({"idx": "1,x", "seed": "-3", "stretch": "yes", "models": "a" * 5000}, KNOWN)
    assert s == ViewState() and len(warnings) == 4
    assert all(len(w) < 300 for w in warnings)  # long hostile values are cut in messages


@pytest.mark.slow
def test_quick_pick_names_the_models_shown(app):
    from aecompare.views.sidebar import OWN_CHOICE

    at = app()
    assert at.selectbox(key="sel_group").value == "all models"
    at = app(models="norm-sigmoid-bce")  # the only sigmoid+BCE model among the tiny ones
    assert at.selectbox(key="sel_group").value == "pair sigmoid+bce"
    at = app(models="norm-sigmoid-bce,raw-linear-mae")
    assert at.selectbox(key="sel_group").value == OWN_CHOICE
    at = app(models="none")
    assert at.selectbox(key="sel_group").value == OWN_CHOICE
    at.selectbox(key="sel_group").set_value("all models").run()
    assert at.multiselect(key="sel_models").value == KNOWN
    at.multiselect(key="sel_models").unselect("norm-softmax-bce").run()  # the rest form no group
    assert at.selectbox(key="sel_group").value == OWN_CHOICE
    no_exceptions(at)


def test_data_shared_by_every_visitor_is_read_only(tiny_models):
    """Loaded once per process and shared: an in-place change by one session must fail, not spread."""
    from aecompare.views import loaders

    catalog = loaders.catalog(str(tiny_models))
    test, error = loaders.test_set()
    assert catalog.runs and error is None
    shared = [a for r in catalog.runs for layer in r.layers for a in (layer.kernel, layer.bias)]
    shared += [a for r in catalog.runs for a in r.probes.values()]
    shared += [test.x, test.y]
    shared += list(loaders.results(str(tiny_models)).arrays.values())
    assert not [a.shape for a in shared if a.flags.writeable]
    with pytest.raises(ValueError, match="read-only"):
        catalog.runs[0].layers[0].kernel[0, 0] = 1.0
    with pytest.raises(ValueError, match="read-only"):
        test.x[0] //= 2


@pytest.mark.slow
def test_your_digit_reconstructs_a_test_digit_with_every_chosen_model(app):
    at = app(tab="Your digit", models="norm-sigmoid-bce,raw-linear-mae")
    at.radio(key="yd_source").set_value("the test set").run()
    no_exceptions(at)
    grids = [h.proto.body for h in at.get("html") if "<img" in h.proto.body]
    assert len(grids) == 1 and grids[0].count("<img") == 3  # the digit, then each model's reconstruction
    assert ">norm-sigmoid-bce<" in grids[0] and ">raw-linear-mae<" in grids[0]


def test_a_findings_picture_shows_the_test_images_of_its_models_dataset():
    """The Findings cover both datasets whichever is chosen: Fashion-MNIST runs are shown with Fashion-MNIST inputs."""
    import numpy as np

    from aecompare.data import load_test_set, unit_images
    from aecompare.evaluation import results
    from aecompare.evaluation.answers import findings
    from aecompare.store.catalog import load_catalog
    from aecompare.views.common import Context
    from aecompare.views.findings import PICTURE_ZOOM, picture
    from aecompare.views.images import strip

    catalog, mnist = load_catalog(REPO / "models"), load_test_set("mnist")
    fashion = next(f for f in findings(results.read(REPO / "models").results, 100.0) if f.key == "fashion")
    ctx = Context(str(REPO / "models"), catalog, [], mnist, np.arange(10), ViewState(dataset="mnist"))
    image, _ = picture(ctx, fashion)
    index = catalog.first_seeds(fashion.models)[0].probes["index"][::2]
    inputs = strip(unit_images(load_test_set("fashion-mnist").x[index]), PICTURE_ZOOM)
    assert np.array_equal(image[:inputs.shape[0]], inputs)


def test_the_first_page_leaves_every_tabs_module_imported_in_the_background(tiny_models):
    """`views.preload`: after the default view, every tab's module is imported by a thread of its own (a fresh
    interpreter: this one imported them all already), so the first click on a chart's tab finds Altair loaded."""
    import os
    import subprocess
    import sys

    script = f"""
import sys, threading
import aecompare
from streamlit.testing.v1 import AppTest
at = AppTest.from_file({str(REPO / "dashboard.py")!r}, default_timeout=180).run()
assert not at.exception, [e.value for e in at.exception]
for t in threading.enumerate():
    if t.name == "aecompare-preload":
        t.join(120)
missing = [m for m in {sorted(VIEW_TABS.values())!r} if "aecompare.views." + m not in sys.modules]
assert not missing, missing
print("preloaded")
"""
    done = subprocess.run([sys.executable, "-c", script], cwd=REPO, capture_output=True, text=True, timeout=300,
                          env={**os.environ, "AECOMPARE_MODELS": str(tiny_models)})
    assert done.returncode == 0 and "preloaded" in done.stdout, done.stderr[-3000:]


def test_the_curve_charts_tooltip_gives_every_models_values_at_the_hovered_epoch():
    """Losses' curve charts: hovering an epoch lists each model's test and train values there (the mean over its
    seeds), read here straight from the runs' training records."""
    import numpy as np

    from aecompare.evaluation.records import curves_frame
    from aecompare.store.catalog import load_catalog
    from aecompare.views.losses import epoch_values, seed_band

    catalog = load_catalog(REPO / "models")
    names = ["norm-sigmoid-mse", "norm-softmax-bce"]  # in the legend's order
    runs = [run for name in names for run in catalog.by_name(name)]
    values, models = epoch_values(seed_band(curves_frame(runs).query("curve.str.startswith('MSE')")), names)
    assert models == names and list(values.columns) == ["epoch", "m0", "m1"]
    rows = values.set_index("epoch")
    for column, name in zip(["m0", "m1"], names):
        seeds = catalog.by_name(name)
        assert len(seeds) > 1
        for epoch in (1, 7, seeds[0].exp.epochs):
            test = np.mean([r.history["epochs"][epoch - 1]["val_mse"] for r in seeds])
            train = np.mean([r.history["epochs"][epoch - 1]["train_mse"] for r in seeds])
            assert rows.loc[epoch, column] == f"test {test:.4g} · train {train:.4g}"
        before = np.mean([r.history["initial"]["val_mse"] for r in seeds])
        assert rows.loc[0, column] == f"test {before:.4g}"  # before training: the test set only


def test_the_yardstick_table_holds_the_viewed_datasets_baselines_only():
    """Losses' table: the chosen models and the baselines and published rows of the dataset viewed. Both datasets
    have a pca-28 and a mean image: shown together, two rows of one name would differ with nothing visible to
    tell them apart (the dataset column is off to the right)."""
    from aecompare.evaluation import results as stored_results
    from aecompare.views.losses import table_for

    table = stored_results.read(REPO / "models").results.table
    for dataset, chosen in (("mnist", ["norm-sigmoid-bce", "raw-linear-mae"]), ("fashion-mnist", [])):
        shown = table_for(table, chosen, dataset)
        others = table[(table["kind"] != "model") & (table["dataset"] == dataset)]
        assert set(shown["dataset"]) == {dataset} and shown.loc[shown["kind"] != "model", "name"].is_unique
        assert sorted(shown.loc[shown["kind"] == "model", "name"]) == sorted(
            table.loc[(table["kind"] == "model") & table["name"].isin(chosen), "name"])
        assert sorted(shown.loc[shown["kind"] != "model", "name"]) == sorted(others["name"])
        assert "pca-28" in set(shown["name"]) and list(shown.columns[:2]) == ["name", "kind"]


@pytest.mark.slow
def test_the_yardstick_shows_a_dash_where_a_row_has_no_figure(app):
    """Baselines have no seed or loss and the published rows quote one figure each: their empty cells read as a
    dash, never Streamlit's "None", and the run's name stays in view while the wide table scrolls."""
    at = app(tab="Losses")
    no_exceptions(at)
    table = at.dataframe[0]
    assert {"baseline", "published"} <= set(table.value["kind"])
    assert table.value.isna().any().any() and table.proto.placeholder == "—"
    assert json.loads(table.proto.columns)["name"]["pinned"] is True


def test_weight_collapse_panels_run_from_input_to_output_for_nets_of_two_depths():
    """Q1's net (six layers) and Q3's (four) in one chart: each panel at its layer's place, the code in the middle."""
    from aecompare.evaluation.records import layer_frame
    from aecompare.store.catalog import load_catalog
    from aecompare.views.collapse import layer_chart, layer_order

    catalog = load_catalog(REPO / "models")
    q3_first = layer_frame(catalog.first_seeds(["q3-sigmoid-bce", "norm-sigmoid-bce"]))
    order = ["hidden_1", "hidden_2", "code", "hidden_3", "hidden_4", "hidden_5", "output"]
    q1_first = layer_frame(catalog.first_seeds(["norm-sigmoid-bce", "q3-sigmoid-bce"]))
    assert layer_order(q3_first) == layer_order(q1_first) == order
    assert layer_order(layer_frame(catalog.first_seeds(["q3-sigmoid-mse"]))) == ["hidden_1", "code", "hidden_3",
                                                                                  "output"]
    spec = layer_chart(q3_first, "mean |w|", ["q3-sigmoid-bce", "norm-sigmoid-bce"]).to_dict()
    assert spec["facet"]["sort"] == order


def _colour_encodings(node) -> list[dict]:
    """Every `encoding.color` in a Vega-Lite spec, layers and facets included."""
    if isinstance(node, list):
        return [c for item in node for c in _colour_encodings(item)]
    if not isinstance(node, dict):
        return []
    own = node.get("encoding", {}).get("color") if isinstance(node.get("encoding"), dict) else None
    return [own] * isinstance(own, dict) + [c for v in node.values() for c in _colour_encodings(v)]


@pytest.mark.slow
@pytest.mark.parametrize("params", [{"tab": "Error maps"}, {"tab": "Losses", "losses": "MSE per epoch"},
                                    {"tab": "Weight collapse", "collapse": "Per layer, over epochs"}])
def test_every_chosen_model_has_a_colour_of_its_own_and_a_legend_entry(committed_catalog, monkeypatch, params):
    """All 14 committed MNIST models chosen (the default): each model-coloured chart lists them all in its colour
    scale, every one in another colour (Streamlit's palette has ten: it drew two models alike), and a single chart
    keeps its height for the plot, so the legend of 14 is not cut off (`common.chart_spec`)."""
    monkeypatch.delenv("AECOMPARE_MODELS", raising=False)
    chosen = [r.name for r in committed_catalog.first_seeds() if r.exp.dataset == "mnist"]
    assert len(chosen) > 10
    at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=180)
    for k, v in params.items():
        at.query_params[k] = v
    at.run()
    no_exceptions(at)
    specs = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    assert specs
    for spec in specs:
        by_model = [c for c in _colour_encodings(spec) if c.get("field") in ("model", "name")]
        assert by_model, spec.get("title")
        for colour in by_model:
            assert colour["scale"]["domain"] == chosen
            assert len(set(colour["scale"]["range"])) == len(chosen)
        if "facet" not in spec:
            assert spec["autosize"]["type"] == "fit-x"


@pytest.mark.slow
def test_the_reconstructions_table_gives_each_digits_mse_per_model(app, tiny_models, mnist):
    """A markdown table (one row per digit, one column per model): each digit's MSE on [0, 1], as the models'
    own outputs give it."""
    import numpy as np

    from aecompare.store.catalog import load_catalog

    at = app(tab="Reconstructions", models="norm-sigmoid-bce,raw-linear-mae", digits="typed", idx="7,3")
    no_exceptions(at)
    tables = [m.value for m in at.markdown if m.value.startswith("| digit")]
    assert len(tables) == 1, [m.value[:40] for m in at.markdown]
    header, _, *rows = [[cell.strip() for cell in line.strip("|").split("|")] for line in tables[0].splitlines()]
    assert header[0] == "digit" and sorted(header[1:]) == ["norm-sigmoid-bce", "raw-linear-mae"]
    assert [row[0] for row in rows] == [f"#7 · {mnist.test_y[7]}", f"#3 · {mnist.test_y[3]}"]
    x = mnist.test_x[[7, 3]].reshape(2, -1) / 255.0
    runs = {r.name: r for r in load_catalog(tiny_models).first_seeds()}
    for column, name in enumerate(header[1:], start=1):
        expected = np.mean((runs[name].reconstruct(x) - x) ** 2, axis=1)
        assert [row[column] for row in rows] == [f"{e:.4f}" for e in expected], name


@pytest.mark.slow
@pytest.mark.parametrize("dataset, item, word, names, chance", [
    ("mnist", "digit", "digit", "0123456789", "0.11"),
    ("fashion-mnist", "image", "class", ["T-shirt/top", "Trouser", "Sneaker", "Ankle boot"], "0.10"),
])
def test_classes_are_named_as_the_dataset_names_them(two_datasets_models, monkeypatch, mnist, fashion_mnist,
                                                     dataset, item, word, names, chance):
    """Fashion-MNIST's labels are clothes, not digits: the Latent legend, its chance level (always answering the
    commonest class of that test set), the rows of Reconstructions and the sidebar's picker name them so."""
    from collections import Counter

    monkeypatch.setenv("AECOMPARE_MODELS", str(two_datasets_models))
    y = (mnist if dataset == "mnist" else fashion_mnist).test_y
    assert f"{Counter(y.tolist()).most_common(1)[0][1] / len(y):.2f}" == chance

    def run(**params) -> AppTest:
        at = AppTest.from_file(str(REPO / "dashboard.py"), default_timeout=180)
        for k, v in {"dataset": dataset, **params}.items():
            at.query_params[k] = v
        return at.run()

    at = run(tab="Latent")
    no_exceptions(at)
    caption = " ".join(c.value for c in at.caption)
    assert f"coloured by its true {word}." in caption and f"(chance {chance}: always answering the commonest {word})" \
        in caption
    legend = next(h.proto.body for h in at.get("html") if "●" in h.proto.body)
    assert legend.startswith(f"<div style='font-size:0.9em'>{word}:") and all(n in legend for n in names)
    at = run(tab="Reconstructions")
    no_exceptions(at)
    table = next(m.value for m in at.markdown if m.value.lstrip().startswith("|"))
    expected = "| #0 · 7 " if dataset == "mnist" else "| #0 · Ankle boot "
    assert expected in table, table
    assert at.selectbox(key="sel_mode").label == f"Choose {item}s by"
    if dataset == "fashion-mnist":  # the picker's words change with the dataset, the visitor's choice stays
        at.selectbox(key="sel_mode").set_value("random").run()
        at.radio(key="sel_dataset").set_value("mnist").run()
        no_exceptions(at)
        assert at.selectbox(key="sel_mode").label == "Choose digits by"
        assert at.selectbox(key="sel_mode").value == "random"


def test_the_per_class_chart_names_each_class_in_label_order():
    import pandas as pd

    from aecompare.data import DATASETS
    from aecompare.views.errors import class_chart

    classes = DATASETS["fashion-mnist"].classes
    rows = pd.DataFrame({"name": "m", "label": [9, 0], "class": [classes[9], classes[0]], "mse": [0.1, 0.2],
                         "mae": [0.2, 0.3]})
    spec = class_chart(rows, ["m"], classes, "class").to_dict()
    assert spec["encoding"]["x"]["field"] == "class" and spec["encoding"]["x"]["sort"] == list(classes)
    assert spec["encoding"]["x"]["title"] == "true class" and spec["title"].startswith("MSE per class")
