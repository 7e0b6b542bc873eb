"""Smoke version of benchmarks/ws_load.py: a few concurrent sessions over Streamlit's websocket protocol.

No browser (Chromium renderers would load 2 shared cores more than the server does). Never asserts
on time: only that no session saw an exception element, an st.error alert, a disconnect, a step that
did not finish in time, a wrong tab or an image that was not served, that the server lived, and that
every tab of the dashboard was rendered at least once.
"""

from __future__ import annotations

import pytest

from aecompare.views import TABS
from benchmarks import ws_load

pytestmark = pytest.mark.slow


def test_concurrent_sessions_see_no_errors():
    # bounded: one cycle per session (every tab, a digit change); no new step after 240 s, each step
    # at most 120 s, hard stop after that
    r = ws_load.run_load(n_sessions=3, duration_s=240, max_cycles=1, step_timeout_s=120)
    stats = r["stats"]
    print(ws_load.report(r))
    assert stats.total_errors == 0, f"{stats.errors}\n" + "\n".join(stats.messages)
    assert stats.first_s, "no session rendered the dashboard"
    assert stats.cycles == 3, "a session did not finish its cycle before the deadline"
    missing = [tab for tab in TABS if not stats.tab_visits[tab]]
    assert not missing, f"tabs never rendered: {missing}"
