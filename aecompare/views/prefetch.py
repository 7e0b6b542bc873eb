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

ELEMENTS = ("ArrowVegaLiteChart", "ImageList", "DataFrame", "Table", "Slider", "FileUploader", "NumberInput",
            "TextInput")  # Streamlit's names for the element kinds the tabs draw and the default view does not
MANIFEST = Path(st.__file__).parent / "static" / "manifest.json"

SCRIPT = """<script>
(() => {
  if (window.aecomparePrefetch) return;
  window.aecomparePrefetch = true;
  const index = document.querySelector('script[type="module"][src*="static/js/index."]');
  if (!index) return;
  const root = new URL("../../", index.src);
  const preload = () => FILES.forEach((file) => {
    const link = document.createElement("link");
    link.rel = file.endsWith(".css") ? "preload" : "modulepreload";
    if (file.endsWith(".css")) link.as = "style";
    link.crossOrigin = "";
    link.href = new URL(file, root).href;
    document.head.appendChild(link);
  });
  // When the browser is next idle: after the first view's own drawing (this is its last element).
  if (window.requestIdleCallback) requestIdleCallback(preload, { timeout: 2000 });
  else setTimeout(preload, 1000);
})();
</script>"""


def chunk_files(manifest: dict, names: tuple[str, ...] = ELEMENTS) -> list[str]:
    """The files (relative to Streamlit's static folder) of the lazily loaded chunks called `names`, with every
    chunk they import and their style sheets, less what the page's entry point loads already."""

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
    lazy = [key for key in manifest[entry].get("dynamicImports", []) if manifest.get(key, {}).get("name") in names]
    chunks = closure(lazy) - closure([entry])
    return sorted({manifest[key]["file"] for key in chunks} | {css for key in chunks
                                                               for css in manifest[key].get("css", [])})


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
    return SCRIPT.replace("FILES", listed)


def render() -> None:
    """The script, as an element of no height at the end of the page (it runs once per browser tab)."""
    html = script()
    if html:
        st.html(html, unsafe_allow_javascript=True)
