"""Smoke version of benchmarks/load_test.py: a few concurrent Chromium sessions, zero errors.

Never asserts on time (2 shared cores): only that no session saw an exception box, an error box,
a JavaScript error, a crash, a disconnect or a step that never settled, and that the server lived.
"""

from __future__ import annotations

import importlib.util
import os
import sys

import pytest

from streamlit_server import CHROMIUM, REPO, chromium_available

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _load_test_module():
    spec = importlib.util.spec_from_file_location("aecompare_load_test", REPO / "benchmarks" / "load_test.py")
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod  # its dataclasses look their module up
    spec.loader.exec_module(mod)
    return mod


def test_concurrent_sessions_see_no_errors():
    if not chromium_available():
        if os.environ.get("CI"):
            pytest.fail(f"{CHROMIUM} is missing (apt-get install chromium)")
        pytest.skip(f"{CHROMIUM} is missing (apt-get install chromium)")
    pytest.importorskip("playwright.async_api")
    load_test = _load_test_module()
    # bounded: no new step after 45 s, each step at most 120 s, hard stop after that
    r = load_test.run_load(n_sessions=3, duration_s=45, max_cycles=2, step_timeout_s=120)
    stats = r["stats"]
    print(load_test.report(r))
    assert stats.total_errors == 0, f"{stats.errors}\n" + "\n".join(stats.messages)
    assert stats.first_s, "no session rendered the dashboard"
