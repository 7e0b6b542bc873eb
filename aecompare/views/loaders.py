"""Data the dashboard loads once per process and shares with every visitor (never mutated).

MNIST comes from `aecompare.data.load_mnist` without the Keras download (no TensorFlow here).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import dataclasses
import functools
import threading
from pathlib import Path

import numpy as np
import streamlit as st

from ..catalog import Catalog, load_catalog
from ..compare import test_set_errors
from ..data import Dataset, MnistError, load_mnist, unit_images

_HEAVY = threading.Lock()


def one_at_a_time(compute):
    """Run at most one decorated computation at a time in this process (put it under `st.cache_*`).

    Streamlit computes a cached value once per key, but different keys (one per model, say) compute in
    parallel: twenty visitors opening a tab together would hold a dozen test-set-sized computations in
    memory at once. Serialised, the peak stays that of one, and so does the total CPU time.
    """
    @functools.wraps(compute)
    def serialised(*args, **kwargs):
        with _HEAVY:
            return compute(*args, **kwargs)
    return serialised


def read_only(shared):
    """Mark every numpy array in `shared` (dataclasses, dicts, lists, tuples, nested) read-only; return it.

    What one visitor's session could change in place, every visitor would see: an in-place change
    to shared data now raises instead (the dashboard's tests visit every tab over read-only data).
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


_RENDERING = threading.Lock()


def one_view_at_a_time():
    """Hold while drawing a tab: this process draws one visitor's tab at a time.

    On 2 cores, parallel drawing gains no time (the work is mostly Python, under one GIL), but each
    drawing holds its own temporaries (chart specs, images), and twenty at once took the server from
    ~600 MB to 2.7 GB (benchmarks/ws_load.py). Separate from `one_at_a_time`'s lock, and taken
    before it, so the two cannot deadlock.
    """
    return _RENDERING


M_MMAP_THRESHOLD, M_ARENA_MAX = -3, -8  # glibc's mallopt parameter numbers
BIG_ARRAY_BYTES = 8 << 20
MALLOC_ARENAS = 2


@st.cache_resource(show_spinner=False)
def tune_process() -> None:
    """Once per server process: keep the resident memory of a long-lived, many-visitor server low.

    - glibc raises its mmap threshold as big arrays are freed, after which arrays of 31 MB (the test
      set in float32) come from the heap and their pages stay resident after use (+150 MB after every
      tab). A fixed threshold of 8 MB returns every big array to the system when it is freed.
    - glibc also gives threads memory pools of their own (up to 16 on 2 cores), and Streamlit runs
      every script run in a new thread: capped at 2, twenty visitors need no more memory than one.
    - pyarrow converts DataFrames for `st.dataframe` and charts on a thread pool of its own; one
      thread is plenty for these small tables and avoids crashes seen with several sessions at once.
    """
    libc_name = ctypes.util.find_library("c")
    try:
        libc = ctypes.CDLL(libc_name)
        libc.mallopt(M_MMAP_THRESHOLD, BIG_ARRAY_BYTES)
        libc.mallopt(M_ARENA_MAX, MALLOC_ARENAS)
    except (OSError, AttributeError, TypeError):  # not glibc (macOS, musl): its own allocator is fine
        pass
    import pyarrow

    pyarrow.set_cpu_count(1)


@st.cache_resource(show_spinner="Loading MNIST ...")
def mnist_or_error() -> tuple[Dataset | None, str | None]:
    """(MNIST, None) or (None, the MnistError message): the page shows the message, never a traceback."""
    try:
        return read_only(load_mnist(download=False)), None
    except MnistError as e:
        return None, str(e)


@st.cache_resource(show_spinner="Loading models ...")
def catalog(models_dir: str) -> Catalog:
    """Every run in the folder (numpy weights, histories, probes), loaded once per process."""
    return read_only(load_catalog(Path(models_dir)))


@st.cache_resource(show_spinner=False)
def test_x_unit() -> np.ndarray | None:
    """The 10,000 test images as float32 (n, 784) on [0, 1] (31 MB, shared)."""
    m, _ = mnist_or_error()
    if m is None:
        return None
    return read_only(unit_images(m.test_x))


@st.cache_resource(show_spinner="Reconstructing the 10,000 test images with each model ...")
@one_at_a_time
def test_errors(models_dir: str, name: str) -> dict | None:
    """`compare.test_set_errors` for one model over the full test set (shared, read-only)."""
    runs = catalog(models_dir).by_name(name)
    m, _ = mnist_or_error()
    x = test_x_unit()
    if not runs or m is None or x is None:
        return None
    return read_only(test_set_errors(runs[0], x, m.test_y))
