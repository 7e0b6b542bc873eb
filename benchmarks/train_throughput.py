"""Training throughput: the project's trainer against a plain per-model `model.fit` loop.

Both train the same registry models for the same epochs on the full MNIST train set, with the
same faithful loss functions, in one process. Prints images x epochs per second for each, their
ratio, and useful GFLOP/s next to a numpy float32 matmul measured in the same run.

    python -m benchmarks.train_throughput                 # every run of seed 000's net (12), 4 epochs
    python -m benchmarks.train_throughput --epochs 3 --only norm-sigmoid-mse norm-sigmoid-bce

Two figures per way: the whole run (graph building and compiling included, what a 2-epoch run
costs) and the steady state (epochs 2 and later: what the 100-epoch registry runs at). The plain
loop's epochs are timed by a Keras callback; the trainer's from the per-epoch `seconds` it records
(one fused graph per group of models, so one figure per group), which include its validation pass
over the 10,000 test images. Diagnostics, probe reconstructions and saving are outside both.

"Useful" FLOPs count the dense layers' matrix products only: 2 per multiply-add forward, twice
that backward (gradients w.r.t. inputs and weights): 6 x (sum of in x out) per image; the trainer's
validation FLOPs are not counted.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

import numpy as np

from aecompare.data import load_mnist, unit_images
from aecompare.registry import REGISTRY, select

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


def plain_fit(exps, data) -> tuple[float, float]:
    """Seed 000's way: build, compile, `model.fit(x, x, epochs, batch_size)`, one model after another.

    Returns (total seconds, seconds of epochs 2 and later).
    """
    import keras

    from aecompare.keras_models import LOSS_OPS, build_model, make_optimizer

    class EpochTimes(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            seconds.append((epoch, time.perf_counter() - self.start))

    x = unit_images(data.train_x)
    seconds: list[tuple[int, float]] = []
    start = time.perf_counter()
    for exp in exps:
        model = build_model(exp)
        model.compile(optimizer=make_optimizer(exp), loss=LOSS_OPS[exp.loss])
        xs = x * exp.pixel_scale
        model.fit(xs, xs, epochs=exp.epochs, batch_size=exp.batch_size, verbose=0, callbacks=[EpochTimes()])
    return time.perf_counter() - start, sum(s for epoch, s in seconds if epoch > 0)


def project_trainer(exps, data) -> tuple[float, float]:
    """The project's trainer; returns (total seconds, seconds of epochs 2 and later)."""
    from aecompare.catalog import load_catalog
    from aecompare.training import group_key, train_all

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        train_all(exps, data, Path(out))
        total = time.perf_counter() - start
        groups = {group_key(r.exp): r for r in load_catalog(Path(out)).runs}  # one run per fused group
        steady = sum(e["seconds"] for r in groups.values() for e in r.history["epochs"] if e["epoch"] > 1)
    return total, steady


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=4, help="at least 2 (the steady state starts at epoch 2)")
    p.add_argument("--only", nargs="+", default=[e.name for e in REGISTRY if e.arch.family == "000" and e.seed == 0])
    args = p.parse_args(argv)
    if args.epochs < 2:
        p.error("--epochs must be at least 2")
    exps = select(args.only, epochs=args.epochs)
    data = load_mnist()
    n = len(data.train_x)
    useful_per_epoch = sum(flops_per_image(e) for e in exps) * n

    gflops = matmul_gflops()
    results = {"plain model.fit loop": plain_fit(exps, data), "aecompare trainer": project_trainer(exps, data)}
    print(f"\n{len(exps)} models x {args.epochs} epochs x {n} images, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.2f}")
    print(f"{'way':<22} {'all s':>7} {'img x ep / s':>13} {'GFLOP/s':>8} | {'steady s':>8} "
          f"{'img x ep / s':>13} {'GFLOP/s':>8}")
    steady_epochs = args.epochs - 1
    for way, (total, steady) in results.items():
        print(f"{way:<22} {total:7.1f} {n * len(exps) * args.epochs / total:13,.0f} "
              f"{useful_per_epoch * args.epochs / total / 1e9:8.1f} | {steady:8.1f} "
              f"{n * len(exps) * steady_epochs / steady:13,.0f} {useful_per_epoch * steady_epochs / steady / 1e9:8.1f}")
    print(f"{'numpy float32 matmul':<22} {'':>7} {'':>13} {gflops:8.1f}")
    (plain_total, plain_steady), (ours_total, ours_steady) = results.values()
    print(f"speed-up of the trainer over the plain loop: {plain_total / ours_total:.2f}x overall, "
          f"{plain_steady / ours_steady:.2f}x in the steady state")


if __name__ == "__main__":
    main()
