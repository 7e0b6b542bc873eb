"""A real `streamlit run` opened in headless Debian Chromium: the findings page, its evidence links, the
verdicts, downloads, two screen widths, the dataset switch, the chart code fetched ahead, and the server's
warm start. Saves docs/findings-1280.png, -390.png."""

from __future__ import annotations

import csv
import io
import os
import re
import time
import urllib.request
from urllib.parse import parse_qs, urlparse

import pytest

from aecompare.data import load_test_set, unit_images
from aecompare.evaluation import results as stored_results
from aecompare.evaluation.answers import findings
from aecompare.maths.diagnostics import verdict
from aecompare.maths.explain import lit_pixel_counts
from aecompare.store.catalog import load_catalog
from benchmarks.streamlit_server import (
    ARGS,
    CHROMIUM,
    COMMITTED_MODELS,
    REPO,
    chromium_available,
    count_errors,
    done_count,
    free_port,
    start_server,
    stop_server,
    wait_settled,
)

pytestmark = pytest.mark.browser


def _need_chromium():
    if not chromium_available():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    return pytest.importorskip("playwright.sync_api")


@pytest.fixture(scope="module")
def served():
    """A server over the committed models and a headless Chromium; yields (base URL, browser)."""
    sync_api = _need_chromium()
    port = free_port()
    server = start_server(port, COMMITTED_MODELS)
    try:
        with sync_api.sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            yield f"http://127.0.0.1:{port}/", browser
            browser.close()
    finally:
        stop_server(server)


def open_page(browser, url: str, width: int = 1280):
    page = browser.new_page(viewport={"width": width, "height": 1000}, accept_downloads=True)
    from benchmarks.streamlit_server import OBSERVER_JS

    page.add_init_script(OBSERVER_JS)
    page.goto(url, timeout=120_000)
    wait_settled(page, done=1, timeout_ms=180_000)
    return page


def shown_text(page) -> str:
    return re.sub(r"\s+", " ", page.locator('[data-testid="stMain"]').inner_text())


def markdown_text(markdown: str) -> str:
    return re.sub(r"\s+", " ", markdown.replace("**", "").replace("`", ""))


def selected_tab(page) -> str:
    return page.locator('[data-testid="stTab"][aria-selected="true"]').inner_text().strip()


def chosen_models(page) -> list[str]:
    """The models selected in the sidebar's multiselect, as its tags name them."""
    tags = page.locator('[data-testid="stSidebar"] [data-testid="stMultiSelect"] .react-aria-ComboBox [data-tag]')
    return [tags.nth(i).get_attribute("aria-label") for i in range(tags.count())]


def no_errors(page) -> None:
    assert count_errors(page) == {"exceptions": 0, "error_boxes": 0}


@pytest.fixture(scope="module")
def expected_findings():
    stored = stored_results.read(COMMITTED_MODELS)
    assert stored is not None, "models/ holds no stored results: python -m aecompare.evaluate --write"
    x = unit_images(load_test_set("mnist").x)
    return stored.results, findings(stored.results, float(lit_pixel_counts(x).mean()))


def test_findings_page_states_the_evaluations_figures(served, expected_findings):
    base, browser = served
    table, found = expected_findings[0].table, expected_findings[1]
    page = open_page(browser, base)
    assert selected_tab(page) == "Findings"
    no_errors(page)
    text = shown_text(page)
    assert len(found) >= 6
    for f in found:
        assert markdown_text(f.title) in text, f.key
        assert markdown_text(f.statement) in text, f.key
    # the figures the statements carry are the evaluation table's own numbers
    runs = table[table["kind"] == "model"]
    models = runs.groupby("name")[["mse", "probe_accuracy"]].mean()  # a model's figure: the mean over its seeds
    mnist = table[(table["kind"] != "model") & (table["dataset"] == "mnist")].set_index("name")
    by_key = {f.key: f.figures for f in found}
    assert by_key["pca"]["pca30_sse"] == mnist.loc["pca-30", "sse_per_image"]
    assert by_key["softmax"]["mse"] == models.loc["norm-softmax-bce", "mse"]
    assert by_key["softmax"]["blob_mse"] == mnist.loc["mean-image", "mse"]
    assert by_key["codes"]["softmax_probe"] == models.loc["norm-softmax-bce", "probe_accuracy"]
    with page.expect_download() as picture:  # a finding's picture downloads as a PNG named after the finding
        page.get_by_role("link", name="Download the picture (PNG)").first.click()
    assert picture.value.suggested_filename == f"aecompare-finding-{found[0].key}.png"
    with open(picture.value.path(), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    for size in (1280, 390):
        page.set_viewport_size({"width": size, "height": 1000})
        page.wait_for_timeout(800)
        no_errors(page)
        page.screenshot(path=str(REPO / "docs" / f"findings-{size}.png"), full_page=False)
    page.close()


def test_every_evidence_link_opens_its_view(served, expected_findings):
    base, browser = served
    found = expected_findings[1]
    page = open_page(browser, base)
    links = page.locator('[data-testid="evidence-link"]')
    assert links.count() == len(found)
    targets = {links.nth(i).get_attribute("data-finding"): links.nth(i).get_attribute("href")
               for i in range(links.count())}
    page.close()
    for f in found:
        page = open_page(browser, base + targets[f.key])
        no_errors(page)
        assert selected_tab(page) == f.evidence["tab"], f.key
        query = {k: v[-1] for k, v in parse_qs(urlparse(page.url).query).items()}
        for key, value in f.evidence.items():  # the models, dataset, display and the tab's section
            if key != "tab":
                assert query.get(key) == value, (f.key, key, page.url)
        expected = [] if f.evidence.get("models") == "none" else f.evidence["models"].split(",")
        assert chosen_models(page) == expected, f.key
        page.close()


def test_each_models_verdict_agrees_with_its_output_statistics(served, expected_findings):
    base, browser = served
    results = expected_findings[0]
    catalog = load_catalog(COMMITTED_MODELS)
    page = open_page(browser, base)
    page.locator('[data-testid="stSidebar"]').get_by_text("The models", exact=True).click()
    page.wait_for_timeout(500)
    legend = re.sub(r"\s+", " ", page.locator('[data-testid="stSidebar"]').inner_text())
    for run in catalog.first_seeds():
        if run.exp.dataset != "mnist":
            continue
        stats = results.output_stats(run.name, run.seed)
        label = verdict(run.history.get("diverged_epoch"), stats, run.history["epochs"][-1]["layers"][:-1])[0]
        line = legend[legend.index(run.name + " —"):][:400]
        assert label in line.split(";")[1], (run.name, line)
        if label == "blob":
            assert stats["relative_spread"] < 0.05
        if label in ("healthy", "right shape, wrong scale"):
            assert stats["input_correlation"] >= 0.8 and stats["relative_spread"] >= 0.05
        if label == "right shape, wrong scale":
            assert not 0.2 <= stats["scale_ratio"] <= 5
    page.close()


def test_a_grid_downloads_as_png_and_the_table_as_csv(served):
    base, browser = served
    page = open_page(browser, base + "?tab=Reconstructions&models=norm-sigmoid-bce,norm-softmax-bce")
    with page.expect_download() as png:
        page.get_by_role("button", name="Download this grid (PNG)").click()
    name = png.value.suggested_filename
    assert name.startswith("aecompare-reconstructions-norm-softmax-bce+norm-sigmoid-bce-digits-"), name
    assert name.endswith(".png")
    with open(png.value.path(), "rb") as f:
        assert f.read(8) == b"\x89PNG\r\n\x1a\n"
    page.close()
    page = open_page(browser, base + "?tab=Losses")
    with page.expect_download() as table:
        page.get_by_role("button", name="Download the table (CSV, all rows, with settings)").click()
    rows = list(csv.DictReader(io.StringIO(open(table.value.path()).read())))
    first = next(r for r in rows if r["kind"] == "model")
    assert first["seed"] in ("0", "1", "2") and first["epochs"] == "100"
    page.close()


def test_the_dataset_switch_is_kept_in_the_url(served, two_datasets_models):
    _, browser = served  # one Playwright per process: reuse its browser for a second server
    port = free_port()
    server = start_server(port, two_datasets_models)
    try:
        page = open_page(browser, f"http://127.0.0.1:{port}/?tab=Reconstructions")
        page.locator('[data-testid="stSidebar"]').get_by_text("Fashion-MNIST", exact=True).click()
        wait_settled(page, done=2, timeout_ms=120_000)
        assert parse_qs(urlparse(page.url).query).get("dataset") == ["fashion-mnist"]
        text = shown_text(page)
        assert "test image(s) of Fashion-MNIST" in text and "#0 · Ankle boot" in text  # its images are clothes
        no_errors(page)
        page.close()
        page = open_page(browser, f"http://127.0.0.1:{port}/?tab=Losses&dataset=fashion-mnist")
        assert chosen_models(page) == ["fashion-norm-sigmoid-bce"]
        no_errors(page)
        page.close()
    finally:
        stop_server(server)


CHART_CODE = "/ArrowVegaLiteChart."  # Streamlit's chunk of chart code (Vega-Lite), ~1 MB with what it imports
FETCHED_JS = """(part) => performance.getEntriesByType("resource").filter((e) => e.name.includes(part))
                                .map((e) => e.responseEnd > 0)"""


def test_the_first_chart_finds_its_code_fetched_while_the_default_view_was_read(served):
    """`views.prefetch`: once the default view is drawn, the browser preloads the code of the charts, images and
    tables the other tabs draw; the first click on a chart's tab then fetches none of it again."""
    url, browser = served
    page = open_page(browser, url)
    assert selected_tab(page) == "Findings"
    page.wait_for_selector(f'link[rel="modulepreload"][href*="{CHART_CODE}"]', state="attached", timeout=30_000)
    page.wait_for_function(f"() => ({FETCHED_JS})({CHART_CODE!r}).some(Boolean)", timeout=60_000)
    runs = done_count(page)
    page.locator('[data-testid="stTab"]', has_text="Error maps").click()
    wait_settled(page, done=runs + 1, timeout_ms=180_000)
    assert page.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg').count() >= 1
    assert page.evaluate(FETCHED_JS, CHART_CODE) == [True]  # fetched once, before the click
    no_errors(page)
    page.close()


def test_the_prefetch_goes_on_batch_after_batch_until_every_file_is_fetched(served):
    """The prefetch adds its files `prefetch.BATCH` at a time, each batch when the last has loaded: the chain
    reaches the last file, and each file is fetched once."""
    import json

    from aecompare.views import prefetch

    files = prefetch.chunk_files(json.loads(prefetch.MANIFEST.read_text()))
    assert len(files) > 2 * prefetch.BATCH  # more than two batches: the chain is exercised
    url, browser = served
    page = open_page(browser, url)
    page.wait_for_function(f"(files) => files.every((f) => ({FETCHED_JS})('/' + f).some(Boolean))", arg=files,
                           timeout=60_000)
    assert all(page.evaluate(FETCHED_JS, "/" + f) == [True] for f in files)
    no_errors(page)
    page.close()


WARMED_VEGA = "() => window.aecompareVegaWarmed !== undefined"


def test_vega_runs_once_out_of_sight_while_the_first_view_is_read(served):
    """`views.prefetch` draws a chart with Streamlit's Vega out of sight once its code is in, while the visitor
    reads: it finishes (a time in ms, not an error), leaves nothing on the page, and the first chart then draws
    as usual. A visitor whose page already shows a chart is spared it."""
    url, browser = served
    page = open_page(browser, url)
    page.wait_for_function(WARMED_VEGA, timeout=60_000)
    warmed = page.evaluate("window.aecompareVegaWarmed")
    assert isinstance(warmed, (int, float)) and warmed > 0, warmed
    assert page.locator(".vega-embed").count() == 0  # the warm-up's chart is gone
    runs = done_count(page)
    page.locator('[data-testid="stTab"]', has_text="Error maps").click()
    wait_settled(page, done=runs + 1, timeout_ms=180_000)
    assert page.locator('[data-testid="stVegaLiteChart"] canvas, [data-testid="stVegaLiteChart"] svg').count() >= 1
    no_errors(page)
    page.close()

    page = open_page(browser, url + "?tab=Error+maps")
    page.wait_for_function(WARMED_VEGA, timeout=60_000)
    assert page.evaluate("window.aecompareVegaWarmed") == "a chart was drawn first"
    no_errors(page)
    page.close()


def cache_lookups(port: int) -> dict[tuple[str, str], int]:
    """Streamlit's count of lookups per cached function and result ("hit" / "miss"), from its metrics endpoint."""
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/metrics", timeout=10).read().decode()
    return {(m["cache"], m["result"]): int(m["n"]) for m in re.finditer(
        r'^cache_lookups_total\{cache="(?P<cache>[^"]+)",cache_type="[^"]+",result="(?P<result>\w+)"\} (?P<n>\d+)$',
        text, re.MULTILINE)}


WARMED = ["loaders.catalog", "loaders.test_set", "loaders._fresh_stored", "loaders.legend_lines", "findings.drawn"]


def test_the_server_computes_the_default_view_before_its_first_visitor(served):
    """`streamlit run dashboard.py` serves `dashboard.app`, whose start computes the default view's data
    (`views.warm.warm_up`); the first visitor's page reads it from the caches and computes none of it again."""
    _, browser = served
    port = free_port()
    server = start_server(port, COMMITTED_MODELS)
    try:
        deadline = time.time() + 180
        while (before := cache_lookups(port)).get(("aecompare.views.findings.drawn", "miss"), 0) == 0:
            assert time.time() < deadline, f"no warm-up seen in 180 s: {before}"
            time.sleep(0.2)
        for name in WARMED:  # computed before anyone visits (test_set: once per dataset)
            assert before.get((f"aecompare.views.{name}", "miss"), 0) >= 1, name
        page = open_page(browser, f"http://127.0.0.1:{port}/")
        assert selected_tab(page) == "Findings" and page.get_by_text("See the evidence").count() >= 6
        no_errors(page)
        page.close()
        after = cache_lookups(port)
        for name in WARMED:  # read, not computed again
            assert after[(f"aecompare.views.{name}", "miss")] == before[(f"aecompare.views.{name}", "miss")], name
            assert after[(f"aecompare.views.{name}", "hit")] > before[(f"aecompare.views.{name}", "hit")], name
    finally:
        stop_server(server)
