"""A real `streamlit run dashboard.py` on 127.0.0.1 and helpers to watch it from headless Chromium.

Shared by tests/test_browser.py, benchmarks/dashboard.py and benchmarks/ws_load.py.
Only ever binds and connects to 127.0.0.1.

Render detection: Streamlit puts the script state on the app root
(`[data-testid="stApp"][data-test-script-state]`: initial / running / notRunning / rerunRequested ...).
`OBSERVER_JS` (installed with `page.add_init_script`) counts how often it became `notRunning`, so a
caller can wait for *the* rerun its action started, not an earlier one. A run that finishes quickly can
pass unseen there (React renders running and notRunning in one batch: seen in about one tab switch in
thirty), so it also counts the server's `script_finished` messages on the page's websocket, each two
frames after it arrived (time for the frontend to apply it). `SETTLED_JS` then waits until what the
run sent is drawn: images loaded, Vega-Lite charts painted, dataframes drawn (see there).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
COMMITTED_MODELS = REPO / "models"
CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
LOCALHOST = "127.0.0.1"


def chromium_available() -> bool:
    return bool(shutil.which(CHROMIUM)) or os.path.exists(CHROMIUM)


def free_port() -> int:
    with socket.socket() as s:
        s.bind((LOCALHOST, 0))
        return s.getsockname()[1]


def spawn_server(port: int, models_dir=COMMITTED_MODELS, env: dict | None = None,
                 stderr=subprocess.PIPE, prefix: list[str] | None = None,
                 app: Path = REPO / "dashboard.py") -> subprocess.Popen:
    """Start `streamlit run dashboard.py` (or another `app`; a fresh process) without waiting for it.

    `prefix`: a command that execs the server in its own place, e.g. `["taskset", "-c", "0"]`
    (the process id stays the server's).
    """
    full_env = {**os.environ, "AECOMPARE_MODELS": str(models_dir), **(env or {})}
    return subprocess.Popen([*(prefix or []), sys.executable, "-m", "streamlit", "run", str(app),
                             "--server.headless", "true", "--server.port", str(port),
                             "--server.address", LOCALHOST, "--browser.gatherUsageStats", "false"],
                            cwd=REPO, env=full_env, stdout=subprocess.DEVNULL, stderr=stderr)


def wait_healthy(proc: subprocess.Popen, port: int, timeout_s: float = 60) -> None:
    deadline = time.time() + timeout_s
    while time.time() < deadline:
        if proc.poll() is not None:
            break
        try:
            urllib.request.urlopen(f"http://{LOCALHOST}:{port}/_stcore/health", timeout=1)
            return
        except OSError:
            time.sleep(0.05)
    proc.kill()
    err = proc.stderr.read().decode(errors="replace")[-2000:] if proc.stderr else ""
    raise RuntimeError("streamlit did not start: " + err)


def start_server(port: int, models_dir=COMMITTED_MODELS, env: dict | None = None) -> subprocess.Popen:
    """Start the server and wait until /_stcore/health answers."""
    proc = spawn_server(port, models_dir, env)
    wait_healthy(proc, port)
    return proc


def stop_server(proc: subprocess.Popen) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(timeout=10)


# ---------------------------------------------------------------- processes: memory and CPU (Linux /proc)

def descendants(pid: int) -> list[int]:
    """`pid` and every process below it (Linux /proc)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry))
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        todo.extend(children.get(p, []))
    return out


def _status_kb(pid: int, field: str) -> int:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def cpu_seconds(pid: int) -> float:
    """utime + stime of a process, all its threads (Linux /proc/PID/stat), in seconds; NaN if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def comm(pid: int) -> str:
    """A process's command name (/proc/PID/comm), '' if it is gone."""
    try:
        with open(f"/proc/{pid}/comm") as f:
            return f.read().strip()
    except OSError:
        return ""


def memory_mb(pid: int) -> dict:
    """VmHWM (peak) and VmRSS (now) of the process and the sum over it and its descendants, in MB."""
    tree = descendants(pid)
    return {"hwm": _status_kb(pid, "VmHWM") / 1024, "rss": _status_kb(pid, "VmRSS") / 1024,
            "hwm_tree": sum(_status_kb(p, "VmHWM") for p in tree) / 1024,
            "rss_tree": sum(_status_kb(p, "VmRSS") for p in tree) / 1024, "processes": len(tree)}


class RssSampler:
    """Samples a process's resident memory every `interval` seconds on a thread of its own (cheap:
    one read of /proc/PID/status; the dashboard's server runs no child processes).

    `step_peak()` is the largest sample since the previous call (MB): the peak of one step of a
    benchmark. VmHWM gives the process's lifetime peak only, and resetting it (/proc/PID/clear_refs)
    proved unreliable for a many-threaded server. `rss_max` and `hwm` are the largest RSS and VmHWM
    seen over the whole run (MB), kept if the process dies.
    """

    def __init__(self, pid: int, interval: float = 0.01):
        self.pid, self.interval = pid, interval
        self.rss_max = self.hwm = 0.0
        self._peak, self._lock, self._stop = 0.0, threading.Lock(), threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            rss, hwm = _status_kb(self.pid, "VmRSS") / 1024, _status_kb(self.pid, "VmHWM") / 1024
            with self._lock:
                self._peak = max(self._peak, rss)
                self.rss_max, self.hwm = max(self.rss_max, rss), max(self.hwm, hwm)
            self._stop.wait(self.interval)

    def step_peak(self) -> float:
        with self._lock:
            peak, self._peak = self._peak, 0.0
        return peak

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


# ---------------------------------------------------------------- render detection in the page

def _script_finished_codes() -> tuple[int, list[int]]:
    """ForwardMsg's `script_finished` field number and the statuses of a completed run (from Streamlit's proto)."""
    from streamlit.proto.ForwardMsg_pb2 import ForwardMsg

    ok = [ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY]
    return ForwardMsg.DESCRIPTOR.fields_by_name["script_finished"].number, ok


_FINISHED_FIELD, _FINISHED_OK = _script_finished_codes()

OBSERVER_JS = """
(() => {
  window.__st = {done: 0, doneAt: 0, finished: 0, messages: 0, disconnects: 0, connected: false, lastState: null};
  const FIELD = FINISHED_FIELD, OK = FINISHED_OK;
  const finishedStatus = (buf) => {  // the script_finished status of one ForwardMsg, or null (top-level fields only)
    const b = new Uint8Array(buf);
    let i = 0;
    const varint = () => {
      let v = 0, m = 1, x;
      do { x = b[i++]; v += (x & 127) * m; m *= 128; } while (x & 128);
      return v;
    };
    while (i < b.length) {
      const tag = varint(), field = Math.floor(tag / 8), wire = tag & 7;
      if (wire === 0) { const v = varint(); if (field === FIELD) return v; }
      else if (wire === 2) { const n = varint(); i += n; }  // not `i += varint()`: that adds to the old i
      else if (wire === 1) i += 8;
      else if (wire === 5) i += 4;
      else return null;
    }
    return null;
  };
  const Native = window.WebSocket;
  window.WebSocket = class extends Native {
    constructor(...args) {
      super(...args);
      this.addEventListener('message', (e) => {
        if (!(e.data instanceof ArrayBuffer) || !OK.includes(finishedStatus(e.data))) return;
        const n = ++window.__st.messages;
        requestAnimationFrame(() => requestAnimationFrame(() => {
          window.__st.finished = Math.max(window.__st.finished, n);
        }));
      });
    }
  };
  const watch = () => {
    const app = document.querySelector('[data-testid="stApp"]');
    if (!app) { setTimeout(watch, 5); return; }
    const see = (s) => {  // one script state, in the order they were set
      if (s === window.__st.lastState) return;
      if (s === 'notRunning' && window.__st.lastState !== null) {
        window.__st.done += 1; window.__st.doneAt = performance.now();
      }
      window.__st.lastState = s;
    };
    const check = (records) => {
      // several changes may arrive in one callback: each record's oldValue is the state the next
      // change replaced, so a quick running -> notRunning -> running is still counted
      const olds = (records || []).filter(r => r.attributeName === 'data-test-script-state').map(r => r.oldValue);
      olds.slice(1).forEach(see);
      see(app.getAttribute('data-test-script-state'));
      const c = app.getAttribute('data-test-connection-state');
      if (c === 'CONNECTED') window.__st.connected = true;
      else if (window.__st.connected && c) { window.__st.connected = false; window.__st.disconnects += 1; }
    };
    check([]);
    new MutationObserver(check).observe(app, {attributes: true, attributeOldValue: true,
      attributeFilter: ['data-test-script-state', 'data-test-connection-state']});
  };
  watch();
})();
""".replace("FINISHED_FIELD", str(_FINISHED_FIELD)).replace("FINISHED_OK", str(_FINISHED_OK))

# `SETTLED_JS`: false until the script finished at least `done` runs and is idle, the tabs are there, nothing is
# marked stale, no element is still loading its code (a Suspense skeleton, in the sidebar too: a fresh browser's
# sidebar widgets can load after a quick tab is drawn), and in the main area every <img> has
# loaded (at least `min_images` of them; st.image's and those of an st.html figure grid), every visible Vega-Lite
# chart has painted (its `svg.marks` holds vega marks, or its `canvas` has non-zero size and something drawn on
# it) and every visible dataframe's grid canvas is drawn; then performance.now(). Charts:
# `[data-testid="stVegaLiteChart"]` holds vega's own svg or canvas directly (Streamlit 1.67, no `.vega-embed`
# wrapper); vega switches to canvas above 2,000 marks per datum set. Hidden elements (a collapsed expander) are
# not waited for.
_UNSETTLED = """
(done, minImages) => {  // null when settled, else the first reason why not
  const st = window.__st;
  const runs = st ? Math.max(st.done, st.finished) : 0;  // the larger count: either can miss a run, not add one
  if (runs < done) return `${runs} script runs finished, waiting for ${done}`;
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return 'script state not notRunning';
  const status = document.querySelector('[data-testid="stStatusWidget"]');
  if (status && status.innerText.includes('Running')) return 'status widget says Running';
  if (!document.querySelector('[data-testid="stTabs"]')) return 'no tabs';
  if (document.querySelector('[data-stale="true"]')) return 'stale elements';
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main) return 'no main area';
  if (app.querySelector('[data-testid="stSkeleton"], [data-testid="stSkeletonElement"]')) return 'skeleton';
  const imgs = main.querySelectorAll('img');  // st.image's and the figures' of an st.html grid
  if (imgs.length < minImages) return `${imgs.length} images, waiting for ${minImages}`;
  for (const img of imgs) if (!img.complete || img.naturalWidth === 0) return 'an image is loading';
  const shown = (el) => !el.checkVisibility || el.checkVisibility();
  const sized = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.height > 0; };
  const painted = (cv) => {  // anything drawn: a non-transparent pixel in a 32 x 32 copy
    if (!cv.width || !cv.height) return false;
    const probe = (window.__stProbe = window.__stProbe || document.createElement('canvas'));
    probe.width = probe.height = 32;
    const g = probe.getContext('2d', {willReadFrequently: true});
    g.clearRect(0, 0, 32, 32);
    g.drawImage(cv, 0, 0, 32, 32);
    const px = g.getImageData(0, 0, 32, 32).data;
    for (let i = 3; i < px.length; i += 4) if (px[i] !== 0) return true;
    return false;
  };
  for (const chart of main.querySelectorAll('[data-testid="stVegaLiteChart"]')) {
    if (!shown(chart)) continue;
    const view = chart.querySelector('svg.marks, canvas');
    if (!view || !sized(view)) return 'a chart has no sized svg or canvas';
    if (view.tagName.toLowerCase() === 'svg' ? !view.querySelector('[class*="mark-"]') : !painted(view)) {
      return 'a chart has not painted its marks';
    }
  }
  for (const df of main.querySelectorAll('[data-testid="stDataFrame"]')) {
    if (!shown(df)) continue;
    const grid = df.querySelector('canvas[data-testid="data-grid-canvas"]') || df.querySelector('canvas');
    if (!grid || !sized(grid) || !painted(grid)) return 'a dataframe grid is not drawn';
  }
  return null;
}
"""
SETTLED_JS = f"""([done, minImages]) => ({_UNSETTLED})(done, minImages) === null && performance.now()"""
# Why the page is not settled (a string), or null: for a report when waiting timed out.
UNSETTLED_JS = f"""([done, minImages]) => ({_UNSETTLED})(done, minImages)"""


# What the main area holds now: images, charts (svg or canvas, and how many svg nodes each holds: the
# browser's drawing work), dataframes.
ELEMENTS_JS = """
() => {
  const main = document.querySelector('[data-testid="stMain"]');
  if (!main) return {images: 0, charts: [], dataframes: 0};
  const charts = [...main.querySelectorAll('[data-testid="stVegaLiteChart"]')].map((c) => {
    const view = c.querySelector('svg.marks, canvas');
    return {renderer: view ? view.tagName.toLowerCase() : 'none', nodes: view ? view.querySelectorAll('*').length : 0};
  });
  return {images: main.querySelectorAll('img').length, charts,
          dataframes: main.querySelectorAll('[data-testid="stDataFrame"]').length};
}
"""


def done_count(page) -> int:
    """Script runs finished so far (see `OBSERVER_JS`)."""
    return page.evaluate("() => window.__st ? Math.max(window.__st.done, window.__st.finished) : 0")


def wait_settled(page, done: int = 1, min_images: int = 0, timeout_ms: int = 120_000) -> float:
    """Wait (polling every animation frame) until the app is settled; the page's performance.now() then."""
    return page.wait_for_function(SETTLED_JS, arg=[done, min_images], polling="raf",
                                  timeout=timeout_ms).json_value()


def unsettled_reason(page, done: int = 1, min_images: int = 0) -> str | None:
    """Why `wait_settled` would still wait (the first unmet condition), or None."""
    return page.evaluate(UNSETTLED_JS, [done, min_images])


def count_errors(page) -> dict:
    """Exception boxes (tracebacks) and st.error boxes currently shown."""
    return page.evaluate("""() => ({
        exceptions: document.querySelectorAll('[data-testid="stException"]').length,
        error_boxes: document.querySelectorAll('[data-testid="stAlertContentError"]').length})""")
