"""Faults, damaged artifacts and untrusted files (issue 6), on real files made in the test.

Every test works on a copy of a tiny models folder trained here (three registry entries, one
epoch, a few hundred real MNIST images), damages it one way, and checks that the catalog shows
every other model plus exactly one message naming the damaged file, that reading changed nothing
on disk, and what the training command line does about it. Tests marked `slow` run the real
training CLI as a subprocess (each needs the full MNIST, written once to an npz in tmp).
"""

from __future__ import annotations

import dataclasses
import errno
import hashlib
import json
import os
import random
import resource
import shutil
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path

import numpy as np
import pytest

from aecompare.data import Dataset
from aecompare.registry import REGISTRY
from aecompare.store import artifacts
from aecompare.store.artifacts import STAGING_PREFIX
from aecompare.store.catalog import load_catalog

REPO = Path(__file__).resolve().parent.parent
NAMES = tuple(dict.fromkeys(e.name for e in REGISTRY if e.seed == 0))  # one run (seed 0) of each model
TARGET = "q3-sigmoid-bce"  # the model a single fault damages
CLI_TIMEOUT = 900  # training ends by storing every result, over both datasets' full test sets


# ---------------------------------------------------------------- fixtures and helpers
# `mnist` (the full real MNIST, skipping when absent) comes from conftest.py.


@pytest.fixture(scope="session")
def mnist_npz(mnist, tmp_path_factory) -> Path:
    """The full MNIST as a Keras-format npz, so the CLI's `--data` accepts it (it verifies 60k/10k)."""
    path = tmp_path_factory.mktemp("mnist") / "mnist.npz"
    np.savez(path, x_train=mnist.train_x, y_train=mnist.train_y, x_test=mnist.test_x, y_test=mnist.test_y)
    return path


@pytest.fixture(scope="session")
def pristine_models(mnist, tmp_path_factory) -> Path:
    """Seed 0 of every registry model, trained 1 epoch on 600 training and 300 test images (kept pristine)."""
    from aecompare.training.trainer import train_all

    small = Dataset(mnist.train_x[:600], mnist.train_y[:600], mnist.test_x[:300], mnist.test_y[:300],
                  source="first 600/300 MNIST images (test fixture)")
    exps = [dataclasses.replace(e, epochs=1) for e in REGISTRY if e.seed == 0]
    out = tmp_path_factory.mktemp("tiny") / "models"
    train_all(exps, small, out)
    assert sorted(e["name"] for e in artifacts.read_manifest(out)) == sorted(NAMES)
    return out


@pytest.fixture
def models(pristine_models, tmp_path) -> Path:
    """A fresh, writable copy of the tiny models folder for one test."""
    dest = (tmp_path / "models").resolve()
    shutil.copytree(pristine_models, dest)
    return dest


def snapshot(root: Path) -> dict[str, str]:
    """Every file (sha256) and folder under `root`, hidden ones included: what 'unchanged' means."""
    if not root.exists():
        return {}
    state = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for d in dirnames:
            state[os.path.relpath(os.path.join(dirpath, d), root) + "/"] = "dir"
        for f in filenames:
            p = os.path.join(dirpath, f)
            state[os.path.relpath(p, root)] = hashlib.sha256(Path(p).read_bytes()).hexdigest()
    return state


def entry_of(models: Path, name: str) -> dict:
    return next(e for e in artifacts.read_manifest(models) if e["name"] == name)


def run_file(models: Path, name: str, file: str) -> Path:
    return models / entry_of(models, name)["path"] / file


def set_entry(models: Path, name: str, **changes) -> None:
    """Edit one manifest entry in place (as a hand edit or a bad commit would)."""
    entries = artifacts.read_manifest(models)
    for e in entries:
        if e["name"] == name:
            e.update(changes)
    (models / "manifest.json").write_text(json.dumps({"format": 1, "models": entries}, indent=1))


def rehash(models: Path, name: str) -> None:
    """Record the current files' sha256 in the manifest: the damage was committed, not accidental."""
    entry = entry_of(models, name)
    run = models / entry["path"]
    set_entry(models, name, files={f: artifacts.sha256_file(run / f) for f in entry["files"]})


def save_keras_model(path: Path, build) -> None:
    """Build a Keras model with `build(keras)` and save it as `path` (a .keras zip)."""
    import keras

    model = build(keras)
    tmp = path.with_name("tmp-model.keras")
    model.save(tmp)
    os.replace(tmp, path)


def dense_100_in(keras):
    """A real, working Keras autoencoder with the wrong input: 100-128-784."""
    inputs = keras.Input((100,))
    x = keras.layers.Dense(100, activation="sigmoid")(keras.layers.Dense(50, activation="sigmoid")(
        keras.layers.Dense(100, activation="sigmoid")(inputs)))
    return keras.Model(inputs, keras.layers.Dense(784, activation="sigmoid")(x))


def with_lambda(keras):
    """A 784-in, 784-out model whose middle is a Lambda layer: code that safe mode must never run."""
    inputs = keras.Input((784,))
    x = keras.layers.Dense(100, activation="sigmoid")(inputs)
    x = keras.layers.Lambda(lambda t: t * 2.0)(x)
    return keras.Model(inputs, keras.layers.Dense(784, activation="sigmoid")(x))


def run_cli(*args: str, out: Path, data: Path | None = None, preexec_fn=None) -> subprocess.CompletedProcess:
    """`python -m aecompare.train ... --out OUT [--data DATA]` as a real subprocess (the results it would store
    at the end are left out: these tests are about the runs' files; tests/test_training.py covers them). Seed 0
    only, unless `args` choose: one run per model, as in the folders these tests damage."""
    seed = [] if {"--seed", "--seeds"} & set(args) else ["--seed", "0"]
    cmd = [sys.executable, "-m", "aecompare.train", *args, *seed, "--skip-results", "--out", str(out)]
    if data is not None:
        cmd += ["--data", str(data)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    return subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=CLI_TIMEOUT,
                          preexec_fn=preexec_fn)


def assert_entries_intact(models: Path) -> None:
    """Every manifest entry's files exist and match their sha256."""
    for e in artifacts.read_manifest(models):
        for f, digest in e["files"].items():
            path = models / e["path"] / f
            assert path.is_file(), f"{path} listed but missing"
            assert artifacts.sha256_file(path) == digest, f"{path} does not match the manifest"


# ---------------------------------------------------------------- the faults

def truncate_weights(models, name):
    path = run_file(models, name, "weights.npz")
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    return path, "sha256"


def corrupt_weights_committed(models, name):
    path = run_file(models, name, "weights.npz")
    path.write_bytes(b"PK\x03\x04 this is not a zip archive" * 100)
    rehash(models, name)
    return path, "not a readable npz file"


def missing_on_disk(models, name):
    run = models / entry_of(models, name)["path"]
    shutil.rmtree(run)
    return run, "missing"


def not_in_manifest(models, name):
    run = models / entry_of(models, name)["path"]
    entries = [e for e in artifacts.read_manifest(models) if e["name"] != name]
    (models / "manifest.json").write_text(json.dumps({"format": 1, "models": entries}, indent=1))
    return run, "not in manifest.json"


def sha_mismatch(models, name):
    path = run_file(models, name, "history.json")
    path.write_bytes(path.read_bytes() + b"\n")  # still valid JSON, just not the committed bytes
    return path, "sha256"


def wrong_input_shape(models, name):
    """The weights of a real, working Keras net with 100 inputs, where the experiment says 784."""
    import keras

    from aecompare.training.keras_models import weights_of

    path = run_file(models, name, "weights.npz")
    path.write_bytes(artifacts.npz_bytes(**weights_of(dense_100_in(keras))))
    rehash(models, name)
    return path, "kernel_0 is float32 of shape (100, 100), not float32 of shape (784, 100)"


def history_nan(models, name):
    path = run_file(models, name, "history.json")
    record = json.loads(path.read_text())
    record["epochs"][-1]["val_loss"] = float("nan")
    path.write_text(json.dumps(record))  # writes the NaN literal
    assert "NaN" in path.read_text()
    rehash(models, name)
    return path, "not a finite number"


def history_inf(models, name):
    path = run_file(models, name, "history.json")
    record = json.loads(path.read_text())
    record["epochs"][0]["train_loss"] = float("inf")
    path.write_text(json.dumps(record))
    rehash(models, name)
    return path, "not a finite number"


SINGLE_MODEL_FAULTS = [truncate_weights, corrupt_weights_committed, missing_on_disk, not_in_manifest, sha_mismatch,
                       wrong_input_shape, history_nan, history_inf]


@pytest.mark.parametrize("fault", SINGLE_MODEL_FAULTS, ids=lambda f: f.__name__)
def test_catalog_reports_one_fault_and_keeps_the_rest(models, fault):
    """Every other model loads; exactly one message names the damaged file; reading changes nothing."""
    culprit, words = fault(models, TARGET)
    before = snapshot(models)
    catalog = load_catalog(models)
    assert snapshot(models) == before
    assert sorted(r.name for r in catalog.runs) == sorted(set(NAMES) - {TARGET})
    assert len(catalog.problems) == 1, catalog.problems
    assert str(culprit) in catalog.problems[0] and words in catalog.problems[0], catalog.problems[0]


def test_catalog_of_a_manifest_that_is_not_json(models):
    """One message naming manifest.json (not one per run folder, which are all there); nothing changed."""
    (models / "manifest.json").write_text('{"format": 1, "models": [NOT JSON')
    before = snapshot(models)
    catalog = load_catalog(models)
    assert snapshot(models) == before
    assert catalog.runs == []
    assert len(catalog.problems) == 1, catalog.problems
    assert str(models / "manifest.json") in catalog.problems[0] and "not a valid manifest" in catalog.problems[0]


@pytest.mark.parametrize("state", ["missing", "empty"])
def test_catalog_of_a_missing_or_empty_models_folder(tmp_path, state):
    models = tmp_path / "models"
    if state == "empty":
        models.mkdir()
    before = snapshot(tmp_path)
    catalog = load_catalog(models)
    assert snapshot(tmp_path) == before
    assert catalog.runs == []
    assert len(catalog.problems) == 1, catalog.problems
    assert str(models) in catalog.problems[0] and "python -m aecompare.train" in catalog.problems[0]


# ---------------------------------------------------------------- the training CLI on the same faults


@pytest.mark.slow
def test_cli_retrains_damaged_models_and_touches_nothing_else(models, mnist_npz):
    """Each fault on its own model; one `--only` run over all (no --force) repairs exactly those.

    Two undamaged models are in `--only` too: they are up to date, so they are skipped untouched.
    The folder taken out of the manifest is the user's: it stays, and stays reported.
    """
    damaged = dict(zip(NAMES, SINGLE_MODEL_FAULTS, strict=False))
    culprits = {name: fault(models, name)[0] for name, fault in damaged.items()}
    intact = [n for n in NAMES if n not in damaged]
    assert len(intact) >= 1
    kept_entries = {e["name"]: e for e in artifacts.read_manifest(models) if e["name"] in intact}
    kept_files = {k: v for k, v in snapshot(models).items() if k.split("/")[0] in intact}
    unlisted = culprits[next(n for n, f in damaged.items() if f is not_in_manifest)]
    unlisted_files = snapshot(unlisted)

    result = run_cli("--only", *NAMES, "--seed", "0", "--epochs", "1", out=models, data=mnist_npz)
    assert result.returncode == 0, result.stderr[-3000:]
    for name in intact:
        assert f"{name}/seed-0: up to date" in result.stdout

    after = snapshot(models)
    assert {k: v for k, v in after.items() if k.split("/")[0] in intact} == kept_files
    assert {e["name"]: e for e in artifacts.read_manifest(models) if e["name"] in intact} == kept_entries
    assert_entries_intact(models)
    assert not any(STAGING_PREFIX in k for k in after)
    catalog = load_catalog(models)
    assert sorted(r.name for r in catalog.runs) == sorted(NAMES)
    assert snapshot(unlisted) == unlisted_files
    assert len(catalog.problems) == 1 and str(unlisted) in catalog.problems[0], catalog.problems


@pytest.mark.slow
def test_cli_refuses_to_overwrite_a_manifest_that_is_not_json(models, mnist_npz):
    """A damaged manifest is the only list of the other runs: training must stop, not replace it."""
    (models / "manifest.json").write_text("{ not json")
    before = snapshot(models)
    result = run_cli("--only", TARGET, "--epochs", "1", out=models, data=mnist_npz)
    assert result.returncode != 0
    assert str(models / "manifest.json") in result.stderr
    assert snapshot(models) == before


@pytest.mark.slow
def test_cli_trains_into_a_missing_folder(tmp_path, mnist_npz):
    """A missing models folder is created (an empty one takes the same path after mkdir)."""
    models = tmp_path / "models"
    result = run_cli("--only", TARGET, "--epochs", "1", out=models, data=mnist_npz)
    assert result.returncode == 0, result.stderr[-2000:]
    catalog = load_catalog(models)
    assert [r.name for r in catalog.runs] == [TARGET] and catalog.problems == []


# ---------------------------------------------------------------- a disk that refuses writes


@pytest.mark.parametrize("refused", ["run folder", "manifest"])
def test_full_disk_while_publishing_leaves_nothing_partial(models, mnist, monkeypatch, refused):
    """ENOSPC at either rename that publishes a run: an OSError, no staging folder, manifest unchanged."""
    from aecompare.training.trainer import train_all

    before = snapshot(models)
    real_replace = os.replace

    def replace(src, dst, *args, **kwargs):
        src, dst = Path(src), Path(dst)
        hit = (dst.name == "manifest.json") if refused == "manifest" else src.name.startswith(STAGING_PREFIX)
        if hit and dst.parent.is_relative_to(models):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(dst))
        return real_replace(src, dst, *args, **kwargs)

    small = Dataset(mnist.train_x[:200], mnist.train_y[:200], mnist.test_x[:100], mnist.test_y[:100], "test")
    exp = dataclasses.replace(next(e for e in REGISTRY if e.name == TARGET), epochs=1)
    monkeypatch.setattr(os, "replace", replace)
    with pytest.raises(OSError) as err:
        train_all([exp], small, models)
    monkeypatch.undo()
    assert err.value.errno == errno.ENOSPC
    assert snapshot(models) == before
    assert load_catalog(models).problems == []


@pytest.mark.slow
def test_cli_with_a_file_size_limit_fails_clearly_and_leaves_nothing(models, mnist_npz):
    """A real refusal by the OS (RLIMIT_FSIZE: writes past 64 KiB fail with EFBIG): exit 1, nothing left."""
    before = snapshot(models)

    def limit_file_size():
        resource.setrlimit(resource.RLIMIT_FSIZE, (64 * 1024, 64 * 1024))

    result = run_cli("--only", TARGET, "--epochs", "1", "--force", out=models, data=mnist_npz,
                     preexec_fn=limit_file_size)
    assert result.returncode == 1, result.stderr[-2000:]
    assert f"could not write to {models}" in result.stderr and "Traceback" not in result.stderr
    assert snapshot(models) == before


@pytest.mark.slow
def test_cli_out_below_a_file_fails_clearly(tmp_path, mnist_npz):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder should be")
    result = run_cli("--only", TARGET, "--epochs", "1", out=blocker / "models", data=mnist_npz)
    assert result.returncode == 1
    assert f"could not write to {blocker / 'models'}" in result.stderr and "Traceback" not in result.stderr
    assert blocker.read_text() == "a file where a folder should be"


# ---------------------------------------------------------------- untrusted model files


def test_lambda_layer_is_refused_everywhere(models, tmp_path):
    """A model file carrying code (a Lambda layer) is never run: not by the catalog (which never opens a Keras
    file: the run is in the old format), not by the upgrade (config check), not by Keras safe mode."""
    from aecompare.store.artifacts import ArtifactError
    from aecompare.training import upgrade
    from aecompare.training.keras_models import load_model

    path = tmp_path / "lambda.keras"
    save_keras_model(path, with_lambda)
    with pytest.raises(ArtifactError, match="Lambda") as err:
        upgrade.check_config(zipfile.ZipFile(path).read("config.json"), path)
    assert str(path) in str(err.value)
    with pytest.raises(Exception, match="(?i)lambda|safe_mode") as err:
        load_model(path)
    assert not isinstance(err.value, AssertionError)

    run = models / entry_of(models, TARGET)["path"]
    (run / "weights.npz").unlink()
    shutil.copy(path, run / "model.keras")
    files = entry_of(models, TARGET)["files"]
    set_entry(models, TARGET, files={"model.keras": artifacts.sha256_file(run / "model.keras"),
                                     "history.json": files["history.json"], "probes.npz": files["probes.npz"]})
    before = snapshot(models)
    OpenAudit.start()
    try:
        catalog = load_catalog(models)
    finally:
        opened = OpenAudit.stop()
    assert snapshot(models) == before
    assert str(run / "model.keras") not in opened
    assert sorted(r.name for r in catalog.runs) == sorted(set(NAMES) - {TARGET})
    assert len(catalog.problems) == 1 and str(run / "model.keras") in catalog.problems[0]
    assert "old format" in catalog.problems[0] and "--upgrade" in catalog.problems[0]


class OpenAudit:
    """Records every path the interpreter opens or lists (audit events), while recording is on."""

    paths: list[str] = []
    recording = False
    installed = False

    @classmethod
    def hook(cls, event, args):
        if cls.recording and event in ("open", "os.listdir", "os.scandir") and args:
            if isinstance(args[0], (str, bytes, os.PathLike)):
                cls.paths.append(os.fsdecode(args[0]))

    @classmethod
    def start(cls):
        if not cls.installed:
            sys.addaudithook(cls.hook)
            cls.installed = True
        cls.paths.clear()
        cls.recording = True

    @classmethod
    def stop(cls) -> list[str]:
        cls.recording = False
        return list(cls.paths)


BAD_PATHS = {
    "dotdot": lambda models, outside: "../outside/run",
    "dotdot-inside-name": lambda models, outside: f"{TARGET}/../../outside/run",
    "absolute": lambda models, outside: str(outside),
    "nul-byte": lambda models, outside: f"{TARGET}/seed-0\x00../../outside/run",
    "very-long": lambda models, outside: f"{TARGET}/" + "x" * 5000,
    "not-a-string": lambda models, outside: ["..", "outside", "run"],
}


@pytest.mark.parametrize("kind", BAD_PATHS)
def test_manifest_paths_never_leave_the_models_folder(models, kind):
    """A manifest entry pointing elsewhere is one catalog message; nothing outside models/ is opened."""
    outside = models.parent / "outside" / "run"
    shutil.copytree(models / entry_of(models, TARGET)["path"], outside)  # a complete, loadable run
    set_entry(models, TARGET, path=BAD_PATHS[kind](models, outside))
    before = snapshot(models.parent)
    OpenAudit.start()
    try:
        catalog = load_catalog(models)
    finally:
        opened = OpenAudit.stop()
    assert snapshot(models.parent) == before
    strays = [p for p in opened if not Path(os.path.abspath(p)).is_relative_to(models)]
    assert strays == [], f"opened outside {models}: {strays}"
    assert sorted(r.name for r in catalog.runs) == sorted(set(NAMES) - {TARGET})
    # the real run folder is now unlisted too: one message for the bad entry, one for that folder
    bad = [p for p in catalog.problems if "manifest entry" in p]
    assert len(bad) == 1 and TARGET in bad[0] and ("outside" in bad[0] or "invalid path" in bad[0]), catalog.problems
    assert len(catalog.problems) == 2, catalog.problems


def test_symlinks_out_of_the_models_folder_are_not_followed(models):
    """A run folder or a run file that is a link to elsewhere is refused, even with matching sha256."""
    outside = models.parent / "outside"
    run = models / entry_of(models, TARGET)["path"]
    shutil.copytree(run, outside)
    (run / "weights.npz").unlink()
    (run / "weights.npz").symlink_to(outside / "weights.npz")
    OpenAudit.start()
    try:
        catalog = load_catalog(models)
    finally:
        opened = OpenAudit.stop()
    assert [p for p in opened if not Path(os.path.abspath(p)).is_relative_to(models)] == []
    assert sorted(r.name for r in catalog.runs) == sorted(set(NAMES) - {TARGET})
    assert len(catalog.problems) == 1 and str(run / "weights.npz") in catalog.problems[0]
    assert "symbolic link" in catalog.problems[0] and "never followed" in catalog.problems[0]


# ---------------------------------------------------------------- interrupted training

KILLS = 20
TRAINED = b"100%"  # tqdm's bar at the end of the last epoch: from here on the run writes its files


class Training:
    """One `python -m aecompare.train` subprocess, its stderr drained by a thread that notes when
    training ended (writing began)."""

    def __init__(self, cmd, env):
        import threading

        self.started = time.perf_counter()
        self.trained_at: float | None = None
        self.proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                     start_new_session=True)
        self.thread = threading.Thread(target=self._drain, daemon=True)
        self.thread.start()

    def _drain(self):
        seen = b""
        while chunk := self.proc.stderr.read1(4096):
            seen = (seen + chunk)[-256:]
            if self.trained_at is None and TRAINED in seen:
                self.trained_at = time.perf_counter()

    def wait_trained(self, timeout: float) -> bool:
        deadline = time.perf_counter() + timeout
        while self.trained_at is None and self.proc.poll() is None and time.perf_counter() < deadline:
            time.sleep(0.01)
        return self.trained_at is not None

    def kill_or_finish(self) -> str:
        outcome = "finished" if self.proc.poll() is not None else "killed"
        if outcome == "killed":
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.proc.wait(CLI_TIMEOUT)
        self.thread.join(10)
        return outcome


@pytest.mark.slow
def test_sigkill_at_random_moments_never_loses_a_model(tmp_path, mnist_npz):
    """Kill training 20 times at seeded random moments; after each kill the folder must be consistent.

    Consistent: every manifest entry's files exist and match their sha256, the catalog loads with
    no problems (staging folders are ignored), each model is either its previous complete run or a
    new complete one, and each model folder holds only its listed run (plus staging folders).
    One kill in four falls anywhere in the run's life; the others fall in the writing phase (after
    the last epoch), the only phase where a kill can tear anything, timed from a clean run.
    """
    models = tmp_path / "models"
    pair = ("q3-sigmoid-bce", "q3-sigmoid-mse")
    cmd = [sys.executable, "-m", "aecompare.train", "--only", *pair, "--seed", "0", "--epochs", "1", "--force",
           "--skip-results", "--out", str(models), "--data", str(mnist_npz)]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}

    def check(previous: dict[str, dict]) -> dict[str, dict]:
        catalog = load_catalog(models)
        assert catalog.problems == [], catalog.problems
        entries = {e["name"]: e for e in artifacts.read_manifest(models)}
        assert_entries_intact(models)
        for name, entry in entries.items():
            old = previous.get(name)
            assert old is None or entry == old or entry["path"] != old["path"], f"{name}: changed in place"
            on_disk = {p.name for p in (models / name).iterdir() if not p.name.startswith(STAGING_PREFIX)}
            assert on_disk == {Path(entry["path"]).name}, f"{name}: folders {on_disk}, manifest {entry['path']}"
        assert set(previous) <= set(entries), "a committed model disappeared from the manifest"
        return entries

    start = time.perf_counter()
    clean = Training(cmd, env)
    assert clean.proc.wait(CLI_TIMEOUT) == 0 and clean.wait_trained(10)
    clean.thread.join(10)
    lifetime = time.perf_counter() - clean.started
    writing = lifetime - (clean.trained_at - clean.started)
    state = check({})
    rng = random.Random(6)
    outcomes = {"killed": 0, "finished": 0, "new runs seen": 0}
    for i in range(KILLS):
        run = Training(cmd, env)
        if i % 4 == 0:
            time.sleep(rng.uniform(0, lifetime))
        else:
            delay = rng.uniform(0, 1.1 * writing)
            assert run.wait_trained(CLI_TIMEOUT), "training never finished its epoch"
            time.sleep(max(0.0, run.trained_at + delay - time.perf_counter()))
        outcomes[run.kill_or_finish()] += 1
        new_state = check(state)
        outcomes["new runs seen"] += sum(new_state[n] != state.get(n) for n in new_state)
        state = new_state
    final = Training(cmd, env)
    assert final.proc.wait(CLI_TIMEOUT) == 0
    final.thread.join(10)
    check(state)
    assert not list(models.glob(f"*/{STAGING_PREFIX}*")), "a finished run left staging folders behind"
    total = time.perf_counter() - start
    print(f"\nkill test: run {lifetime:.1f}s (writing {writing:.2f}s), {outcomes}, total {total:.0f}s")
    assert outcomes["killed"] >= KILLS // 2
