"""The trace summary of `benchmarks.trace_tab` on a hand-made Chromium trace: which thread, what is counted once."""

from __future__ import annotations

import pytest

from benchmarks.trace_tab import TASK, main_thread, summary, union_us


def event(name: str, ts: int, dur: int, tid: int = 1) -> dict:
    return {"name": name, "ph": "X", "pid": 7, "tid": tid, "ts": ts, "dur": dur}


def thread(tid: int, name: str) -> dict:
    return {"name": "thread_name", "ph": "M", "pid": 7, "tid": tid, "args": {"name": name}}


def test_union_counts_overlapping_intervals_once():
    assert union_us([]) == 0
    assert union_us([(0, 10), (5, 20), (30, 35)]) == 25
    assert union_us([(30, 35), (0, 100)]) == 100


def test_the_page_main_thread_is_summarised_with_nested_events_counted_once():
    events = [
        thread(1, "CrRendererMain"), thread(2, "Compositor"),
        event(TASK, 0, 40_000),  # a long task: 40 ms, 12 ms of it compiling (a compile nested in a compile)
        event("V8.CompileCode", 1_000, 12_000), event("V8.CompileCode", 2_000, 5_000),
        event("MinorGC", 20_000, 3_000),
        event(TASK, 50_000, 5_000),  # a short task: not listed among the long ones
        event("UpdateLayoutTree", 51_000, 2_000),
        event(TASK, 0, 900_000, tid=2),  # another thread: not the page's main thread
    ]
    events = main_thread({"traceEvents": events})
    assert {e["tid"] for e in events} == {1}
    s = summary(events)
    assert s["busy_ms"] == pytest.approx(45.0) and s["tasks"] == 2
    assert s["compile (first call of a function)"] == pytest.approx(12.0)
    assert s["garbage collection"] == pytest.approx(3.0) and s["style and layout"] == pytest.approx(2.0)
    assert s["long_tasks"] == [{"at_ms": 0.0, "ms": 40.0, "compile (first call of a function)": 12.0,
                                "garbage collection": 3.0}]
