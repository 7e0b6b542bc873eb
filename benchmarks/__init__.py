"""Speed and memory measurements, run from the repository root as modules: `python -m benchmarks.dashboard`.

`benchmarks.streamlit_server` (a real `streamlit run` watched from headless Chromium) is shared with the tests.
"""
