#!/usr/bin/env bash
# Does requirements.txt install, as Streamlit Community Cloud installs it (uv, fresh venv, no cache),
# on each Python we support, and does the app import and render there?
#
#   benchmarks/install_check.sh                      # 3.11.7 and 3.12.1 from pyenv
#   benchmarks/install_check.sh /path/to/python3.13  # any interpreters
#   REQUIREMENTS=/tmp/req.txt benchmarks/install_check.sh   # try a candidate requirements file
#
# Per interpreter: a fresh venv and a fresh uv cache (a cold install, as on Cloud), `uv pip install
# -r requirements.txt`, then the app's imports (TensorFlow must NOT be needed), then an AppTest smoke
# run of dashboard.py when it exists. Prints one timing line per step and a summary; exits non-zero
# if any interpreter fails.
set -u
REPO="$(cd "$(dirname "$0")/.." && pwd)"
UV="${UV:-uv}"
REQUIREMENTS="$(realpath "${REQUIREMENTS:-$REPO/requirements.txt}")"
command -v "$UV" >/dev/null || UV="python3 -m uv"
PYTHONS=("$@")
[ ${#PYTHONS[@]} -eq 0 ] && PYTHONS=(/root/.pyenv/versions/3.11.7/bin/python /root/.pyenv/versions/3.12.1/bin/python)
WORK="$(mktemp -d /tmp/aecompare-install-check.XXXXXX)"
trap 'rm -rf "$WORK"' EXIT
SUMMARY=()
STATUS=0

step() {  # step LABEL COMMAND...: run, time, print; returns the command's status
  local label=$1; shift
  local t0=$(date +%s.%N)
  "$@" >"$WORK/step.log" 2>&1
  local rc=$?
  local dt=$(python3 -c "print(f'{$(date +%s.%N) - $t0:.1f}')")
  printf '  %-34s %6ss  %s\n' "$label" "$dt" "$([ $rc -eq 0 ] && echo ok || echo "FAILED (exit $rc)")"
  [ $rc -eq 0 ] || tail -n 25 "$WORK/step.log" | sed 's/^/    | /'
  LAST_SECONDS=$dt
  return $rc
}

IMPORTS='import sys, time
t = time.perf_counter()
import streamlit, altair, sklearn, skimage, h5py, numpy, pandas, PIL
import aecompare.catalog, aecompare.artifacts, aecompare.data
assert "tensorflow" not in sys.modules, "the app must not need TensorFlow"
cat = aecompare.catalog.load_catalog("models")
print(f"python {sys.version.split()[0]} streamlit {streamlit.__version__} numpy {numpy.__version__}; "
      f"catalog: {len(cat.runs)} runs, {len(cat.problems)} problems; {time.perf_counter() - t:.1f}s")
assert not cat.problems, cat.problems'

APPTEST='import pathlib, sys
from streamlit.testing.v1 import AppTest
if not pathlib.Path("dashboard.py").exists():
    print("dashboard.py not there yet: skipped"); sys.exit(0)
at = AppTest.from_file("dashboard.py", default_timeout=300).run()
errors = [e.value for e in at.exception]
print(f"AppTest: {len(at.main)} top-level elements, {len(errors)} exceptions")
sys.exit(1 if errors else 0)'

cd "$REPO" || exit 1
echo "requirements: $REQUIREMENTS"
for PY in "${PYTHONS[@]}"; do
  VERSION="$("$PY" -c 'import platform; print(platform.python_version())' 2>/dev/null)" || {
    echo "== $PY: not runnable"; SUMMARY+=("$PY: not runnable"); STATUS=1; continue; }
  echo "== Python $VERSION ($PY)"
  VENV="$WORK/venv-$VERSION"
  export UV_CACHE_DIR="$WORK/uv-cache-$VERSION"
  ok=1; times=()
  step "uv venv" $UV venv -q --python "$PY" "$VENV" && times+=("venv ${LAST_SECONDS}s") || ok=0
  if [ $ok -eq 1 ]; then
    step "uv pip install -r requirements.txt" $UV pip install -q --python "$VENV/bin/python" \
      -r "$REQUIREMENTS" && times+=("install ${LAST_SECONDS}s") || ok=0
  fi
  if [ $ok -eq 1 ]; then
    step "import app modules" "$VENV/bin/python" -c "$IMPORTS" && times+=("imports ${LAST_SECONDS}s") || ok=0
    [ $ok -eq 1 ] && sed 's/^/    /' "$WORK/step.log"
  fi
  if [ $ok -eq 1 ]; then
    step "AppTest dashboard.py" "$VENV/bin/python" -c "$APPTEST" && times+=("apptest ${LAST_SECONDS}s") || ok=0
    [ $ok -eq 1 ] && sed 's/^/    /' "$WORK/step.log"
  fi
  du -sh "$VENV" 2>/dev/null | awk '{print "  venv size " $1}'
  SUMMARY+=("Python $VERSION: $([ $ok -eq 1 ] && echo PASS || echo FAIL) (${times[*]})")
  [ $ok -eq 1 ] || STATUS=1
done
echo "== summary"
printf '  %s\n' "${SUMMARY[@]}"
exit $STATUS
