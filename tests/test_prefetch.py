"""The element code a visitor's browser fetches ahead of the first click (`aecompare.views.prefetch`): found in the
installed Streamlit's build manifest, and chosen by its imports."""

from __future__ import annotations

import json

from aecompare.views import prefetch


def test_every_element_kind_is_found_in_the_installed_streamlit():
    """Fails when a Streamlit upgrade renames a chunk: that tab would then load its code on the first click again."""
    manifest = json.loads(prefetch.MANIFEST.read_text())
    static = prefetch.MANIFEST.parent
    every = prefetch.chunk_files(manifest)
    for name in prefetch.ELEMENTS:
        files = prefetch.chunk_files(manifest, (name,))
        assert any(f.split("/")[-1].startswith(f"{name}.") for f in files), f"no chunk called {name}"
        assert set(files) <= set(every)
    assert all((static / f).is_file() for f in every)
    assert not any(f.split("/")[-1].startswith("index.") for f in every)  # the page has it already
    script = prefetch.script()
    assert script.startswith("<script>") and all(json.dumps(f) in script for f in every)
    assert f"i += {prefetch.BATCH})" in script and "FILES" not in script
    assert script.count(json.dumps(every)) == 1  # the list is written into the page once


def test_the_vega_warm_up_calls_the_chart_code_the_prefetch_fetches():
    """Fails when a Streamlit upgrade renames the chunk that loads Vega for every chart: the warm-up would then
    load nothing (tests/test_browser.py checks it runs)."""
    manifest = json.loads(prefetch.MANIFEST.read_text())
    loader = prefetch.vega_loader(manifest)
    assert loader.split("/")[-1].startswith("loadVegaEmbed.")
    chart_code = prefetch.chunk_files(manifest, prefetch.ELEMENTS[:1])
    assert prefetch.ELEMENTS[0] == "ArrowVegaLiteChart" and loader in prefetch.chunk_files(manifest)
    loads = next(chunk for chunk in manifest.values() if chunk["file"] == loader)["dynamicImports"]
    assert {manifest[key]["file"] for key in loads} <= set(chart_code)  # the Vega the charts run
    script = prefetch.script()
    assert f"import(new URL({json.dumps(loader)}, root)" in script
    assert f"i + {prefetch.BATCH} >= {len(chart_code)}" in script  # warmed once the chart code's batches are in
    assert json.dumps(prefetch.WARM_SPEC) in script and f"> {prefetch.QUIET_MS})" in script
    assert not any(name in script for name in ("VEGA_LOADER", "CHART_FILES", "QUIET_MS", "WARM_SPEC"))


def test_the_chunks_imports_are_fetched_with_them_and_the_pages_own_code_is_not():
    manifest = {
        "index.html": {"file": "static/js/index.1.js", "isEntry": True, "imports": ["_react.js"],
                       "dynamicImports": ["src/Chart.tsx", "src/Other.tsx", "_Grid.js"]},
        "_react.js": {"file": "static/js/react.2.js"},
        "src/Chart.tsx": {"file": "static/js/Chart.3.js", "name": "Chart", "imports": ["_vega.js", "_react.js"],
                          "dynamicImports": ["src/Other.tsx"]},
        "_vega.js": {"file": "static/js/vega.4.js", "imports": ["_util.js"]},
        "_util.js": {"file": "static/js/util.5.js"},
        "src/Other.tsx": {"file": "static/js/Other.6.js", "name": "Other"},
        "_Grid.js": {"file": "static/js/Grid.7.js", "name": "Grid", "css": ["static/css/Grid.8.css"]},
    }
    assert prefetch.chunk_files(manifest, ("Chart",)) == ["static/js/Chart.3.js", "static/js/util.5.js",
                                                          "static/js/vega.4.js"]
    assert prefetch.chunk_files(manifest, ("Grid", "Missing")) == ["static/css/Grid.8.css", "static/js/Grid.7.js"]
    assert prefetch.chunk_files(manifest, ("Missing",)) == []
    # in the order asked for, a chunk two of them import once, with the first
    assert prefetch.chunk_files(manifest, ("Other", "Chart", "Grid")) == [
        "static/js/Other.6.js", "static/js/Chart.3.js", "static/js/util.5.js", "static/js/vega.4.js",
        "static/css/Grid.8.css", "static/js/Grid.7.js"]
    manifest["src/Other.tsx"]["imports"] = ["_util.js"]
    assert prefetch.chunk_files(manifest, ("Other", "Chart")) == [
        "static/js/Other.6.js", "static/js/util.5.js", "static/js/Chart.3.js", "static/js/vega.4.js"]
    assert prefetch.chunk_files({"x": {"file": "x.js"}}) == []  # no entry point: nothing to preload


def test_a_file_name_cannot_end_the_script_element(monkeypatch, tmp_path):
    manifest = {"index.html": {"file": "static/js/index.1.js", "isEntry": True, "dynamicImports": ["c"]},
                "c": {"file": "static/js/</script><b>.js", "name": "ImageList"}}
    (tmp_path / "manifest.json").write_text(json.dumps(manifest))
    monkeypatch.setattr(prefetch, "MANIFEST", tmp_path / "manifest.json")
    prefetch.script.cache_clear()
    try:
        script = prefetch.script()
        assert script.count("</script>") == 1 and "<\\/script><b>.js" in script
        assert "let warming = !\"\";" in script  # no chart code listed: no warm-up
        (tmp_path / "manifest.json").write_text("{not json")
        prefetch.script.cache_clear()
        assert prefetch.script() == ""  # unreadable: no prefetch, the page works as before
    finally:
        prefetch.script.cache_clear()
