"""What a visitor waits for: a real `streamlit run dashboard.py` on 127.0.0.1, seen from headless Chromium.

    python -m benchmarks.dashboard                    # 3 runs, each on a fresh server process
    python -m benchmarks.dashboard --runs 1 --taskset 0 --json out.json

Every figure is wall time in the browser's own clock, from the click (or opening the page) until the
last image and chart is drawn (benchmarks/streamlit_server.py `SETTLED_JS`: the script run the action
started has finished, no element is stale or still loading its code, every image has loaded, every
Vega-Lite chart has painted its marks, every dataframe's grid is drawn). In brackets: the server's CPU
seconds for the step (utime + stime of the server process, all threads, /proc/PID/stat before and
after) and Chromium's (all its processes): wall time beyond both is waiting (other work on the
cores, the network, timers). Per run, on a fresh server process:
  start          process start -> default view complete (first visitor); server up = health answers
  first visit    every other tab, clicked once in order (the process computes or loads what it needs)
  warm, same     the same visitor clicks every tab again (tab switches on a warm process)
  memory         after this one visitor went through every tab: VmHWM (lifetime peak) and RSS
  second open    a second visitor (a new browser context, the first closed): page open -> default view
  warm, second   that visitor opens every tab (a warm process, a browser that has cached nothing), at once
                 or after reading the first view for --read-s seconds
  sections       in every tab drawn one section at a time, each other section clicked, then the first: by the first
                 visitor after its tabs (first visits of the sections), by the second after its (warm)
  digits         switch to typed test indices, then --rerenders changes of the typed indices (+ Enter)
  end            peak and resident memory at the end; the largest 10 ms RSS sample of every step
Before the runs, the same is measured for `benchmarks/bare_app.py` (a title and three tabs of one line: what
any Streamlit app pays on this machine, printed beside each target; `--no-floor` skips it).
`--taskset CPU` starts the server under `taskset -c CPU` (Community Cloud's slowest case: one core or
less). The machine's load average is printed at the start and end: other work on the cores inflates
every figure. Targets are from issue 11; figures, never assertions.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

from .streamlit_server import (
    ARGS,
    CHROMIUM,
    COMMITTED_MODELS,
    ELEMENTS_JS,
    LOCALHOST,
    OBSERVER_JS,
    REPO,
    RssSampler,
    comm,
    count_errors,
    cpu_seconds,
    descendants,
    done_count,
    free_port,
    memory_mb,
    spawn_server,
    stop_server,
    unsettled_reason,
    wait_healthy,
    wait_settled,
)

TARGETS = {"open_s": 1.5, "start_s": 3.0, "first_visit_s": 1.5, "warm_s": 0.5, "warm_cpu_s": 0.15,
           "pinned_tab_s": 3.0, "peak_mb": 350.0}
TYPED_LABEL = "Test indices (0-9999, comma separated)"
N_DIGITS = 10
STEP_TIMEOUT_MS = 120_000
VIEWPORT = {"width": 1500, "height": 1100}
# the page's renderer main thread, seconds (CDP Performance.getMetrics): all its tasks, and within them
# JavaScript, layout and style recalculation
RENDERER_METRICS = {"TaskDuration": "task", "ScriptDuration": "script", "LayoutDuration": "layout",
                    "RecalcStyleDuration": "style"}


def load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def browser_cpu() -> dict[int, float]:
    """CPU seconds of every Chromium process this benchmark started (browser, renderers, GPU, utility)."""
    return {pid: cpu_seconds(pid) for pid in descendants(os.getpid()) if comm(pid).startswith("chrom")}


def cpu_since(before: dict[int, float]) -> float:
    """Chromium's CPU seconds since `before` (processes started since count from 0; ended ones are lost)."""
    return sum(cpu - before.get(pid, 0.0) for pid, cpu in browser_cpu().items() if not math.isnan(cpu))


def model_count(models_dir: Path) -> int:
    """How many models the dashboard shows by default (one run per name)."""
    try:
        manifest = json.loads((models_dir / "manifest.json").read_text())
        return len({m["name"] for m in manifest["models"]})
    except (OSError, ValueError, KeyError):
        return 0


class Server:
    """A fresh `streamlit run` process: when it started, its CPU clock, its memory sampled every 10 ms."""

    def __init__(self, models_dir: Path, prefix: list[str] | None, app: Path = REPO / "dashboard.py"):
        self.port = free_port()
        self.err_file = tempfile.TemporaryFile()
        self.t_spawn = time.time()  # epoch seconds: compared with the page's performance.timeOrigin
        self.proc = spawn_server(self.port, models_dir, stderr=self.err_file, prefix=prefix, app=app)
        self.sampler = RssSampler(self.proc.pid)
        self.url = f"http://{LOCALHOST}:{self.port}/"

    def cpu(self) -> float:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> dict:
        self.sampler.stop()
        stop_server(self.proc)
        self.err_file.seek(0)
        tail = self.err_file.read().decode(errors="replace")[-3000:]
        return {"returncode": self.proc.returncode, "stderr_tail": tail, "rss_max_mb": self.sampler.rss_max}


class Visitor:
    """One browser context (a visitor of its own) on the server, and how to time one step of it."""

    def __init__(self, browser, server: Server | None, errors: dict):
        self.server, self.errors = server, errors
        self.context = browser.new_context(viewport=VIEWPORT)
        self.page = self.context.new_page()
        self.page.add_init_script(OBSERVER_JS)
        self.cdp = self.context.new_cdp_session(self.page)
        self.cdp.send("Performance.enable")
        self.page.on("pageerror", lambda e: self._count("js", 1))

    def _count(self, kind: str, n: int) -> None:
        self.errors[kind] = self.errors.get(kind, 0) + n

    def _renderer(self) -> dict[str, float]:
        metrics = {m["name"]: m["value"] for m in self.cdp.send("Performance.getMetrics")["metrics"]}
        return {short: metrics.get(name, 0.0) for name, short in RENDERER_METRICS.items()}

    def _start(self) -> dict:
        """The clocks before a step (outside the timed part)."""
        self.server.sampler.step_peak()  # the step's own peak from here
        return {"server": self.server.cpu(), "browser": browser_cpu(), "renderer": self._renderer()}

    def _finish(self, before: dict, wall_s: float) -> dict:
        renderer = self._renderer()
        step = {"wall_s": wall_s, "cpu_s": self.server.cpu() - before["server"],
                "browser_cpu_s": cpu_since(before["browser"]),
                "renderer_s": {k: v - before["renderer"][k] for k, v in renderer.items()},
                "peak_mb": self.server.sampler.step_peak(), **self.page.evaluate(ELEMENTS_JS)}
        for kind, n in count_errors(self.page).items():
            self._count(kind, n)
        return step

    def open(self, min_images: int) -> dict:
        """Open the page; wall time from navigation start (performance.timeOrigin) to the settled view."""
        before = self._start()
        self.page.goto(self.server.url, timeout=STEP_TIMEOUT_MS)
        try:
            t1 = wait_settled(self.page, done=1, min_images=min_images, timeout_ms=STEP_TIMEOUT_MS)
        except Exception:  # noqa: BLE001 - a step that never settles is reported as nan, not a crash
            self._count("timeouts", 1)
            return {**self._finish(before, math.nan), "from_start_s": math.nan,
                    "unsettled": unsettled_reason(self.page, 1, min_images)}
        origin = self.page.evaluate("() => performance.timeOrigin")
        step = self._finish(before, t1 / 1000)
        step["from_start_s"] = (origin + t1) / 1000 - self.server.t_spawn
        return step

    def timed(self, action) -> dict:
        """Do `action`; wall time until the rerun it started is drawn (nan if it never settled)."""
        runs = done_count(self.page)
        before = self._start()
        t0 = self.page.evaluate("() => performance.now()")
        action()
        try:
            t1 = wait_settled(self.page, done=runs + 1, timeout_ms=STEP_TIMEOUT_MS)
        except Exception:  # noqa: BLE001
            self._count("timeouts", 1)
            return {**self._finish(before, math.nan), "unsettled": unsettled_reason(self.page, runs + 1)}
        return self._finish(before, (t1 - t0) / 1000)

    def tab_names(self) -> list[str]:
        return [t.strip() for t in self._tabs().all_inner_texts()]

    def _tabs(self):
        return self.page.locator('[data-testid="stTabs"] [data-testid="stTab"]')

    def visit(self, order: list[int], names: list[str], log, label: str) -> dict:
        """Click the tabs in `order`, one timed step each: {tab name: step}."""
        out = {}
        for i in order:
            out[names[i]] = step = self.timed(lambda i=i: self._tabs().nth(i).click())
            log(f"    {label} {names[i]!r}: {fmt_step(step)}, peak {step['peak_mb']:.0f} MB, "
                f"{step['images']} images, {len(step['charts'])} charts, {step['dataframes']} dataframes"
                + (f"; NOT SETTLED: {step['unsettled']}" if "unsettled" in step else ""))
        return out

    def sections(self, names: list[str], log, what: str) -> dict:
        """In every tab drawn one section at a time, click each other section, then the first again:
        {"tab: section": step}. The tab last shown (selected already) is not visited."""
        out = {}
        for i, name in enumerate(names):
            if self._tabs().nth(i).get_attribute("aria-selected") == "true":
                continue
            self.timed(lambda i=i: self._tabs().nth(i).click())
            options = self.page.locator('[data-testid="stMain"] [data-testid="stButtonGroup"] button')
            labels = [t.strip() for t in options.all_inner_texts()]
            for k, label in list(enumerate(labels))[1:] + [(0, labels[0])] if labels else []:
                out[f"{name}: {label}"] = step = self.timed(lambda k=k, options=options: options.nth(k).click())
                log(f"    {what} {name!r} {label!r}: {fmt_step(step)}, {len(step['charts'])} charts, "
                    f"{step['dataframes']} dataframes")
        return out

    def digits(self, rerenders: int) -> dict:
        """Switch to typed indices, then type new ones `rerenders` times (Enter each time)."""
        box = self.page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(
            has_text="Choose digits by")

        def pick():
            box.locator('[role="combobox"], input').first.click()
            self.page.get_by_role("option", name="typed test indices", exact=True).click()

        out = {"mode_switch": self.timed(pick), "rerenders": []}
        field = self.page.get_by_label(TYPED_LABEL)
        for i in range(rerenders):
            field.fill(", ".join(str((i * 997 + k * 131) % 10000) for k in range(N_DIGITS)))
            out["rerenders"].append(self.timed(lambda: field.press("Enter")))
        return out

    def close(self) -> None:
        self.context.close()


def fmt_step(step: dict | None) -> str:
    """'1.23 s (0.45 / 0.80)': wall seconds; in brackets the server's and Chromium's CPU seconds."""
    if not step:
        return "-"
    return f"{step['wall_s']:.2f} s ({step['cpu_s']:.2f} / {step['browser_cpu_s']:.2f})"


def run_once(models_dir: Path, rerenders: int, prefix: list[str] | None, log, read_s: float = 0.0) -> dict:
    """One fresh server process, two visitors (see the module docstring); every figure of the run. The second
    visitor reads its first view for `read_s` seconds before it clicks."""
    from playwright.sync_api import sync_playwright

    res: dict = {"models": model_count(models_dir), "errors": {}, "load_average_start": load_average()}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        first = Visitor(browser, None, res["errors"])  # the browser is up before the clock starts
        first.server = server = Server(models_dir, prefix)
        try:
            wait_healthy(server.proc, server.port)
            res["server_up_s"] = time.time() - server.t_spawn
            res["start"] = first.open(min_images=1)  # the Findings tab: a picture per finding
            log(f"  server up {res['server_up_s']:.2f} s; default view {res['start']['from_start_s']:.2f} s "
                f"from process start ({res['start']['cpu_s']:.2f} s server CPU), {res['start']['images']} images")
            names = res["tab_names"] = first.tab_names()
            res["first_visit"] = first.visit(list(range(1, len(names))), names, log, "first visit")
            res["warm_same"] = first.visit(list(range(len(names))), names, log, "warm, same visitor")
            res["sections_first"] = first.sections(names, log, "first visit, section")
            res["one_visitor_mb"] = memory_mb(server.proc.pid)
            log(f"  one visitor through every tab: peak {res['one_visitor_mb']['hwm']:.0f} MB, "
                f"RSS {res['one_visitor_mb']['rss']:.0f} MB")
            first.close()
            second = Visitor(browser, server, res["errors"])
            res["second_open"] = second.open(min_images=1)
            log(f"  second visitor, page open -> default view: {fmt_step(res['second_open'])}")
            second.page.wait_for_timeout(read_s * 1000)
            order = list(range(1, len(names))) + [0]
            res["warm_second"] = second.visit(order, names, log, "warm, second visitor")
            res["sections"] = second.sections(names, log, "warm, second visitor, section")
            res["digits"] = second.digits(rerenders)
            log(f"  digits: {' '.join(fmt_step(s) for s in res['digits']['rerenders'])}")
            res["end_mb"] = memory_mb(server.proc.pid)
            browser.close()
        finally:
            res["server"] = server.stop()
    res["load_average_end"] = load_average()
    return res


def measure_floor(prefix: list[str] | None, log, visitors: int = 3, rounds: int = 2) -> dict:
    """Streamlit's own floor on this machine (`benchmarks/bare_app.py`, served and seen as the dashboard is):
    process start -> page drawn, page open on the running server (fresh visitors) and tab switches; medians."""
    from playwright.sync_api import sync_playwright

    errors: dict = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        first = Visitor(browser, None, errors)
        first.server = server = Server(COMMITTED_MODELS, prefix, app=REPO / "benchmarks" / "bare_app.py")
        try:
            wait_healthy(server.proc, server.port)
            start = first.open(min_images=0)
            first.close()
            opens, switches = [], []
            for _ in range(visitors):
                visitor = Visitor(browser, server, errors)
                opens.append(visitor.open(min_images=0))
                names = visitor.tab_names()
                for _ in range(rounds):
                    switches += visitor.visit([1, 2, 0], names, lambda msg: None, "bare").values()
                visitor.close()
            browser.close()
        finally:
            server.stop()
    floor = {"from_start_s": start["from_start_s"],
             **{f"open_{k}": statistics.median(s[k] for s in opens) for k in ("wall_s", "cpu_s")},
             **{f"switch_{k}": statistics.median(s[k] for s in switches) for k in ("wall_s", "cpu_s")},
             "errors": errors}
    log(f"Streamlit's floor (benchmarks/bare_app.py): default view {floor['from_start_s']:.2f} s from process "
        f"start; page open {floor['open_wall_s']:.2f} s ({floor['open_cpu_s']:.2f} s server CPU), tab switch "
        f"{floor['switch_wall_s']:.2f} s ({floor['switch_cpu_s']:.2f}), medians of {visitors} visitors")
    return floor


# ---------------------------------------------------------------- the report

def _median_max(steps: list[dict], key: str = "wall_s") -> str:
    xs = [s[key] for s in steps]
    return f"{statistics.median(xs):.2f} / {max(xs):.2f}" if xs else "-"


def _tab_rows(results: list[dict], key: str, title: str) -> list[tuple]:
    names = results[0].get(key, {}).keys()
    return [(f"{title}: {n}", *(fmt_step(r.get(key, {}).get(n)) for r in results)) for n in names]


def report_rows(results: list[dict]) -> list[tuple]:
    """One row per figure, one column per run."""
    rows = [("step: wall (server CPU / browser CPU s)", *(f"run {i + 1}" for i in range(len(results))))]
    rows.append(("server up (health answers)", *(f"{r['server_up_s']:.2f} s" for r in results)))
    rows.append(("process start -> default view", *(
        f"{r['start']['from_start_s']:.2f} s ({r['start']['cpu_s']:.2f} / -)" for r in results)))
    rows.append(("  of which page open -> default view", *(fmt_step(r["start"]) for r in results)))
    rows += _tab_rows(results, "first_visit", "first visit, fresh process")
    rows += _tab_rows(results, "sections_first", "first visit, section")
    rows += _tab_rows(results, "warm_same", "warm switch, same visitor")
    rows.append(("second visitor: page open -> default view", *(fmt_step(r["second_open"]) for r in results)))
    rows += _tab_rows(results, "warm_second", "warm switch, second visitor")
    rows += _tab_rows(results, "sections", "warm switch, second visitor, section")
    rows.append(("digits: switch to typed indices", *(fmt_step(r["digits"]["mode_switch"]) for r in results)))
    rows.append(("digits: re-render, median / max s", *(_median_max(r["digits"]["rerenders"]) for r in results)))
    rows.append(("  server CPU, median / max s", *(_median_max(r["digits"]["rerenders"], "cpu_s")
                                                   for r in results)))
    rows.append(("one visitor, every tab: peak / RSS MB", *(
        f"{r['one_visitor_mb']['hwm']:.0f} / {r['one_visitor_mb']['rss']:.0f}" for r in results)))
    rows.append(("largest step peak (sampled) MB", *(_largest_step_peak(r) for r in results)))
    rows.append(("end: peak / RSS MB", *(f"{r['end_mb']['hwm']:.0f} / {r['end_mb']['rss']:.0f}" for r in results)))
    rows.append(("errors", *(", ".join(f"{k} {v}" for k, v in r["errors"].items() if v) or "0" for r in results)))
    rows.append(("load average start -> end", *(f"{r['load_average_start']} -> {r['load_average_end']}"
                                                for r in results)))
    return rows


def _steps(r: dict) -> dict[str, dict]:
    out = {"default view": r["start"], "second visitor open": r["second_open"]}
    for key in ("first_visit", "sections_first", "warm_same", "warm_second", "sections"):
        out.update({f"{key} {n}": s for n, s in r.get(key, {}).items()})
    out.update({f"digits {i}": s for i, s in enumerate(r["digits"]["rerenders"])})
    return out


def _largest_step_peak(r: dict) -> str:
    name, step = max(_steps(r).items(), key=lambda kv: kv[1]["peak_mb"])
    return f"{step['peak_mb']:.0f} ({name})"


def where_rows(r: dict) -> list[tuple]:
    """Where one run's warm steps spend their time (the second visitor: a warm server, a fresh browser)."""
    rows = [("second visitor", "wall s", "server CPU", "Chromium CPU", "renderer: task / JS / layout / style",
             "charts (svg nodes)", "images", "dataframes")]
    steps = {"page open (default view)": r["second_open"], **r.get("warm_second", {})}
    for name, st in steps.items():
        ren = st["renderer_s"]
        charts = " ".join(f"{c['renderer']}:{c['nodes']}" for c in st["charts"]) or "-"
        rows.append((name, f"{st['wall_s']:.2f}", f"{st['cpu_s']:.2f}", f"{st['browser_cpu_s']:.2f}",
                     " / ".join(f"{ren[k]:.2f}" for k in RENDERER_METRICS.values()), charts,
                     str(st["images"]), str(st["dataframes"])))
    return rows


def fmt_table(rows: list[tuple]) -> str:
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def _worst(steps: dict, key: str = "wall_s") -> tuple[float, str]:
    """The largest figure and its step's name; nan (a step that never settled) counts as the worst."""
    if not steps:
        return math.nan, "-"
    name, step = max(steps.items(), key=lambda kv: math.inf if math.isnan(kv[1][key]) else kv[1][key])
    return step[key], name


def targets(r: dict, pinned: bool) -> list[tuple[str, float, float, str, str]]:
    """(what, figure, target, at which step, the `measure_floor` figure beside it) for each target of issue 11."""
    t = TARGETS
    warm = {**{f"same visitor {k}": v for k, v in r["warm_same"].items()},
            **{f"second visitor {k}": v for k, v in r["warm_second"].items()},
            **{f"section {k}": v for k, v in r.get("sections", {}).items()}}
    sections_first = {f"section {k}": v for k, v in r.get("sections_first", {}).items()}
    first, first_at = _worst({**r["first_visit"], **sections_first})
    warm_s, warm_at = _worst(warm)
    warm_cpu, cpu_at = _worst(warm, "cpu_s")
    out = [("default view, page open on a running server (s)", r["second_open"]["wall_s"], t["open_s"], "",
            "open_wall_s"),
           ("default view from process start (s)", r["start"]["from_start_s"], t["start_s"], "", "from_start_s"),
           ("first visit of every tab and section, fresh process (s)", first, t["first_visit_s"], first_at,
            "switch_wall_s"),
           ("warm tab or section switch, wall (s)", warm_s, t["warm_s"], warm_at, "switch_wall_s"),
           ("warm tab or section switch, server CPU (s)", warm_cpu, t["warm_cpu_s"], cpu_at, "switch_cpu_s"),
           ("one visitor through every tab, peak (MB)", r["one_visitor_mb"]["hwm"], t["peak_mb"], "", "")]
    if pinned:
        every = {"second visitor default view": r["second_open"],
                 **{f"first visit {k}": v for k, v in r["first_visit"].items()},
                 **{f"first visit, section {k}": v for k, v in r.get("sections_first", {}).items()}, **warm}
        worst, at = _worst(every)
        out.append(("pinned to one core: every tab (s)", worst, t["pinned_tab_s"], at, "open_wall_s"))
    return out


def print_targets(results: list[dict], pinned: bool, floor: dict | None) -> None:
    print("targets (issue 11)" + ("; in brackets the bare app's figure for the same step here:" if floor else ":"))
    for i, r in enumerate(results):
        for what, figure, target, where, floor_key in targets(r, pinned):
            verdict = "met" if figure <= target else "MISSED"  # nan: missed
            at = f" ({where})" if where else ""
            bare = f" [bare app {floor[floor_key]:.2f}]" if floor and floor_key else ""
            print(f"  run {i + 1}: {what} {figure:.2f} <= {target:g}: {verdict}{at}{bare}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=Path, default=Path(os.environ.get("AECOMPARE_MODELS") or COMMITTED_MODELS))
    ap.add_argument("--runs", type=int, default=3, help="fresh server processes, one after the other")
    ap.add_argument("--rerenders", type=int, default=5, help="digit changes per run")
    ap.add_argument("--taskset", metavar="CPU", help="pin the server to these CPUs (taskset -c CPU), e.g. 0")
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    ap.add_argument("--read-s", type=float, default=0.0,
                    help="seconds the second visitor reads its first view before clicking (0: clicks at once)")
    ap.add_argument("--no-floor", action="store_true", help="skip measuring the bare app (benchmarks/bare_app.py)")
    args = ap.parse_args(argv)
    if args.taskset and not shutil.which("taskset"):
        ap.error("--taskset needs the taskset command (util-linux)")
    prefix = ["taskset", "-c", args.taskset] if args.taskset else None

    def log(msg):
        print(msg, flush=True)

    start_load = load_average()
    log(f"models: {args.models.name}/ ({model_count(args.models)} models); {os.cpu_count()} CPUs; "
        f"server {'pinned: taskset -c ' + args.taskset if prefix else 'not pinned'}; load average {start_load}")
    floor = None if args.no_floor else measure_floor(prefix, log)
    results = []
    for i in range(args.runs):
        log(f"run {i + 1}/{args.runs} (load average {load_average()})")
        results.append(run_once(args.models, args.rerenders, prefix, log, args.read_s))
    print()
    print(fmt_table(report_rows(results)))
    print()
    print("where the time goes, run 1 (CPU seconds during each step):")
    print(fmt_table(where_rows(results[0])))
    print()
    print_targets(results, pinned=bool(prefix), floor=floor)
    print(f"load average at the start {start_load}, at the end {load_average()} (1, 5, 15 min); "
          f"{os.cpu_count()} CPUs")
    if args.json:
        meta = {"taskset": args.taskset, "cpus": os.cpu_count(), "load_average_start": start_load,
                "load_average_end": load_average(), "targets": TARGETS, "bare_app": floor}
        args.json.write_text(json.dumps({"meta": meta, "runs": results}, indent=1))
    for r in results:
        if r["server"]["returncode"] not in (0, -15):
            print(f"server exited with {r['server']['returncode']}:\n{r['server']['stderr_tail']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
