"""Where a browser's time goes in one tab switch: a Chromium trace of the page's main thread.

    python -m benchmarks.trace_tab                              # "Error maps", a second visitor, 3 runs
    python -m benchmarks.trace_tab --tab Losses --visitor same

A real `streamlit run dashboard.py` on a fresh process; a first visitor opens every tab (the server's caches
warm). Then the visitor traced clicks `--tab` while Chromium records a trace: `second` is a new browser
context that opened the page and waited `--read-s` seconds (nothing of the tab drawn before, as the second
visitor of `benchmarks/dashboard.py`), `same` is the first visitor coming back to a tab it has drawn.
Printed per run: wall time from the click to the last image and chart drawn (as `benchmarks.dashboard`
measures it, trace recording included), how long the renderer's main thread was busy in that time, and
within it V8 compiling functions on their first call, evaluating modules, garbage collection, style and
layout, paint; then every task over 15 ms with what filled it. Figures, never assertions.
"""

from __future__ import annotations

import argparse
import collections
import json
import tempfile
from pathlib import Path

from .dashboard import Server, Visitor, load_average
from .streamlit_server import ARGS, CHROMIUM, COMMITTED_MODELS, wait_healthy

CATEGORIES = ["devtools.timeline", "v8", "disabled-by-default-v8.compile", "blink", "loading", "toplevel"]
TASK = "ThreadControllerImpl::RunTask"
# trace event names (which nest in one another) grouped into what they are; each group's time is the union
# of its events' intervals, so a nested event is not counted twice
KINDS = {
    "compile (first call of a function)": {"V8.CompileCode", "V8.CompileLazy"},
    "module evaluation": {"v8.evaluateModule"},
    "garbage collection": {"MinorGC", "MajorGC", "V8.GCScavenger", "V8.GCFinalizeMC"},
    "style and layout": {"UpdateLayoutTree", "Layout", "Document::UpdateStyleAndLayout"},
    "paint": {"Paint", "PrePaint", "LocalFrameView::RunPaintLifecyclePhase"},
}
LONG_TASK_US = 15_000


def union_us(intervals: list[tuple[int, int]]) -> int:
    """Microseconds covered by the (start, end) intervals."""
    total, end = 0, None
    for s, e in sorted(intervals):
        if end is None or s > end:
            total, end = total + e - s, e
        elif e > end:
            total, end = total + e - end, e
    return total


def main_thread(trace: dict) -> list[dict]:
    """The complete ('X') events of the page's renderer main thread (the busiest, if there are several)."""
    events = trace["traceEvents"]
    mains = {(e["pid"], e["tid"]) for e in events
             if e.get("name") == "thread_name" and e["args"].get("name") == "CrRendererMain"}
    by_thread = collections.defaultdict(list)
    for e in events:
        if (e.get("pid"), e.get("tid")) in mains and e.get("ph") == "X" and "dur" in e:
            by_thread[(e["pid"], e["tid"])].append(e)
    return max(by_thread.values(), key=lambda evs: sum(e["dur"] for e in evs if e["name"] == TASK), default=[])


def kinds_ms(events: list[dict]) -> dict[str, float]:
    """Milliseconds of each of KINDS among the events (nested events counted once)."""
    return {kind: union_us([(e["ts"], e["ts"] + e["dur"]) for e in events if e["name"] in names]) / 1e3
            for kind, names in KINDS.items()}


def summary(events: list[dict]) -> dict:
    """Busy time, the KINDS within it and the long tasks, in milliseconds."""
    tasks = sorted((e for e in events if e["name"] == TASK), key=lambda e: e["ts"])
    out = {"busy_ms": union_us([(e["ts"], e["ts"] + e["dur"]) for e in tasks]) / 1e3, "tasks": len(tasks),
           **kinds_ms(events)}
    t0 = tasks[0]["ts"] if tasks else 0
    out["long_tasks"] = []
    for task in (t for t in tasks if t["dur"] > LONG_TASK_US):
        inside = kinds_ms([e for e in events if task["ts"] <= e["ts"] < task["ts"] + task["dur"]])
        out["long_tasks"].append({"at_ms": (task["ts"] - t0) / 1e3, "ms": task["dur"] / 1e3,
                                  **{k: v for k, v in inside.items() if v >= 1}})
    return out


def trace_once(tab: str, visitor: str, read_s: float) -> dict:
    """One fresh server, its caches warmed by a first visitor; the traced click of `tab` (see the docstring)."""
    from playwright.sync_api import sync_playwright

    errors: dict = {}
    with sync_playwright() as p, tempfile.TemporaryDirectory() as tmp:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        server = Server(COMMITTED_MODELS, None)
        try:
            first = Visitor(browser, server, errors)
            wait_healthy(server.proc, server.port)
            first.open(min_images=1)
            names = first.tab_names()
            if tab not in names[1:]:
                raise SystemExit(f"no tab {tab!r} to click (the first, {names[0]!r}, is the page open's: "
                                 f"benchmarks.dashboard); the others are {', '.join(names[1:])}")
            first.visit(list(range(1, len(names))) + [0], names, lambda _: None, "warm-up")
            if visitor == "second":
                first.close()
                traced = Visitor(browser, server, errors)
                traced.open(min_images=1)
            else:
                traced = first
            traced.page.wait_for_timeout(read_s * 1000)
            path = Path(tmp) / "trace.json"
            browser.start_tracing(page=traced.page, path=str(path), categories=CATEGORIES)
            step = traced.timed(lambda: traced._tabs().nth(names.index(tab)).click())
            browser.stop_tracing()
            browser.close()
            return {"wall_s": step["wall_s"], "errors": errors, **summary(main_thread(json.loads(path.read_text())))}
        finally:
            server.stop()


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tab", default="Error maps", help="the tab clicked while tracing")
    ap.add_argument("--visitor", choices=["second", "same"], default="second")
    ap.add_argument("--read-s", type=float, default=0.0, help="seconds the visitor waits before the click")
    ap.add_argument("--runs", type=int, default=3)
    args = ap.parse_args(argv)
    print(f"load average {load_average()}")
    for run in range(args.runs):
        r = trace_once(args.tab, args.visitor, args.read_s)
        kinds = ", ".join(f"{k} {r[k]:.0f}" for k in KINDS)
        print(f"run {run + 1}: {args.tab!r} ({args.visitor} visitor) {r['wall_s']:.3f} s; main thread busy "
              f"{r['busy_ms']:.0f} ms in {r['tasks']} tasks: {kinds} ms; errors {r['errors']}")
        for t in r["long_tasks"]:
            inner = ", ".join(f"{k} {v:.0f}" for k, v in t.items() if k not in ("at_ms", "ms"))
            print(f"    task at {t['at_ms']:6.0f} ms: {t['ms']:5.0f} ms" + (f" ({inner})" if inner else ""))
    print(f"load average {load_average()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
