"""Many visitors: N concurrent headless-Chromium sessions against one real `streamlit run dashboard.py`.

    python benchmarks/load_test.py                      # 20 sessions, 150 s
    python benchmarks/load_test.py --sessions 5 --duration 30

One Chromium, one browser context (own cookies, own Streamlit session) per visitor, driven with
Playwright's async API. Server and browser only ever use 127.0.0.1. Every session loops, until the
deadline or --max-cycles: open every tab in turn (each switch is a rerun), then type new test indices
in the sidebar and press Enter (a digit change). Every wait is bounded (--step-timeout); the whole run
stops by itself (deadline + step timeout + a grace period).

Reported: errors (goal 0) = exception boxes (`stException`) seen after any step, st.error boxes,
JavaScript page errors, page crashes, websocket disconnects, steps that did not settle in time, and a
server that died; p50/p95 of re-render times (tab switch, digit change; the page's own clock, from the
action to every image loaded and the script idle); the server's peak resident memory (VmHWM of it and
its children) and the largest RSS sampled during the run.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from streamlit_server import (  # noqa: E402
    ARGS,
    CHROMIUM,
    COMMITTED_MODELS,
    LOCALHOST,
    OBSERVER_JS,
    SETTLED_JS,
    free_port,
    memory_mb,
    spawn_server,
    stop_server,
    wait_healthy,
)

TYPED_LABEL = "Test indices (0-9999, comma separated)"
ERRORS_JS = """() => ({
    exceptions: document.querySelectorAll('[data-testid="stException"]').length,
    error_boxes: document.querySelectorAll('[data-testid="stAlertContentError"]').length,
    disconnects: window.__st ? window.__st.disconnects : 0})"""


@dataclass
class Stats:
    tab_s: list[float] = field(default_factory=list)
    digits_s: list[float] = field(default_factory=list)
    first_s: list[float] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=lambda: {
        "exceptions": 0, "error_boxes": 0, "page_errors": 0, "crashes": 0, "disconnects": 0,
        "timeouts": 0, "other": 0, "server_died": 0})
    messages: list[str] = field(default_factory=list)
    cycles: int = 0

    def error(self, kind: str, msg: str, n: int = 1) -> None:
        self.errors[kind] += n
        if len(self.messages) < 30:
            self.messages.append(f"{kind}: {msg[:300]}")

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())


async def _settle_after(page, action, timeout_ms: int) -> float:
    """Do `action`; wait for the rerun it starts to finish (every image loaded); seconds, page clock."""
    before = await page.evaluate("() => window.__st ? window.__st.done : 0")
    t0 = await page.evaluate("() => performance.now()")
    await action()
    h = await page.wait_for_function(SETTLED_JS, arg=[before + 1, 0], polling="raf", timeout=timeout_ms)
    return (await h.json_value() - t0) / 1000


async def _check_page(page, stats: Stats, seen: dict, sid: int) -> None:
    e = await page.evaluate(ERRORS_JS)
    for k in ("exceptions", "error_boxes"):
        if e[k]:
            text = await page.locator('[data-testid="stException"], [data-testid="stAlertContentError"]'
                                      ).first.inner_text()
            stats.error(k, f"session {sid}: {text}", e[k])
    if e["disconnects"] > seen["disconnects"]:
        stats.error("disconnects", f"session {sid}: connection lost", e["disconnects"] - seen["disconnects"])
        seen["disconnects"] = e["disconnects"]


async def session(sid: int, browser, url: str, deadline: float, stats: Stats, max_cycles: int,
                  step_timeout_ms: int) -> None:
    ctx = await browser.new_context(viewport={"width": 1400, "height": 1000})
    page = await ctx.new_page()
    await page.add_init_script(OBSERVER_JS)
    page.on("pageerror", lambda e: stats.error("page_errors", f"session {sid}: {e}"))
    page.on("crash", lambda _: stats.error("crashes", f"session {sid}: page crashed"))
    seen = {"disconnects": 0}
    try:
        t0 = time.perf_counter()
        await page.goto(url, timeout=step_timeout_ms)
        await page.wait_for_function(SETTLED_JS, arg=[1, 1], polling=100, timeout=step_timeout_ms)
        stats.first_s.append(time.perf_counter() - t0)
        await _check_page(page, stats, seen, sid)
        tabs = page.locator('[data-testid="stTabs"] [data-testid="stTab"]')
        names = [t.strip() for t in await tabs.all_inner_texts()]
        # digits chosen by typed indices from here on (the mode switch is one rerun, not timed)
        box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
            has_text="Choose digits by")
        await _settle_after(page, lambda: _choose(page, box, "typed test indices"), step_timeout_ms)
        field_ = page.get_by_label(TYPED_LABEL)
        current = 0
        cycle = 0
        while time.monotonic() < deadline and cycle < max_cycles:
            for i in list(range(1, len(names))) + [0]:
                if time.monotonic() >= deadline:
                    break
                if i == current:
                    continue
                try:
                    stats.tab_s.append(await _settle_after(page, lambda i=i: tabs.nth(i).click(), step_timeout_ms))
                    current = i
                except Exception as e:  # noqa: BLE001 - a step that never settles is an error, go on
                    stats.error("timeouts", f"session {sid}, tab {names[i]!r}: {type(e).__name__}: {e}")
                await _check_page(page, stats, seen, sid)
            if time.monotonic() >= deadline:
                break
            idx = ", ".join(str((sid * 7919 + cycle * 997 + k * 131) % 10000) for k in range(10))
            await field_.fill(idx)
            try:
                stats.digits_s.append(await _settle_after(page, lambda: field_.press("Enter"), step_timeout_ms))
            except Exception as e:  # noqa: BLE001
                stats.error("timeouts", f"session {sid}, digits: {type(e).__name__}: {e}")
            await _check_page(page, stats, seen, sid)
            cycle += 1
            stats.cycles += 1
    except Exception as e:  # noqa: BLE001 - counted, never hides the rest of the run
        stats.error("other", f"session {sid}: {type(e).__name__}: {e}")
    finally:
        await ctx.close()


async def _choose(page, box, option: str) -> None:
    await box.locator('[role="combobox"], input').first.click()
    await page.get_by_role("option", name=option, exact=True).click()


async def _sample_memory(pid: int, stop: asyncio.Event, out: dict) -> None:
    while not stop.is_set():
        m = memory_mb(pid)
        out["rss_max"] = max(out.get("rss_max", 0), m["rss_tree"])
        out["hwm_tree"] = max(out.get("hwm_tree", 0), m["hwm_tree"])
        out["hwm"] = max(out.get("hwm", 0), m["hwm"])
        try:
            await asyncio.wait_for(stop.wait(), 0.5)
        except TimeoutError:
            pass


async def _run(n_sessions: int, duration_s: float, models_dir: Path, max_cycles: int, step_timeout_s: float,
               stagger_s: float, log) -> dict:
    from playwright.async_api import async_playwright

    stats = Stats()
    mem: dict = {}
    port = free_port()
    url = f"http://{LOCALHOST}:{port}/"
    err_file = tempfile.TemporaryFile()
    server = spawn_server(port, models_dir, env={"PYTHONFAULTHANDLER": "1"}, stderr=err_file)  # tracebacks on a crash
    stop = asyncio.Event()
    sampler = None
    try:
        await asyncio.to_thread(wait_healthy, server, port)
        sampler = asyncio.create_task(_sample_memory(server.pid, stop, mem))
        async with async_playwright() as p:
            browser = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            t0 = time.monotonic()
            deadline = t0 + duration_s
            tasks = []
            for sid in range(n_sessions):
                tasks.append(asyncio.create_task(session(sid, browser, url, deadline, stats, max_cycles,
                                                         int(step_timeout_s * 1000))))
                await asyncio.sleep(stagger_s)
            # hard bound: a step can overrun the deadline by one step timeout at most
            done, pending = await asyncio.wait(tasks, timeout=duration_s + 2 * step_timeout_s + 30)
            for t in pending:
                t.cancel()
                stats.error("timeouts", "session cancelled at the hard time bound")
            await asyncio.gather(*pending, return_exceptions=True)
            elapsed = time.monotonic() - t0
            await browser.close()
        if server.poll() is not None:
            stats.error("server_died", f"server exited with {server.returncode}")
        mem.update({f"end_{k}": v for k, v in memory_mb(server.pid).items()})
    finally:
        stop.set()
        if sampler is not None:
            await sampler
        stop_server(server)
        err_file.seek(0)
        stderr_all = err_file.read().decode(errors="replace")
        stderr_tail = stderr_all[-4000:]
        if server.returncode not in (0, -15):  # keep the whole log (faulthandler's tracebacks) for a look
            fd, log_path = tempfile.mkstemp(prefix="aecompare-load-server-", suffix=".log")
            os.write(fd, stderr_all.encode())
            os.close(fd)
            log(f"server exited with {server.returncode}; its full stderr: {log_path}")
    if server.returncode not in (0, -15):
        stats.error("server_died", f"server exit code {server.returncode}: {stderr_tail[-1000:]}")
    return {"sessions": n_sessions, "duration_s": duration_s, "elapsed_s": elapsed, "stats": stats,
            "memory": mem, "server_stderr_tail": stderr_tail}


def run_load(n_sessions: int = 20, duration_s: float = 150, models_dir: Path = COMMITTED_MODELS,
             max_cycles: int = 50, step_timeout_s: float = 90, stagger_s: float = 0.0, log=print) -> dict:
    """Run the load test; returns the figures (see the module docstring)."""
    return asyncio.run(_run(n_sessions, duration_s, models_dir, max_cycles, step_timeout_s, stagger_s, log))


def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def report(r: dict) -> str:
    s: Stats = r["stats"]
    both = s.tab_s + s.digits_s
    rows = [("sessions", f"{r['sessions']} (one Chromium, one context each)"),
            ("wall time", f"{r['elapsed_s']:.0f} s (bound {r['duration_s']:.0f} s + last steps)"),
            ("cycles (all tabs + a digit change)", str(s.cycles)),
            ("errors", f"{s.total_errors}  " + ", ".join(f"{k} {v}" for k, v in s.errors.items())),
            ("first render per session p50 / p95 / max",
             f"{pct(s.first_s, .5):.2f} / {pct(s.first_s, .95):.2f} / {max(s.first_s, default=float('nan')):.2f} s"),
            ("re-render, all p50 / p95", f"{pct(both, .5):.3f} / {pct(both, .95):.3f} s  (n={len(both)})"),
            ("  tab switch p50 / p95", f"{pct(s.tab_s, .5):.3f} / {pct(s.tab_s, .95):.3f} s  (n={len(s.tab_s)})"),
            ("  digit change p50 / p95",
             f"{pct(s.digits_s, .5):.3f} / {pct(s.digits_s, .95):.3f} s  (n={len(s.digits_s)})"),
            ("server peak memory VmHWM (tree)",
             f"{r['memory'].get('hwm', 0):.0f} MB ({r['memory'].get('hwm_tree', 0):.0f} MB)"),
            ("server largest sampled RSS / at the end",
             f"{r['memory'].get('rss_max', 0):.0f} MB / {r['memory'].get('end_rss', 0):.0f} MB")]
    w = max(len(a) for a, _ in rows)
    out = [f"{a.ljust(w)} | {b}" for a, b in rows]
    if s.messages:
        out.append("first error messages:")
        out.extend(f"  {m}" for m in s.messages[:10])
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--duration", type=float, default=150, help="seconds; sessions start no new step after it")
    ap.add_argument("--max-cycles", type=int, default=50, help="per session")
    ap.add_argument("--step-timeout", type=float, default=90, help="seconds for one step to settle")
    ap.add_argument("--stagger", type=float, default=0.0, help="seconds between session starts")
    ap.add_argument("--models", type=Path, default=Path(os.environ.get("AECOMPARE_MODELS") or COMMITTED_MODELS))
    args = ap.parse_args(argv)
    print(f"load average before {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs",
          flush=True)
    r = run_load(args.sessions, args.duration, args.models, args.max_cycles, args.step_timeout, args.stagger)
    print(report(r))
    print(f"load average after {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if r["stats"].errors["server_died"] or "Fatal Python error" in r["server_stderr_tail"]:
        print("server stderr tail:\n" + r["server_stderr_tail"])
    return 1 if r["stats"].total_errors else 0


if __name__ == "__main__":
    sys.exit(main())
