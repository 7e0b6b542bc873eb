"""Training throughput: the project's trainer against a plain per-model `model.fit` loop.

Both train the same registry models for the same epochs on the full MNIST train set, with the
same faithful loss functions, in one process. Prints images x epochs per second for each, their
ratio, and useful GFLOP/s next to a numpy float32 matmul measured in the same run.

    python benchmarks/train_throughput.py                 # the 8 seed-000 models, 2 epochs
    python benchmarks/train_throughput.py --epochs 3 --only norm-sigmoid-mse norm-sigmoid-bce

"Useful" FLOPs count the dense layers' matrix products only: 2 per multiply-add forward, twice
that backward (gradients w.r.t. inputs and weights): 6 x (sum of in x out) per image. The
project's trainer also validates on the test set, computes diagnostics and saves every epoch's
records; that work is included in its time but not in its FLOPs.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402

from aecompare.data import load_mnist  # noqa: E402
from aecompare.registry import REGISTRY, select  # noqa: E402


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


def plain_fit(exps, data) -> float:
    """Seed 000's way: build, compile, `model.fit(x, x, epochs, batch_size)`, one model after another."""
    from aecompare.keras_models import LOSSES, build_model, make_optimizer
    from aecompare.training import scale_factor

    x = data.train_x.reshape(-1, 784).astype(np.float32) / 255
    start = time.perf_counter()
    for exp in exps:
        model = build_model(exp)
        model.compile(optimizer=make_optimizer(exp), loss=LOSSES[exp.loss])
        xs = x * scale_factor(exp)
        model.fit(xs, xs, epochs=exp.epochs, batch_size=exp.batch_size, verbose=0)
    return time.perf_counter() - start


def project_trainer(exps, data) -> float:
    from aecompare.training import train_all

    with tempfile.TemporaryDirectory() as out:
        start = time.perf_counter()
        train_all(exps, data, Path(out))
        return time.perf_counter() - start


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=2)
    p.add_argument("--only", nargs="+", default=[e.name for e in REGISTRY if e.arch.family == "000"])
    args = p.parse_args(argv)
    exps = select(args.only, epochs=args.epochs)
    data = load_mnist()
    images = len(data.train_x) * args.epochs
    useful = sum(flops_per_image(e) for e in exps) * len(data.train_x) * args.epochs

    gflops = matmul_gflops()
    results = {"plain model.fit loop": plain_fit(exps, data), "aecompare trainer": project_trainer(exps, data)}
    print(f"\n{len(exps)} models x {args.epochs} epochs x {len(data.train_x)} images, {os.cpu_count()} cores")
    print(f"{'way':<22} {'seconds':>8} {'images x epochs / s':>20} {'useful GFLOP/s':>15}")
    for way, seconds in results.items():
        print(f"{way:<22} {seconds:8.1f} {images * len(exps) / seconds:20,.0f} {useful / seconds / 1e9:15.1f}")
    print(f"{'numpy float32 matmul':<22} {'':>8} {'':>20} {gflops:15.1f}")
    ratio = results["plain model.fit loop"] / results["aecompare trainer"]
    print(f"speed-up of the trainer over the plain loop: {ratio:.2f}x")


if __name__ == "__main__":
    main()
