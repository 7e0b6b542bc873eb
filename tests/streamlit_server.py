"""A real `streamlit run dashboard.py` on 127.0.0.1 and helpers to watch it from headless Chromium.

Shared by tests/test_browser.py, benchmarks/dashboard.py and benchmarks/ws_load.py.
Only ever binds and connects to 127.0.0.1.

Render detection: Streamlit puts the script state on the app root
(`[data-testid="stApp"][data-test-script-state]`: initial / running / notRunning / rerunRequested ...).
`OBSERVER_JS` (installed with `page.add_init_script`) counts how often it became `notRunning`, so a
caller can wait for *the* rerun its action started, not an earlier one.
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
                 stderr=subprocess.PIPE) -> subprocess.Popen:
    """Start `streamlit run dashboard.py` (a fresh process) without waiting for it."""
    full_env = {**os.environ, "AECOMPARE_MODELS": str(models_dir), **(env or {})}
    return subprocess.Popen([sys.executable, "-m", "streamlit", "run", str(REPO / "dashboard.py"),
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


# ---------------------------------------------------------------- memory (Linux /proc)

def _descendants(pid: int) -> list[int]:
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


def memory_mb(pid: int) -> dict:
    """VmHWM (peak) and VmRSS (now) of the process and the sum over it and its descendants, in MB."""
    tree = _descendants(pid)
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

OBSERVER_JS = """
(() => {
  window.__st = {done: 0, doneAt: 0, disconnects: 0, connected: false, lastState: null};
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
"""

# True when the script finished at least `done` runs, is idle, every <img> in the main area has loaded,
# there are at least `min_images` of them, and nothing is marked stale; returns performance.now().
SETTLED_JS = """
([done, minImages]) => {
  const st = window.__st;
  if (!st || st.done < done) return false;
  const app = document.querySelector('[data-testid="stApp"]');
  if (!app || app.getAttribute('data-test-script-state') !== 'notRunning') return false;
  const status = document.querySelector('[data-testid="stStatusWidget"]');
  if (status && status.innerText.includes('Running')) return false;
  if (!document.querySelector('[data-testid="stTabs"]')) return false;
  const imgs = document.querySelectorAll('[data-testid="stMain"] [data-testid="stImage"] img');
  if (imgs.length < minImages) return false;
  for (const img of imgs) if (!img.complete || img.naturalWidth === 0) return false;
  if (document.querySelector('[data-stale="true"]')) return false;
  return performance.now();
}
"""


def done_count(page) -> int:
    return page.evaluate("() => window.__st ? window.__st.done : 0")


def wait_settled(page, done: int = 1, min_images: int = 0, timeout_ms: int = 120_000) -> float:
    """Wait (polling every animation frame) until the app is settled; the page's performance.now() then."""
    return page.wait_for_function(SETTLED_JS, arg=[done, min_images], polling="raf",
                                  timeout=timeout_ms).json_value()


def wait_rendered(page, timeout_ms: int = 120_000) -> None:
    """Until the tabs and images are there and no 'Running...' status widget is shown."""
    page.wait_for_selector('[data-testid="stTabs"]', timeout=timeout_ms)
    page.wait_for_selector('[data-testid="stImage"] img', timeout=timeout_ms)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]')"
        " || !document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=timeout_ms)
    page.wait_for_timeout(500)


def count_errors(page) -> dict:
    """Exception boxes (tracebacks) and st.error boxes currently shown."""
    return page.evaluate("""() => ({
        exceptions: document.querySelectorAll('[data-testid="stException"]').length,
        error_boxes: document.querySelectorAll('[data-testid="stAlertContentError"]').length})""")
