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
"""

from __future__ import annotations

import functools
import json
from pathlib import Path

import streamlit as st

# Streamlit's names for the element kinds the tabs draw and the default view does not, fetched in this order
ELEMENTS = ("ArrowVegaLiteChart", "ImageList", "DataFrame", "Slider", "FileUploader", "NumberInput", "TextInput")
BATCH = 12  # files fetched at a time (6, 12, 26 alike here; fewer round trips from Cloud): all at once, a tab
# clicked meanwhile waited for ~2.7 MB to be compiled
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
  // BATCH files at a time, each batch once the last is compiled and the browser is idle: the first view is drawn
  // first (this is its last element), and so is a tab clicked meanwhile.
  (async () => {
    for (let i = 0; i < files.length; i += BATCH) {
      await idle();
      await Promise.all(files.slice(i, i + BATCH).map(preload));
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


@functools.cache
def script() -> str:
    """The `<script>` that adds the preload links once per page ("" if Streamlit's manifest is unreadable)."""
    try:
        files = chunk_files(json.loads(MANIFEST.read_text()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return ""
    if not files:
        return ""
    listed = json.dumps(files).replace("</", "<\\/")  # a file name can never end the script element
    return SCRIPT.replace("FILES", listed).replace("BATCH", str(BATCH))


def render() -> None:
    """The script, as an element of no height at the end of the page (it runs once per browser tab)."""
    html = script()
    if html:
        st.html(html, unsafe_allow_javascript=True)
