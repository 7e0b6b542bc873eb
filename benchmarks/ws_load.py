"""Many visitors without a browser: N concurrent sessions speaking Streamlit's own websocket protocol.

    python -m benchmarks.ws_load                          # 20 sessions, 120 s
    python -m benchmarks.ws_load --sessions 5 --duration 30

Why: headless Chromium renderers (an earlier, browser-driven version of this test) need more CPU
than the server on a small machine, so that test measured the clients. Here a session is a websocket to
`ws://127.0.0.1:PORT/_stcore/stream` (subprotocol "streamlit", Origin as a browser sends it) plus plain
HTTP GETs for images, all on one asyncio loop; the client needs a small fraction of the server's CPU.

What a session does, as the browser does it:
- it sends a `BackMsg.rerun_script` (`ClientState`: the URL's query string, the widget values it has
  set, the hashes of the large messages it keeps), reads `ForwardMsg`s until `script_finished`, and
  fetches over HTTP every image URL (`/media/...`) the deltas name that it has not loaded before
  (at most 6 at a time, started as each delta arrives). A step is complete when the script finished
  and its images were served; the script-only time is kept as well.
- first render: connect with `?digits=typed&idx=...` in the query string.
- tab switch: the tabs are `st.tabs(..., key="tab", bind="query-params")`, a widget whose value is the
  tab label. The session sets that widget's string value (and `tab=<label>` in the query string, as the
  browser's URL) and, as a browser's click does, asks for a rerun of the fragment the tabs are drawn in
  (`views.page.draw_tabs`; the deltas name it); the step is checked to have drawn into that tab only.
- digit change: the value of the sidebar's "Test indices" text input (a widget too), as typing + Enter.
- it follows `page_info_changed` (the URL the server writes) and resolves `ref_hash` messages from
  its own message cache, which ages out as the frontend's does.
Each session loops until the deadline (or --max-cycles): every tab in turn, then a digit change.
Every step is bounded (--step-timeout); a failed step drops the connection and the next step starts
a new one (a new Streamlit session). The whole run stops by itself (deadline + step timeout + grace).

Reported: errors (goal 0) by kind: `exception` elements, `st.error` alerts, disconnects, steps over
the timeout, a step that drew another tab than asked, images not served (HTTP status != 200), other
protocol failures, a dead server; p50/p95 of first render and re-render times (tab switch, digit change);
the server's peak memory (VmHWM), largest sampled and final RSS, Streamlit's own memory accounting at
the deadline (`/_stcore/metrics`); CPU seconds of the server (utime + stime) and of this client.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import re
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import parse_qsl, urlencode

from streamlit.proto.Alert_pb2 import Alert
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from .streamlit_server import (
    COMMITTED_MODELS,
    LOCALHOST,
    RssSampler,
    free_port,
    memory_mb,
    spawn_server,
    stop_server,
    wait_healthy,
)

IDX_LABEL = "Test indices (0-9999, comma separated)"
TAB_KEY = "tab"
MAX_CACHED_MESSAGE_AGE = 2  # runs; Streamlit's global.maxCachedMessageAge default, as the frontend ages
HTTP_CONNECTIONS = 6  # parallel image requests per session, as a browser per host
ERROR_KINDS = ("exceptions", "error_alerts", "disconnects", "timeouts", "wrong_tab", "media", "other",
               "server_died")
FINISHED = {ForwardMsg.FINISHED_SUCCESSFULLY, ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY}


@dataclass
class Stats:
    """Everything the sessions measured (shared: one asyncio loop, no locks needed)."""

    first_s: list[float] = field(default_factory=list)
    tab_s: list[float] = field(default_factory=list)
    digits_s: list[float] = field(default_factory=list)
    script_s: list[float] = field(default_factory=list)  # re-renders, script finished (images not waited)
    errors: dict[str, int] = field(default_factory=lambda: dict.fromkeys(ERROR_KINDS, 0))
    messages: list[str] = field(default_factory=list)
    tab_headings: dict[str, str] = field(default_factory=dict)  # tab -> first heading drawn in it
    tab_visits: Counter = field(default_factory=Counter)
    cycles: int = 0
    connections: int = 0
    ws_bytes: int = 0
    images: int = 0
    image_bytes: int = 0

    def error(self, kind: str, msg: str, n: int = 1) -> None:
        self.errors[kind] += n
        if len(self.messages) < 30:
            self.messages.append(f"{kind}: {msg[:300]}")

    @property
    def total_errors(self) -> int:
        return sum(self.errors.values())


class MediaError(Exception):
    """An image URL from a delta that the server did not serve."""


@dataclass
class Run:
    """One script run as the client saw it."""

    t0: float
    script_s: float = float("nan")
    total_s: float = float("nan")
    open_tabs: set[str] = field(default_factory=set)
    headings: dict[str, str] = field(default_factory=dict)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (error kind, message)
    images: list[asyncio.Task] = field(default_factory=list)


def digit_indices(sid: int, cycle: int, n: int = 10) -> str:
    """Ten test indices, different per session and cycle."""
    return ", ".join(str((sid * 7919 + cycle * 997 + k * 131) % 10000) for k in range(n))


class Session:
    """One visitor: a websocket (one Streamlit session at a time) and what its browser would remember."""

    def __init__(self, sid: int, port: int, stats: Stats, step_timeout_s: float) -> None:
        self.sid, self.port, self.stats, self.step_timeout_s = sid, port, stats, step_timeout_s
        self.ws = None
        self.http = asyncio.Semaphore(HTTP_CONNECTIONS)
        self.query = ""
        self.widgets: dict[str, str] = {}  # widget id -> string value this client set
        self.tab_id: str | None = None
        self.tab_fragment: str | None = None  # the fragment the tabs are drawn in (views.page.draw_tabs)
        self.idx_id: str | None = None
        self.tabs: dict[tuple, str] = {}  # delta path of each tab block -> its label
        self.current_tab: str | None = None
        self.cache: dict[str, list] = {}  # message hash -> [ForwardMsg, run count when last used]
        self.runs = 0
        self.fetched: set[str] = set()

    @property
    def tab_labels(self) -> list[str]:
        return [label for _, label in sorted(self.tabs.items())]

    # ------------------------------------------------------------ steps

    async def step(self, kind: str, tab: str | None = None, indices: str | None = None) -> bool:
        """One bounded step ("first", "tab" or "digits"); records its time or its error. True if it worked."""
        if kind != "first" and self.ws is None and not await self.step("first"):
            return False  # reconnecting failed (counted)
        what = f"{kind} {tab or ''}".strip()
        try:
            async with asyncio.timeout(self.step_timeout_s):
                if kind == "first":
                    await self._open()
                elif kind == "tab":
                    self._set_widget(self.tab_id, tab)
                    self._set_query(TAB_KEY, tab)
                else:
                    self._set_widget(self.idx_id, indices)
                run = await self._rerun(self.tab_fragment if kind == "tab" else None)
        except TimeoutError:
            return await self._fail("timeouts", f"{what}: no complete render in {self.step_timeout_s:.0f} s")
        except ConnectionClosed as e:
            return await self._fail("disconnects", f"{what}: {e}")
        except Exception as e:  # noqa: BLE001 - counted, never hides the rest of the run
            return await self._fail("other", f"{what}: {type(e).__name__}: {e}")
        return self._record(kind, tab, run)

    async def _open(self) -> None:
        """A new connection, hence a new Streamlit session, with the visitor's URL."""
        await self.close()
        self.ws = await connect(f"ws://{LOCALHOST}:{self.port}/_stcore/stream", subprotocols=["streamlit"],
                                origin=f"http://{LOCALHOST}:{self.port}", max_size=None, ping_interval=None)
        self.stats.connections += 1
        self.query = urlencode({"digits": "typed", "idx": digit_indices(self.sid, -1).replace(" ", "")})
        self.widgets, self.cache, self.runs, self.fetched = {}, {}, 0, set()

    def _set_widget(self, widget_id: str | None, value: str) -> None:
        if widget_id is None:
            raise ValueError("the widget was not in the last render")
        self.widgets[widget_id] = value

    def _set_query(self, key: str, value: str) -> None:
        """A tab click also writes the tab's label into the browser's URL."""
        params = [(k, v) for k, v in parse_qsl(self.query, keep_blank_values=True) if k != key]
        self.query = urlencode(params + [(key, value)])

    def _record(self, kind: str, tab: str | None, run: Run) -> bool:
        s = self.stats
        for k, msg in run.problems:
            s.error(k, f"session {self.sid}, {kind} {tab or ''}: {msg}")
        if kind == "tab" and run.open_tabs != {tab}:
            s.error("wrong_tab", f"session {self.sid}: asked for {tab!r}, drew into {sorted(run.open_tabs)}")
        for label in run.open_tabs:
            s.tab_visits[label] += 1
            s.tab_headings.setdefault(label, run.headings.get(label, ""))
        self.current_tab = next(iter(run.open_tabs)) if len(run.open_tabs) == 1 else None
        {"first": s.first_s, "tab": s.tab_s, "digits": s.digits_s}[kind].append(run.total_s)
        if kind != "first":
            s.script_s.append(run.script_s)
        return True

    async def _fail(self, kind: str, msg: str) -> bool:
        self.stats.error(kind, f"session {self.sid}, {msg}")
        await self.close()  # the next step starts over with a new connection
        return False

    async def close(self) -> None:
        if self.ws is not None:
            ws, self.ws = self.ws, None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(ws.close(), 5)

    # ------------------------------------------------------------ one script run

    async def _rerun(self, fragment: str | None = None) -> Run:
        """Ask for a rerun (of `fragment` alone, if given), read until the script finished, wait for its images."""
        run = Run(time.perf_counter())
        self.tabs = {}
        await self.ws.send(self._back_msg(fragment))
        try:
            await self._read_until_finished(run)
            run.script_s = time.perf_counter() - run.t0
            for result in await asyncio.gather(*run.images, return_exceptions=True):
                if isinstance(result, BaseException):
                    run.problems.append(("media", f"{type(result).__name__}: {result}"))
            run.total_s = time.perf_counter() - run.t0
        finally:
            for t in run.images:
                t.cancel()
        self._age_cache()
        return run

    def _back_msg(self, fragment: str | None = None) -> bytes:
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = self.query
        if fragment:
            cs.fragment_id = fragment
        for wid, value in self.widgets.items():
            w = cs.widget_states.widgets.add()
            w.id, w.string_value = wid, value
        cs.cached_message_hashes.extend(self.cache)
        cs.context_info.timezone, cs.context_info.locale = "UTC", "en-US"
        cs.context_info.url = f"http://{LOCALHOST}:{self.port}/?{self.query}"
        return msg.SerializeToString()

    async def _read_until_finished(self, run: Run) -> None:
        while True:
            data = await self.ws.recv()
            self.stats.ws_bytes += len(data)
            fm = ForwardMsg.FromString(data)
            kind = fm.WhichOneof("type")
            if kind == "ref_hash":
                fm, kind = self._from_cache(fm), "delta"
            if kind == "delta":
                self._on_delta(fm, run)
            elif kind == "page_info_changed":
                self.query = fm.page_info_changed.query_string
            elif kind == "session_event" and fm.session_event.HasField("script_compilation_exception"):
                run.problems.append(("exceptions", str(fm.session_event.script_compilation_exception)[:300]))
            elif kind == "script_finished":
                if fm.script_finished in FINISHED:
                    return
                if fm.script_finished == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
                    raise ValueError("script finished with a compile error")
                # FINISHED_EARLY_FOR_RERUN: another run follows; wait for it

    def _from_cache(self, ref: ForwardMsg) -> ForwardMsg:
        """The full message a `ref_hash` stands for (the server knows we hold it), with the ref's path."""
        entry = self.cache[ref.ref_hash]  # KeyError: the server referred to a message we never had
        entry[1] = self.runs
        msg = ForwardMsg()
        msg.CopyFrom(entry[0])
        msg.metadata.CopyFrom(ref.metadata)
        return msg

    def _age_cache(self) -> None:
        self.runs += 1
        for h in [h for h, (_, last) in self.cache.items() if self.runs - last > MAX_CACHED_MESSAGE_AGE]:
            del self.cache[h]

    # ------------------------------------------------------------ what the deltas say

    def _on_delta(self, fm: ForwardMsg, run: Run) -> None:
        if fm.metadata.cacheable and fm.hash not in self.cache:
            self.cache[fm.hash] = [fm, self.runs]
        path = tuple(fm.metadata.delta_path)
        delta = fm.delta
        if delta.WhichOneof("type") == "add_block":
            self._on_block(delta.add_block, path, delta.fragment_id)
        elif delta.WhichOneof("type") == "new_element":
            self._on_element(delta.new_element, path, run)

    def _on_block(self, block, path: tuple, fragment_id: str) -> None:
        if block.WhichOneof("type") == "tab_container" and block.tab_container.query_param_key == TAB_KEY:
            self.tab_id, self.tab_fragment = block.tab_container.id, fragment_id or None
        elif block.WhichOneof("type") == "tab":
            self.tabs[path] = block.tab.label

    def _on_element(self, el, path: tuple, run: Run) -> None:
        kind = el.WhichOneof("type")
        tab = self._tab_of(path)
        if tab:
            run.open_tabs.add(tab)
            if kind == "heading":
                run.headings.setdefault(tab, el.heading.body)
        if kind == "exception":
            run.problems.append(("exceptions", f"{el.exception.type}: {el.exception.message}"))
        elif kind == "alert" and el.alert.format == Alert.ERROR:
            run.problems.append(("error_alerts", el.alert.body))
        elif kind == "text_input" and el.text_input.label == IDX_LABEL:
            self.idx_id = el.text_input.id
        elif kind == "imgs":
            for img in el.imgs.imgs:
                if img.url.startswith("/") and img.url not in self.fetched:
                    self.fetched.add(img.url)
                    run.images.append(asyncio.create_task(self._fetch(img.url)))

    def _tab_of(self, path: tuple) -> str | None:
        """The label of the tab an element is drawn in (tab blocks all sit at the same depth), or None."""
        depth = len(next(iter(self.tabs), ()))
        return self.tabs.get(path[:depth]) if depth and len(path) > depth else None

    async def _fetch(self, url: str) -> None:
        """GET an image as the browser would (at most 6 at a time)."""
        async with self.http:
            status, body = await http_get(self.port, url)
        if status != "200" or not body:
            raise MediaError(f"{url}: HTTP {status}")
        self.stats.images += 1
        self.stats.image_bytes += len(body)


async def http_get(port: int, path: str) -> tuple[str, bytes]:
    """A plain HTTP/1.1 GET to 127.0.0.1 on a connection of its own: (status code, body)."""
    reader, writer = await asyncio.open_connection(LOCALHOST, port)
    try:
        writer.write(f"GET {path} HTTP/1.1\r\nHost: {LOCALHOST}:{port}\r\nConnection: close\r\n\r\n".encode())
        await writer.drain()
        data = await reader.read()
    finally:
        writer.close()
    head, _, body = data.partition(b"\r\n\r\n")
    parts = head.split(b" ", 2)
    return (parts[1].decode() if len(parts) > 1 else "no answer"), body


# ---------------------------------------------------------------- one visitor's loop

async def session(sid: int, port: int, deadline: float, stats: Stats, max_cycles: int, step_timeout_s: float,
                  server_alive) -> None:
    """Until the deadline: first render, then cycles of every tab in turn and a digit change."""
    s = Session(sid, port, stats, step_timeout_s)
    try:
        cycle = 0
        while time.monotonic() < deadline and cycle < max_cycles and server_alive():
            if s.ws is None and not await s.step("first"):
                await asyncio.sleep(1)  # the failure is counted; do not spin
                continue
            labels = s.tab_labels
            for label in labels[1:] + labels[:1]:
                if time.monotonic() >= deadline or not server_alive():
                    break
                if label != s.current_tab:
                    await s.step("tab", tab=label)
            if time.monotonic() >= deadline or not server_alive():
                break
            await s.step("digits", indices=digit_indices(sid, cycle))
            cycle += 1
            stats.cycles += 1
    finally:
        await s.close()


# ---------------------------------------------------------------- the server, watched from /proc

def cpu_seconds(pid: int) -> float:
    """utime + stime of a process (Linux /proc), in seconds; 0 if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


async def streamlit_memory(port: int) -> dict[str, float]:
    """Streamlit's own memory accounting (`cache_memory_bytes` of /_stcore/metrics), MB per cache type."""
    try:
        _, body = await asyncio.wait_for(http_get(port, "/_stcore/metrics"), 60)
    except (OSError, TimeoutError):
        return {}
    text = body.decode(errors="replace")
    out: dict[str, float] = {}
    for m in re.finditer(r'^cache_memory_bytes\{cache_type="([^"]*)"[^}]*\} (\d+)', text, re.M):
        out[m[1]] = out.get(m[1], 0) + int(m[2]) / 2**20
    return out


async def _snapshot_at(when: float, pid: int, port: int, out: dict) -> None:
    """RSS and Streamlit's accounting at the deadline, while every session is still connected."""
    await asyncio.sleep(max(0.0, when - time.monotonic()))
    out["snapshot"] = "deadline" if when else "end of the sessions"
    out["rss_at_deadline"] = memory_mb(pid)["rss"]
    out["streamlit"] = await streamlit_memory(port)


# ---------------------------------------------------------------- the run

async def _run(n_sessions: int, duration_s: float, models_dir: Path, max_cycles: int, step_timeout_s: float,
               stagger_s: float, log) -> dict:
    stats, mem = Stats(), {}
    port = free_port()
    err_file = tempfile.TemporaryFile()
    server = spawn_server(port, models_dir, env={"PYTHONFAULTHANDLER": "1"}, stderr=err_file)
    sampler = snapshot = None
    elapsed = cpu_server = cpu_client = 0.0
    try:
        await asyncio.to_thread(wait_healthy, server, port)
        sampler = RssSampler(server.pid, interval=0.5)
        cpu0, client0, t0 = cpu_seconds(server.pid), time.process_time(), time.monotonic()
        deadline = t0 + duration_s
        snapshot = asyncio.create_task(_snapshot_at(deadline, server.pid, port, mem))
        alive = lambda: server.poll() is None  # noqa: E731
        tasks = []
        for sid in range(n_sessions):
            tasks.append(asyncio.create_task(session(sid, port, deadline, stats, max_cycles, step_timeout_s, alive)))
            await asyncio.sleep(stagger_s)
        # hard bound: a step can overrun the deadline by one step timeout (plus a reconnect) at most
        _, pending = await asyncio.wait(tasks, timeout=duration_s + 2 * step_timeout_s + 30)
        for t in pending:
            t.cancel()
            stats.error("timeouts", "session cancelled at the hard time bound")
        await asyncio.gather(*pending, return_exceptions=True)
        elapsed = time.monotonic() - t0
        cpu_server = cpu_seconds(server.pid) - cpu0
        cpu_client = time.process_time() - client0
        if not snapshot.done():  # the sessions ended before the deadline: take it now
            snapshot.cancel()
            await _snapshot_at(0, server.pid, port, mem)
        if server.poll() is not None:
            stats.error("server_died", f"server exited with {server.returncode}")
        mem.update({f"end_{k}": v for k, v in memory_mb(server.pid).items()})
    finally:
        if sampler is not None:
            sampler.stop()
            mem.update(rss_max=sampler.rss_max, hwm=sampler.hwm)
        stop_server(server)
        err_file.seek(0)
        stderr_all = err_file.read().decode(errors="replace")
        if server.returncode not in (0, -15):  # keep the whole log (faulthandler's tracebacks) for a look
            fd, log_path = tempfile.mkstemp(prefix="aecompare-wsload-server-", suffix=".log")
            os.write(fd, stderr_all.encode())
            os.close(fd)
            log(f"server exited with {server.returncode}; its full stderr: {log_path}")
    if server.returncode not in (0, -15):
        stats.error("server_died", f"server exit code {server.returncode}: {stderr_all[-1000:]}")
    return {"sessions": n_sessions, "duration_s": duration_s, "elapsed_s": elapsed, "stats": stats,
            "memory": mem, "cpu": {"server_s": cpu_server, "client_s": cpu_client},
            "server_stderr_tail": stderr_all[-4000:]}


def run_load(n_sessions: int = 20, duration_s: float = 120, models_dir: Path = COMMITTED_MODELS,
             max_cycles: int = 1000, step_timeout_s: float = 60, stagger_s: float = 0.0, log=print) -> dict:
    """Run the load test against a fresh server; returns the figures (see the module docstring)."""
    return asyncio.run(_run(n_sessions, duration_s, models_dir, max_cycles, step_timeout_s, stagger_s, log))


# ---------------------------------------------------------------- report

def pct(xs: list[float], q: float) -> float:
    if not xs:
        return float("nan")
    xs = sorted(xs)
    return xs[min(len(xs) - 1, max(0, round(q * (len(xs) - 1))))]


def _p(xs: list[float], digits: int = 3) -> str:
    return f"{pct(xs, .5):.{digits}f} / {pct(xs, .95):.{digits}f} s  (n={len(xs)})"


def report(r: dict) -> str:
    s: Stats = r["stats"]
    m, cpu = r["memory"], r["cpu"]
    both = s.tab_s + s.digits_s
    at = m.get("snapshot", "deadline")
    accounting = ", ".join(f"{k} {v:.1f} MB" for k, v in m.get("streamlit", {}).items()) or "n/a"
    cores = cpu["server_s"] / max(r["elapsed_s"], 1e-9)
    rows = [("sessions", f"{r['sessions']} (websocket + HTTP, no browser; {s.connections} connections)"),
            ("wall time", f"{r['elapsed_s']:.0f} s (bound {r['duration_s']:.0f} s + last steps)"),
            ("cycles (all tabs + a digit change)", str(s.cycles)),
            ("errors", f"{s.total_errors}  " + ", ".join(f"{k} {v}" for k, v in s.errors.items())),
            ("runs drawn per tab", ", ".join(f"{k} {v}" for k, v in s.tab_visits.items())),
            ("first render p50 / p95", _p(s.first_s, 2)),
            ("re-render, all p50 / p95", _p(both)),
            ("  tab switch p50 / p95", _p(s.tab_s)),
            ("  digit change p50 / p95", _p(s.digits_s)),
            ("  script only (no images) p50 / p95", _p(s.script_s)),
            ("received", f"{s.ws_bytes / 2**20:.0f} MB over websockets, {s.images} images "
                         f"({s.image_bytes / 2**20:.1f} MB)"),
            ("server peak memory VmHWM", f"{m.get('hwm', 0):.0f} MB"),
            (f"server RSS largest sampled / at {at} / end",
             f"{m.get('rss_max', 0):.0f} / {m.get('rss_at_deadline', 0):.0f} / {m.get('end_rss', 0):.0f} MB"),
            (f"Streamlit's own accounting at {at}", accounting),
            ("server CPU (utime+stime)",
             f"{cpu['server_s']:.0f} s = {cores:.2f} cores over the run; this client {cpu['client_s']:.1f} s")]
    w = max(len(a) for a, _ in rows)
    out = [f"{a.ljust(w)} | {b}" for a, b in rows]
    if s.messages:
        out.append("first error messages:")
        out.extend(f"  {msg}" for msg in s.messages[:10])
    return "\n".join(out)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--sessions", type=int, default=20)
    ap.add_argument("--duration", type=float, default=120, help="seconds; sessions start no new step after it")
    ap.add_argument("--max-cycles", type=int, default=1000, help="per session")
    ap.add_argument("--step-timeout", type=float, default=60, help="seconds for one step (script + images)")
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
