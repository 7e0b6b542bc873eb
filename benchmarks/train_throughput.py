"""Training throughput: the whole registry through the project's trainer, as a fraction of numpy's matmul.

Trains every registry model with seeds 0, 1, 2 (what `python -m aecompare.train` trains) for a few
epochs on the full training sets, grouped as the trainer groups them, twice: in one process (TensorFlow
on every core) and as Ray tasks on a local cluster (`--ray local`: one single-threaded task per core).
Prints in one run: each way's useful GFLOP/s in the steady state, numpy's float32 matmul GFLOP/s
measured just before and after that way, their ratio, and the load average at both times. `--fit` also times a
plain per-model `model.fit` loop over the same models.

    python -m benchmarks.train_throughput                  # the whole registry, 3 epochs (~8 min on 2 cores)
    python -m benchmarks.train_throughput --only norm-sigmoid-mse norm-sigmoid-bce --seeds 1 --fit

The steady state is epochs 2 and later: what the 100-epoch registry runs at. The trainer's epochs are
timed by the `seconds` it records per epoch (one fused graph per group of models, so one figure per
group), which include its validation pass over the test images; diagnostics, probe reconstructions
and saving are outside. "Useful" FLOPs count the dense layers' matrix products only: 2 per
multiply-add forward, twice that backward (gradients w.r.t. inputs and weights): 6 x (sum of in x out)
per image; the validation pass is not counted.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from aecompare.data import load_dataset, unit_images
from aecompare.registry import select

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")  # before TensorFlow, which is imported inside the functions


def matmul_gflops(n: int = 4096, repeats: int = 3) -> float:
    a = np.random.default_rng(0).random((n, n), dtype=np.float32)
    a @ a  # warm up
    start = time.perf_counter()
    for _ in range(repeats):
        a @ a
    return 2 * n**3 * repeats / (time.perf_counter() - start) / 1e9


def flops_per_image(exp) -> int:
    widths = exp.arch.widths
    return 6 * sum(a * b for a, b in zip(widths, widths[1:]))


def plain_fit(exps, datasets) -> tuple[float, float]:
    """Q1's way: build, compile, `model.fit(x, x, epochs, batch_size)`, one model after another.

    Returns (total seconds, seconds of epochs 2 and later).
    """
    import keras

    from aecompare.training.keras_models import LOSS_OPS, build_model, make_optimizer

    class EpochTimes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append((epoch, time.perf_counter() - self.start))

    seconds: list[tuple[int, float]] = []
    start = time.perf_counter()
    for exp in exps:
        model = build_model(exp)
        model.compile(optimizer=make_optimizer(exp), loss=LOSS_OPS[exp.loss])
        xs = unit_images(datasets[exp.dataset].train_x) * exp.pixel_scale
        model.fit(xs, xs, epochs=exp.epochs, batch_size=exp.batch_size, verbose=0, callbacks=[EpochTimes()])
    return time.perf_counter() - start, sum(s for epoch, s in seconds if epoch > 0)


def project_trainer(exps, datasets) -> tuple[float, float]:
    """The project's trainer; returns (total seconds, seconds of epochs 2 and later)."""
    from aecompare.store.catalog import load_catalog
    from aecompare.training.trainer import group_key, train_all

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        train_all(exps, datasets, Path(out))
        total = time.perf_counter() - start
        groups = {group_key(r.exp): r for r in load_catalog(Path(out)).runs}  # one run per fused group
        steady = sum(e["seconds"] for r in groups.values() for e in r.history["epochs"] if e["epoch"] > 1)
    return total, steady


def ray_trainer(exps, datasets, task_cpus: int = 1) -> tuple[float, float]:
    """The same runs as Ray tasks on a local cluster (`aecompare.training.cluster`: one task per CPU, each TensorFlow on
    `task_cpus` threads); returns (total seconds, steady seconds) where the steady seconds are those of one
    epoch of all tasks together times the epochs after the first: the tasks run side by side, so their rates add."""
    from aecompare.training import cluster

    cluster.connect("local")
    try:
        with tempfile.TemporaryDirectory() as out:
            start = time.perf_counter()
            cluster.train_on_ray(exps, datasets, Path(out), task_cpus=task_cpus)
            total = time.perf_counter() - start
            runs = load_catalog_runs(Path(out))
    finally:
        cluster.disconnect()
    tasks = {}
    for run in runs:  # a task's runs share its epochs' seconds (trained_with: the runs of that task)
        tasks.setdefault(tuple(run.history["trained_with"]), run)
    rate = 0.0  # useful FLOP per second, summed over the tasks
    for members, run in tasks.items():
        steady = [e["seconds"] for e in run.history["epochs"] if e["epoch"] > 1]
        flops = sum(flops_per_image(r.exp) * len(datasets[r.exp.dataset].train_x) for r in runs
                    if r.exp.run_id in members)
        rate += flops / (sum(steady) / len(steady))
    useful = sum(flops_per_image(e) * len(datasets[e.dataset].train_x) for e in exps)
    return total, useful * (exps[0].epochs - 1) / rate


def load_catalog_runs(models_dir: Path):
    from aecompare.store.catalog import load_catalog

    return load_catalog(models_dir).runs


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=3, help="at least 2 (the steady state starts at epoch 2)")
    p.add_argument("--only", nargs="+", metavar="NAME", help="models to train (default: the whole registry)")
    p.add_argument("--seeds", type=int, default=3, help="seeds 0..K-1 of every model (default 3, as committed)")
    p.add_argument("--fit", action="store_true", help="also time a plain per-model model.fit loop (slow)")
    p.add_argument("--no-ray", action="store_true", help="skip the local Ray cluster (one task per CPU)")
    args = p.parse_args(argv)
    if args.epochs < 2:
        p.error("--epochs must be at least 2")
    exps = select(args.only, seeds=list(range(args.seeds)), epochs=args.epochs)
    datasets = {name: load_dataset(name) for name in dict.fromkeys(e.dataset for e in exps)}
    images = {e.run_id: len(datasets[e.dataset].train_x) for e in exps}
    useful_per_epoch = sum(flops_per_image(e) * images[e.run_id] for e in exps)
    ways = {"in one process": lambda: project_trainer(exps, datasets)}
    if not args.no_ray:
        ways[f"Ray, {os.cpu_count()} x 1 thread"] = lambda: ray_trainer(exps, datasets)
    if args.fit:
        ways["plain model.fit loop"] = lambda: plain_fit(exps, datasets)
    results = {way: measured(train) for way, train in ways.items()}
    print(f"\n{len(exps)} runs ({len({e.name for e in exps})} models x {args.seeds} seeds) x {args.epochs} epochs, "
          f"{useful_per_epoch / 1e12:.2f} TFLOP of useful work per epoch, {os.cpu_count()} cores")
    print(f"{'way':<22} {'all s':>7} {'GFLOP/s':>8} | {'steady s':>8} {'GFLOP/s':>8} {'of matmul':>9} | numpy matmul "
          f"GFLOP/s (4096²) and load average, before/after")
    steady_epochs = args.epochs - 1
    for way, r in results.items():
        rate = useful_per_epoch * steady_epochs / r["steady"] / 1e9
        matmul = (r["matmul"][0] + r["matmul"][1]) / 2
        print(f"{way:<22} {r['total']:7.1f} {useful_per_epoch * args.epochs / r['total'] / 1e9:8.1f} | "
              f"{r['steady']:8.1f} {rate:8.1f} {rate / matmul:9.0%} | {r['matmul'][0]:.0f}/{r['matmul'][1]:.0f}, "
              f"load {r['load'][0]:.2f}/{r['load'][1]:.2f}")
    if args.fit:
        ours, plain = results["in one process"], results["plain model.fit loop"]
        print(f"speed-up of the trainer over the plain loop: {plain['total'] / ours['total']:.2f}x overall, "
              f"{plain['steady'] / ours['steady']:.2f}x in the steady state")


def measured(train) -> dict:
    """One way's (total, steady) seconds, with numpy's matmul rate and the load average just before and after it:
    its fraction of matmul is taken against its own reference (other jobs on the machine come and go)."""
    load, gflops = [os.getloadavg()[0]], [matmul_gflops()]
    total, steady = train()
    gflops.append(matmul_gflops())
    load.append(os.getloadavg()[0])
    return {"total": total, "steady": steady, "matmul": gflops, "load": load}

if __name__ == "__main__":
    main()
