"""Training the registry's runs as Ray tasks, so every core of a cluster trains: `python -m aecompare.train --ray`.

One task trains one training group (`registry.group_key`), or a chunk of one, with the trainer unchanged
(`trainer.train_all` into a temporary folder on its worker), and returns the finished run folders as bytes.
The driver publishes each run as `train_all` does (`artifacts.staged_run`, then `commit`) as soon as its task
finishes: it stays the only writer of the models folder, and a crash later keeps what finished. A task
whose worker dies is run again (`TASK_RETRIES`); nothing reaches the models folder before a task returns.
Each dataset is put in the object store once; workers need no data of their own.

Chunks: the runs of a group share one compiled graph, cheaper per run than training them apart, so groups
stay whole when there are at least as many as task slots (CPUs / CPUs per task, or GPUs). With fewer groups
than slots the largest are split until every slot has a task: 18 runs of one group on 16 CPUs train as
16 tasks of one or two runs. An explicit chunk splits every group into tasks of at most that many runs.

TensorFlow's thread counts can only be set before it first runs, and they are the task's CPUs so that tasks
sharing a machine share its cores. The tasks of one thread count run in workers of their own (a runtime
environment naming that count: Ray gives a worker only tasks of its own environment), which keep TensorFlow
imported from one task to the next (importing it is most of a short task's time); the first task in a
worker sets its thread counts.
"""

from __future__ import annotations

import contextlib
import math
import os
import socket
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from itertools import groupby
from pathlib import Path

from ..registry import Experiment, group_key
from ..store import artifacts

TASK_RETRIES = 3  # a task is run again this many times when its worker dies (never on a Python exception)
INSTALL = "ray is not installed: pip install -e '.[ray]'"
# The raylet gives up when its agents take over 15 s to start (fixed; ray-project/ray#65983), which a loaded
# machine can miss: a local cluster is started this many times before giving up.
LOCAL_START_TRIES = 2


class ClusterError(RuntimeError):
    """Ray is missing, the cluster cannot be reached, or a task failed for good; the message says which."""


@dataclass
class TaskReport:
    """What a progress display needs when a task's runs are published."""

    exps: list[Experiment]
    node: str
    seconds: float


def require_ray():
    try:
        import ray
    except ImportError:
        raise ClusterError(INSTALL) from None
    return ray


def connect(address: str = "local") -> dict:
    """Start a cluster on this machine ("local") or join a running one ("auto", HOST:PORT); its resources."""
    ray = require_ray()
    check_address(address)
    local = address == "local"
    tries = LOCAL_START_TRIES if local else 1
    for attempt in range(1, tries + 1):
        try:
            if local:  # never a cluster named in /tmp/ray, which may be long dead
                ray.init(address="local", include_dashboard=False)
            else:
                ray.init(address=address)
            return ray.cluster_resources()
        except Exception as e:  # Ray raises many kinds (ConnectionError, AuthenticationError, TimeoutError, ...)
            ray.shutdown()
            if attempt == tries:
                what = "start a Ray cluster on this machine" if local else f"join the Ray cluster at {address}"
                raise ClusterError(f"could not {what}: {first_line(e)}{auth_hint(address)}") from None


def auth_hint(address: str) -> str:
    """Since Ray 2.60 `ray start --head` requires a token, and a driver joining by address sends it only in
    token mode: the usual reason a running cluster refuses to be joined."""
    if address in ("local", "auto") or os.environ.get("RAY_AUTH_MODE", "").lower() == "token":
        return ""
    return ("; if the cluster uses token authentication (ray start --head does since Ray 2.60), set "
            "RAY_AUTH_MODE=token and give its token in ~/.ray/auth_token or RAY_AUTH_TOKEN")


def disconnect() -> None:
    """Leave the cluster (a local one stops with it)."""
    ray = require_ray()
    if ray.is_initialized():
        ray.shutdown()


def check_address(address: str, timeout: float = 5.0) -> None:
    """Refuse a HOST:PORT that nothing listens on at once: ray.init would retry it for minutes."""
    if address in ("local", "auto") or "://" in address:
        return
    host, sep, port = address.rpartition(":")
    if not sep or not host or not port.isdigit():
        raise ClusterError(f"--ray {address}: expected local, auto or HOST:PORT")
    try:
        socket.create_connection((host.strip("[]"), int(port)), timeout=timeout).close()
    except OSError as e:
        raise ClusterError(f"no Ray cluster at {address}: {e.strerror or e}") from None


def first_line(e: BaseException) -> str:
    text = str(e).strip()
    return text.splitlines()[0] if text else type(e).__name__


def split(runs: list, parts: int) -> list[list]:
    """`runs` in `parts` contiguous pieces whose sizes differ by at most one."""
    n = len(runs)
    return [runs[i * n // parts:(i + 1) * n // parts] for i in range(parts)]


def plan_tasks(exps: list[Experiment], slots: int, chunk: int | None = None) -> list[list[Experiment]]:
    """The runs of each task: every training group whole, or split (see the module's docstring)."""
    groups = [list(g) for _, g in groupby(sorted(exps, key=group_key), key=group_key)]
    if chunk:
        parts = [math.ceil(len(g) / chunk) for g in groups]
    else:
        parts = [1] * len(groups)
        while sum(parts) < slots:
            i = max(range(len(groups)), key=lambda k: len(groups[k]) / parts[k])
            if parts[i] == len(groups[i]):  # every run already has a task of its own
                break
            parts[i] += 1
    return [piece for g, k in zip(groups, parts) for piece in split(g, k)]


THREADS_VARIABLE = "AECOMPARE_TASK_THREADS"  # set in a worker's runtime environment: its TensorFlow thread count


def set_threads(threads: int) -> None:
    """TensorFlow's intra- and inter-op thread counts, in a worker whose tasks all ask for `threads`: the first
    task sets them, later ones find them set."""
    if os.environ.get(THREADS_VARIABLE) != str(threads):
        raise ClusterError(f"a task for {threads} threads in a worker for {os.environ.get(THREADS_VARIABLE)}")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import tensorflow as tf

    if tf.config.threading.get_intra_op_parallelism_threads() != threads:
        tf.config.threading.set_intra_op_parallelism_threads(threads)
        tf.config.threading.set_inter_op_parallelism_threads(threads)


def train_task(exps: list[Experiment], data, threads: int, attempts_dir: str | None = None) -> dict:
    """Train `exps` (one group or part of one) on this worker; the run folders' files as bytes, by run id.

    `attempts_dir`: each attempt creates an empty file there when training starts, named PID.NANOSECONDS after
    its process and the time (how the tests find a worker to kill; a reused worker makes one per attempt).
    """
    set_threads(threads)
    from .trainer import train_all

    def started(_members):
        if attempts_dir:
            Path(attempts_dir, f"{os.getpid()}.{time.time_ns()}").touch()

    start = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="aecompare-task-") as tmp:
        entries = train_all(exps, data, Path(tmp), on_start=started)
        runs = {f"{e['name']}/seed-{e['seed']}": {
            "files": {f: (Path(tmp) / e["path"] / f).read_bytes() for f in e["files"]},
            "summary": artifacts.entry_summary(e)} for e in entries}
    return {"runs": runs, "node": socket.gethostname(), "seconds": time.perf_counter() - start}


def publish(models_dir: Path, exp: Experiment, run: dict) -> dict:
    """Write one run a task returned into `models_dir` as the trainer does: staged, renamed, then listed."""
    with artifacts.staged_run(models_dir, exp) as stage:
        for name in artifacts.run_files(exp.seed):
            if name in run["files"]:  # commit names any that is missing
                (stage.dir / name).write_bytes(run["files"][name])
        return stage.commit(run["summary"])


def train_on_ray(exps: list[Experiment], data, models_dir: Path, chunk: int | None = None, task_cpus: int = 1,
                 on_plan: Callable[[list[list[Experiment]], dict], None] | None = None,
                 on_task_done: Callable[[TaskReport], None] | None = None,
                 attempts_dir: str | None = None) -> list[dict]:
    """Train `exps` as Ray tasks on the cluster this process is connected to; publish each task's runs in
    `models_dir` as it finishes; return their manifest entries. `data` as for `trainer.train_all`.

    Raises ClusterError, after every other task has finished and been published, if a task failed for good.
    """
    ray = require_ray()
    if not ray.is_initialized():
        raise ClusterError("not connected to a Ray cluster (cluster.connect)")
    datasets = data if isinstance(data, dict) else {e.dataset: data for e in exps}
    resources = ray.cluster_resources()
    gpus = int(resources.get("GPU", 0))
    largest = max((n["Resources"].get("CPU", 0) for n in ray.nodes() if n["Alive"]), default=0)
    if task_cpus > largest:
        raise ClusterError(f"a task asks for {task_cpus} CPUs, and the largest node has {largest:g}")
    tasks = plan_tasks(exps, max(1, gpus or int(resources.get("CPU", 0) // task_cpus)), chunk)
    if on_plan:
        on_plan(tasks, resources)
    models_dir = Path(models_dir)
    models_dir.mkdir(parents=True, exist_ok=True)
    artifacts.remove_stale_staging(models_dir)
    refs = {name: ray.put(datasets[name]) for name in dict.fromkeys(e.dataset for e in exps)}
    workers = {"env_vars": {THREADS_VARIABLE: str(task_cpus)}}  # workers of their own, reused by later tasks
    remote = ray.remote(num_cpus=task_cpus, num_gpus=1 if gpus else 0, max_retries=TASK_RETRIES,
                        retry_exceptions=False, runtime_env=workers)(train_task)
    pending = {remote.remote(task, refs[task[0].dataset], task_cpus, attempts_dir): task for task in tasks}
    entries, failed = [], []
    try:
        while pending:
            [done], _ = ray.wait(list(pending), num_returns=1)
            task = pending.pop(done)
            try:
                result = ray.get(done)
            except ray.exceptions.RayError as e:
                failed.append((task, e))
                continue
            entries += [publish(models_dir, exp, result["runs"][exp.run_id]) for exp in task]
            if on_task_done:
                on_task_done(TaskReport(task, result["node"], result["seconds"]))
    finally:
        for ref in pending:  # the driver stopped early (an error, Ctrl-C): its tasks stop too
            with contextlib.suppress(Exception):
                ray.cancel(ref, force=True)
    if failed:
        lost = [e.run_id for task, _ in failed for e in task]
        cause = getattr(failed[0][1], "cause", None) or failed[0][1]  # a RayTaskError wraps the task's exception
        raise ClusterError(f"{len(failed)} task(s) failed ({type(cause).__name__}: {first_line(cause)}); not "
                           f"trained: {', '.join(lost)}; the {len(entries)} other runs are in {models_dir}")
    return entries
