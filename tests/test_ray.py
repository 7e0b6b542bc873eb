"""Training as Ray tasks (`aecompare.training.cluster`) on a local two-CPU cluster: the same runs as in-process, a
worker killed mid-task, the command line end to end; and the task plan and the command line's errors, without a
cluster."""

from __future__ import annotations

import dataclasses
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path

import numpy as np
import pytest

from aecompare.registry import REGISTRY, group_key, select
from aecompare.store import artifacts
from aecompare.store.catalog import load_catalog
from aecompare.train import parse_args
from aecompare.training.cluster import plan_tasks

from conftest import REPO, tiny_experiments


def run_cli(*args, code: str | None = None):
    command = ["-c", code] if code else ["-m", "aecompare.train"]
    return subprocess.run([sys.executable, *command, *args], cwd=REPO, capture_output=True, text=True, timeout=600)


# ------------------------------------------------------------ the plan and the command line, without a cluster


def two_sizes_of_group() -> list:
    """18 runs in one training group and 11 in another."""
    base = REGISTRY[0]
    return ([dataclasses.replace(base, seed=s) for s in range(18)]
            + [dataclasses.replace(base, seed=s, batch_size=50) for s in range(11)])


def task_sizes(tasks: list[list], exps: list) -> list[int]:
    """The tasks' sizes, having checked that every run is in exactly one task and no task mixes groups."""
    assert Counter(e for task in tasks for e in task) == Counter(exps)
    assert all(len({group_key(e) for e in t}) == 1 for t in tasks)
    return sorted(len(t) for t in tasks)


def test_groups_stay_whole_when_there_are_at_least_as_many_as_slots():
    exps = two_sizes_of_group()
    assert task_sizes(plan_tasks(exps, slots=1), exps) == [11, 18]
    assert task_sizes(plan_tasks(exps, slots=2), exps) == [11, 18]


def test_with_fewer_groups_than_slots_the_largest_are_split_until_every_slot_has_a_task():
    exps = two_sizes_of_group()
    assert task_sizes(plan_tasks(exps, slots=3), exps) == [9, 9, 11]
    sizes = task_sizes(plan_tasks(exps, slots=16), exps)
    assert len(sizes) == 16 and max(sizes) == 2
    assert task_sizes(plan_tasks(exps, slots=100), exps) == [1] * 29


def test_a_chunk_caps_every_task_whatever_the_slots():
    exps = two_sizes_of_group()
    assert task_sizes(plan_tasks(exps, slots=2, chunk=4), exps) == [3, 3, 3, 4, 4, 4, 4, 4]


def test_chunk_and_task_cpus_need_ray(capsys):
    for option in ("--chunk", "--task-cpus"):
        with pytest.raises(SystemExit) as exit_:
            parse_args([option, "2"])
        assert exit_.value.code == 2 and f"{option} needs --ray" in capsys.readouterr().err
    assert parse_args(["--ray"]).ray == "local" and parse_args(["--ray", "auto"]).ray == "auto"


def test_a_worker_runs_only_tasks_of_its_own_thread_count(monkeypatch):
    """Workers are reused from task to task (TensorFlow stays imported), each for one thread count, set in its
    runtime environment: a task for another count refuses to run rather than train on the wrong threads."""
    from aecompare.training.cluster import THREADS_VARIABLE, ClusterError, set_threads

    monkeypatch.setenv(THREADS_VARIABLE, "2")
    with pytest.raises(ClusterError, match="a task for 1 threads in a worker for 2"):
        set_threads(1)


def test_cli_without_ray_installed_says_how_to_install_it(tmp_path):
    hide_ray = "import sys; sys.modules['ray'] = None; from aecompare.train import main; sys.exit(main(sys.argv[1:]))"
    result = run_cli("--ray", "--only", "raw-linear-mae", "--out", str(tmp_path), code=hide_ray)
    assert result.returncode == 1
    assert result.stderr.strip() == "error: ray is not installed: pip install -e '.[ray]'"


def test_cli_says_when_no_cluster_listens_at_the_address(tmp_path):
    pytest.importorskip("ray")
    with socket.socket() as s:  # a port nothing listens on once closed
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    result = run_cli("--ray", f"127.0.0.1:{port}", "--only", "raw-linear-mae", "--epochs", "1",
                     "--out", str(tmp_path))
    assert result.returncode == 1
    assert f"error: no Ray cluster at 127.0.0.1:{port}: Connection refused" in result.stderr
    assert not (tmp_path / "manifest.json").exists()


# ------------------------------------------------------------ on a local cluster


@pytest.mark.slow
@pytest.mark.ray
def test_cli_trains_on_a_local_cluster_and_then_skips_the_runs_it_trained(tmp_path, mnist):
    """The full MNIST; a cluster of its own (before the module's cluster starts, so the two never share the cores)."""
    pytest.importorskip("ray")
    names = ["raw-linear-mae", "q3-sigmoid-mse"]
    args = ("--only", *names, "--seed", "0", "--epochs", "1", "--out", str(tmp_path / "models"), "--skip-results")
    result = run_cli("--ray", "local", *args)
    assert result.returncode == 0, result.stderr[-3000:]
    tasks, cpus = map(int, re.search(r"^Ray: (\d+) task\(s\) on (\d+) CPUs", result.stdout, re.M).groups())
    assert tasks == min(2, cpus) and result.stdout.count("\ndone on ") == tasks  # one group, split over the CPUs
    assert_complete(tmp_path / "models", select(names, seeds=[0], epochs=1))
    assert not (tmp_path / "models" / "results").exists()
    again = run_cli("--ray", "local", *args)
    assert again.returncode == 0 and again.stdout.count("up to date") == 2 and "Ray: " not in again.stdout


@pytest.fixture(scope="module")
def local_cluster():
    """Two CPUs and a small object store; started again once if the raylet gives up while its agents start
    (a fixed 15 s limit, ray-project/ray#65983, which a loaded machine can miss)."""
    ray = pytest.importorskip("ray")
    for attempt in range(2):
        try:
            ray.init(address="local", num_cpus=2, include_dashboard=False, object_store_memory=160 * 2**20)
            break
        except Exception:
            ray.shutdown()
            if attempt:
                raise
    yield ray
    ray.shutdown()


def two_groups() -> list:
    """Three tiny runs in two training groups: two nets at batch 100, one at batch 50."""
    by_name = {e.name: e for e in tiny_experiments()}
    exps = [by_name["raw-linear-mae"], by_name["q3-sigmoid-mse"],
            dataclasses.replace(by_name["norm-sigmoid-bce"], batch_size=50)]
    assert len({group_key(e) for e in exps}) == 2
    return exps


def weights(models_dir: Path, entry: dict) -> dict[str, np.ndarray]:
    with np.load(models_dir / entry["path"] / "weights.npz", allow_pickle=False) as f:
        return {k: f[k] for k in f.files}


def assert_complete(models_dir: Path, exps: list) -> None:
    catalog = load_catalog(models_dir)
    assert catalog.problems == []
    assert sorted((r.name, r.seed) for r in catalog.runs) == sorted((e.name, e.seed) for e in exps)
    for run in catalog.runs:
        assert set(run.entry["files"]) == set(artifacts.run_files(run.seed))
    assert list(models_dir.glob(f"*/{artifacts.STAGING_PREFIX}*")) == []


@pytest.mark.slow
@pytest.mark.ray
def test_runs_trained_as_ray_tasks_equal_the_runs_trained_in_process(local_cluster, small_mnist, tmp_path):
    from aecompare.training.cluster import train_on_ray
    from aecompare.training.trainer import train_all

    exps = two_groups()
    done = []
    entries = train_on_ray(exps, small_mnist, tmp_path / "ray", on_task_done=done.append)
    assert sorted(len(report.exps) for report in done) == [1, 2]  # two groups, two CPUs: whole groups
    assert_complete(tmp_path / "ray", exps)
    here = {(e["name"], e["seed"]): e for e in train_all(exps, small_mnist, tmp_path / "here")}
    assert {(e["name"], e["seed"]) for e in entries} == set(here)
    for entry in entries:
        alone = here[entry["name"], entry["seed"]]
        assert set(entry) == set(alone)  # the worker's summary, committed again, is the whole entry
        assert entry["epochs_trained"] == alone["epochs_trained"] == 1
        ours, theirs = weights(tmp_path / "ray", entry), weights(tmp_path / "here", alone)
        assert sorted(ours) == sorted(theirs)
        for k in ours:  # other thread counts change only the order of float sums
            np.testing.assert_allclose(ours[k], theirs[k], rtol=1e-4, atol=1e-5)


def attempt_pid(marker: Path) -> int:
    """The process of a task's attempt, from the file it made in `attempts_dir` (cluster.train_task)."""
    return int(marker.name.split(".")[0])


@pytest.mark.slow
@pytest.mark.ray
def test_a_worker_killed_mid_task_is_retried_and_the_models_folder_stays_whole(local_cluster, small_mnist, tmp_path):
    from aecompare.training.cluster import train_on_ray

    exps, out, attempts = two_groups(), tmp_path / "models", tmp_path / "attempts"
    attempts.mkdir()
    killed = []

    def kill_the_first_attempt():
        deadline = time.monotonic() + 300
        while not any(attempts.iterdir()) and time.monotonic() < deadline:
            time.sleep(0.02)
        pid = attempt_pid(next(attempts.iterdir()))
        os.kill(pid, signal.SIGKILL)
        killed.append(pid)

    killer = threading.Thread(target=kill_the_first_attempt, daemon=True)
    killer.start()
    entries = train_on_ray(exps, small_mnist, out, attempts_dir=str(attempts))
    killer.join(timeout=10)
    pids = [attempt_pid(p) for p in attempts.iterdir()]
    assert killed and killed[0] in pids
    assert len(pids) == 3  # two tasks, the killed one started twice (workers are reused: maybe in one process)
    assert sorted((e["name"], e["seed"]) for e in entries) == sorted((e.name, e.seed) for e in exps)
    assert_complete(out, exps)
