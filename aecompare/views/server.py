"""How the one dashboard process serves many visitors: memory settings and who computes or draws when."""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import functools
import threading

import numpy as np
import streamlit as st

_HEAVY = threading.RLock()  # re-entrant: a heavy computation may ask for another (evidence needs the results)
# Held while drawing a tab: one visitor's tab at a time. On 2 cores parallel drawing gains no time (the
# work is mostly Python, under one GIL), but each drawing holds its own temporaries: twenty at once took
# the server from ~600 MB to 2.7 GB (benchmarks/ws_load.py). Taken before `_HEAVY`, never inside it.
TAB_DRAWING = threading.Lock()


def serialise_heavy(compute):
    """Decorator: at most one decorated computation runs at a time in this process (put it under `st.cache_*`).

    Streamlit computes a cached value once per key, but different keys compute in parallel: twenty
    visitors opening a tab together would hold a dozen test-set-sized computations at once.
    """
    @functools.wraps(compute)
    def serialised(*args, **kwargs):
        with _HEAVY:
            return compute(*args, **kwargs)
    return serialised


def read_only(shared):
    """Mark every numpy array in `shared` (dataclasses, dicts, lists, tuples, nested) read-only; return it.

    What one visitor's session could change in place, every visitor would see: an in-place change
    to shared data raises instead (the dashboard's tests visit every tab over read-only data).
    """
    if isinstance(shared, np.ndarray):
        shared.setflags(write=False)
    elif dataclasses.is_dataclass(shared) and not isinstance(shared, type):
        for f in dataclasses.fields(shared):
            read_only(getattr(shared, f.name))
    elif isinstance(shared, dict):
        for value in shared.values():
            read_only(value)
    elif isinstance(shared, (list, tuple)):
        for value in shared:
            read_only(value)
    return shared


M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc's mallopt parameter numbers
BIG_ARRAY_BYTES = 8 << 20
MALLOC_ARENAS = 2


@st.cache_resource(show_spinner=False)
def tune_process() -> None:
    """Once per server process: keep the resident memory of a long-lived, many-visitor server low.

    - glibc raises its mmap threshold as big arrays are freed, after which big arrays come from the heap
      and their pages stay resident after use. A fixed 8 MB threshold returns every big array when freed.
    - glibc gives threads memory pools of their own (up to 16 on 2 cores), and Streamlit runs every
      script run in a new thread: capped at 2, twenty visitors need no more memory than one.
    - pyarrow converts DataFrames for `st.dataframe` on a thread pool of its own; one thread is plenty
      for these small tables and avoids crashes seen with several sessions at once.
    """
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c"))
        libc.mallopt(M_MMAP_THRESHOLD, BIG_ARRAY_BYTES)
        libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl): its own allocator is fine
        pass
    import pyarrow

    pyarrow.set_cpu_count(1)
