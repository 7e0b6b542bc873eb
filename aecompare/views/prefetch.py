"""The code of the charts, images and tables the tabs draw, fetched by a visitor's browser while it shows the first
view, so that the first click on such a tab does not wait for it.

Streamlit's frontend loads each kind of element's code when the page first shows one (Vite's code splitting): a
visitor's first chart waits for ~1 MB of chart code to be fetched and compiled, a few round trips over the internet
from Community Cloud. Streamlit's build lists its files in `static/manifest.json` (Vite's build manifest: each
chunk's file, its name and the chunks it imports); the page asks the browser to preload the chunks named in
`ELEMENTS`, with what they import, as Streamlit's own index.html preloads its main bundle (`<link
rel="modulepreload">`: fetched and compiled, run only when the element first draws). A name a later Streamlit no
longer has is skipped (that tab then loads its code on the first click, as before) and tests/test_prefetch.py
fails.

Fetched code still runs slowly the first time: V8 compiles each function on its first call, so a browser's first
chart cost it ~0.1 s more than the next. Once the chart code is in, and while the visitor reads (no click or key
for `QUIET_MS`, no chart drawn yet), the script draws `WARM_SPEC` once out of sight with the Vega that Streamlit's
charts use (its `loadVegaEmbed` chunk, called as Streamlit calls it) and removes it: ~0.15 s of the browser's
time that the first chart's click no longer waits for. A visitor clicking through the tabs is never made to wait
for it. `window.aecompareVegaWarmed` holds the milliseconds it took, or why it failed (the page works as before).
"""

from __future__ import annotations

import functools
import json
import re
from pathlib import Path

import streamlit as st

# Streamlit's names for the element kinds the tabs draw and the default view does not, fetched in this order
ELEMENTS = ("ArrowVegaLiteChart", "ImageList", "DataFrame", "Slider", "FileUploader", "NumberInput", "TextInput")
BATCH = 12  # files fetched at a time (6, 12, 26 alike here; fewer round trips from Cloud): all at once, a tab
# clicked meanwhile waited for ~2.7 MB to be compiled
QUIET_MS = 1000  # no click or key for this long: the visitor is reading
# a chart like the tabs' (bars side by side per class, a colour legend, tooltips, a line layer), for Vega's first run
WARM_SPEC = {
    "$schema": "https://vega.github.io/schema/vega-lite/v6.json",
    "data": {"values": [{"model": model, "class": str(c), "mse": 0.01 * (c + 1) * (m + 1)}
                        for m, model in enumerate(("a", "b")) for c in range(10)]},
    "width": 400, "height": 120, "title": "warm-up",
    "layer": [
        {"mark": "bar", "encoding": {
            "x": {"field": "class", "type": "nominal", "axis": {"labelAngle": 0}},
            "xOffset": {"field": "model", "type": "nominal"},
            "y": {"field": "mse", "type": "quantitative", "title": "MSE"},
            "color": {"field": "model", "type": "nominal"},
            "tooltip": [{"field": "model", "type": "nominal"}, {"field": "mse", "type": "quantitative",
                                                                "format": ".4f"}]}},
        {"mark": {"type": "line", "point": True}, "encoding": {
            "x": {"field": "class", "type": "nominal"},
            "y": {"field": "mse", "type": "quantitative", "aggregate": "mean"}}},
    ],
}
MANIFEST = Path(st.__file__).parent / "static" / "manifest.json"

SCRIPT = """<script>
(() => {
  if (window.aecomparePrefetch) return;
  window.aecomparePrefetch = true;
  const index = document.querySelector('script[type="module"][src*="static/js/index."]');
  if (!index) return;
  const root = new URL("../../", index.src);
  const files = FILES;
  const preload = (file) => new Promise((loaded) => {
    const link = document.createElement("link");
    link.rel = file.endsWith(".css") ? "preload" : "modulepreload";
    if (file.endsWith(".css")) link.as = "style";
    link.crossOrigin = "";
    link.href = new URL(file, root).href;
    link.onload = link.onerror = loaded;
    document.head.appendChild(link);
  });
  const idle = () => new Promise((go) => window.requestIdleCallback ? requestIdleCallback(go, { timeout: 2000 })
                                                                    : setTimeout(go, 50));
  let lastInput = 0;
  for (const kind of ["pointerdown", "keydown"]) {
    document.addEventListener(kind, () => { lastInput = performance.now(); }, { capture: true, passive: true });
  }
  const warmVega = async () => {
    const start = performance.now();
    const module = await import(new URL(VEGA_LOADER, root).href);
    const load = Object.values(module).find((f) => typeof f === "function");
    const { embed, expressionInterpreter } = await load();
    const box = document.createElement("div");
    box.style.cssText = "position:absolute;left:-10000px;top:0;width:480px;visibility:hidden";
    document.body.appendChild(box);
    try {
      const drawn = await embed(box, WARM_SPEC, { ast: true, expr: expressionInterpreter, actions: false,
                                                 tooltip: { disableDefaultStyle: true }, defaultStyle: false });
      drawn.finalize();
    } finally {
      box.remove();
    }
    return performance.now() - start;
  };
  const warmWhileReading = async () => {
    for (let tries = 0; tries < 60; tries++) {
      if (document.querySelector(".vega-embed")) return "a chart was drawn first";
      if (performance.now() - lastInput > QUIET_MS) return warmVega();
      await new Promise((go) => setTimeout(go, 250));
      await idle();
    }
    return "the visitor kept clicking";
  };
  // BATCH files at a time, each batch once the last is compiled and the browser is idle: the first view is drawn
  // first (this is its last element), and so is a tab clicked meanwhile.
  (async () => {
    let warming = !VEGA_LOADER;
    for (let i = 0; i < files.length; i += BATCH) {
      await idle();
      await Promise.all(files.slice(i, i + BATCH).map(preload));
      if (!warming && i + BATCH >= CHART_FILES) {  // the chart code is in
        warming = true;
        warmWhileReading().then((result) => { window.aecompareVegaWarmed = result; },
                                (error) => { window.aecompareVegaWarmed = String(error); });
      }
    }
  })();
})();
</script>"""


def chunk_files(manifest: dict, names: tuple[str, ...] = ELEMENTS) -> list[str]:
    """The files (relative to Streamlit's static folder) of the lazily loaded chunks called `names`, with every
    chunk they import and their style sheets, less what the page's entry point loads already: in the order of
    `names`, each file once."""

    def closure(keys) -> set[str]:
        seen, todo = set(), list(keys)
        while todo:
            key = todo.pop()
            if key not in seen and key in manifest:
                seen.add(key)
                todo += manifest[key].get("imports", [])
        return seen

    entry = next((key for key, chunk in manifest.items() if chunk.get("isEntry")), None)
    if entry is None:
        return []
    dynamic = {manifest[key].get("name"): key for key in manifest[entry].get("dynamicImports", []) if key in manifest}
    loaded, files = closure([entry]), []
    for name in names:
        chunks = closure([dynamic[name]]) - loaded if name in dynamic else set()
        loaded |= chunks
        files += sorted({manifest[key]["file"] for key in chunks} | {css for key in chunks
                                                                     for css in manifest[key].get("css", [])})
    return files


def vega_loader(manifest: dict) -> str:
    """The file of Streamlit's `loadVegaEmbed` chunk (it loads vega-embed and Vega's expression interpreter for every
    chart), or "" if this Streamlit has none."""
    return next((chunk["file"] for chunk in manifest.values() if chunk.get("name") == "loadVegaEmbed"), "")


@functools.cache
def script() -> str:
    """The `<script>` that adds the preload links and warms Vega once per page ("" if Streamlit's manifest is
    unreadable; no warm-up if it lists no chart code)."""
    try:
        manifest = json.loads(MANIFEST.read_text())
        files = chunk_files(manifest)
        charts = len(chunk_files(manifest, ELEMENTS[:1]))
        loader = vega_loader(manifest) if charts else ""
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return ""
    if not files:
        return ""
    values = {"FILES": files, "BATCH": BATCH, "CHART_FILES": charts, "VEGA_LOADER": loader, "QUIET_MS": QUIET_MS,
              "WARM_SPEC": WARM_SPEC}
    # as JSON, and no file name or value can end the script element
    return re.sub(r"\b(" + "|".join(values) + r")\b",
                  lambda name: json.dumps(values[name[0]]).replace("</", "<\\/"), SCRIPT)


def render() -> None:
    """The script, as an element of no height at the end of the page (it runs once per browser tab)."""
    html = script()
    if html:
        st.html(html, unsafe_allow_javascript=True)
