"""Training registry entries on MNIST and recording what the dashboard shows.

Models that share dataset, batch size and epoch count (a training group) train together, whatever
their seeds: each epoch is one compiled XLA graph that steps every model once per batch, each with its
own initialisation, loss, optimizer state and shuffle order (one permutation per seed, gathered inside
the graph). Within a group, the models of one seed, pixel scale, net and optimizer are one
`keras_models.ModelStack`: their weights are stacked, so each layer is one large matmul for all of them
rather than one small matmul per model. Gradients never mix (every loss depends only on its own model's
weights), so a model trains as it would alone, up to the order of float sums (tests/test_training.py
checks it); stacking just makes the products large enough to keep the cores busy
(benchmarks/train_throughput.py measures it against numpy's matmul).

After every epoch each model's validation loss (its own loss on the 10,000 test images, computed
by the same ops as training), MSE on the [0, 1] scale, diagnostics on a fixed probe batch and
reconstructions of fixed probe digits are recorded. A model whose loss or weights stop being
finite is marked diverged at that epoch and keeps its last finite weights.
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from itertools import groupby
from pathlib import Path

import numpy as np

from ..data import Dataset
from ..digits import first_per_class
from ..maths import pixel_losses
from ..maths.diagnostics import layer_diagnostics
from ..maths.network import DenseLayer, forward
from ..registry import Experiment, group_key
from ..store import artifacts
from ..store.schema import PROBE_BATCH, PROBES_PER_CLASS, probe_epochs_kept
from .keras_models import ModelStack, build_model, stack_key, weights_of

EVAL_BATCH = 1000


def dense_layers(model, exp: Experiment) -> list[DenseLayer]:
    activations = [exp.arch.hidden_activation] * len(exp.arch.hidden) + [exp.activation]
    dense = [layer for layer in model.layers if layer.weights]
    return [DenseLayer(layer.name, *(np.asarray(w) for w in layer.get_weights()), act)
            for layer, act in zip(dense, activations)]


def library_versions() -> dict:
    import keras
    import tensorflow as tf

    return {"python": platform.python_version(), "numpy": np.__version__,
            "tensorflow": tf.__version__, "keras": keras.__version__}


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


@dataclass
class EpochReport:
    """What a progress display needs after each epoch of one model."""

    exp: Experiment
    epoch: int
    train_loss: float
    val_loss: float
    val_mse: float
    diverged: bool


def shuffle_order(seed: int, epoch: int, n: int) -> np.ndarray:
    """The order in which a run of `seed` sees the `n` training images in `epoch` (1-based)."""
    return np.random.default_rng([seed, epoch]).permutation(n)


def train_all(exps: list[Experiment], data: Dataset | dict[str, Dataset], models_dir: Path,
              on_epoch: Callable[[EpochReport], None] | None = None,
              on_start: Callable[[list[Experiment]], None] | None = None) -> list[dict]:
    """Train `exps` (grouped to share compiled graphs), write their artifacts, return manifest entries.

    `data`: the dataset every experiment trains on, or one per `Experiment.dataset` name.
    """
    datasets = data if isinstance(data, dict) else {e.dataset: data for e in exps}
    models_dir.mkdir(parents=True, exist_ok=True)
    artifacts.remove_stale_staging(models_dir)
    entries = []
    for _, members in groupby(sorted(exps, key=group_key), key=group_key):
        members = list(members)
        if on_start:
            on_start(members)
        entries += GroupTrainer(members, datasets[members[0].dataset]).run(models_dir, on_epoch)
    return entries


class GroupTrainer:
    """Trains a training group's models through the same batches, one XLA graph per epoch.

    The models of one seed, pixel scale, net and optimizer (`keras_models.stack_key`) train as one
    `ModelStack`; `models` holds each run's Keras model, with its initial weights and then its last finite ones.
    """

    def __init__(self, exps: list[Experiment], data: Dataset):
        import tensorflow as tf

        self.tf = tf
        self.exps = exps
        self.data = data
        self.x_train = tf.constant(data.train_x.reshape(-1, 784).astype(np.float32) / 255)
        self.x_test = data.test_x.reshape(-1, 784).astype(np.float32) / 255
        self.models = [build_model(e) for e in exps]
        self.seeds = sorted({e.seed for e in exps})
        members: dict[tuple, list[int]] = {}
        for i, e in enumerate(exps):
            members.setdefault(stack_key(e), []).append(i)
        self.members = [sorted(ix, key=lambda i: (exps[i].activation, exps[i].loss)) for ix in members.values()]
        self.stacks = [ModelStack([exps[i] for i in ix], [self.models[i] for i in ix]) for ix in self.members]
        self.slots = [self.seeds.index(exps[ix[0]].seed) for ix in self.members]  # a stack's row of a step's batches
        self.row = {i: r for r, i in enumerate(i for ix in self.members for i in ix)}  # the graphs' output rows
        self.probe_index = first_per_class(data.test_y, PROBES_PER_CLASS)
        self.records = [self._new_record(e) for e in exps]
        self.reconstructions = [[] for _ in exps]

    def _new_record(self, exp: Experiment) -> dict:
        return {
            "experiment": exp.to_dict(), "settings": exp.settings(), "seed": exp.seed,
            "data_source": self.data.source, "data": self.data.provenance, "versions": library_versions(),
            "trained_with": [e.run_id for e in self.exps], "started": _now(),
            "validation": "the 10,000 MNIST test images", "probe_batch": f"first {PROBE_BATCH} test images",
            "diverged_epoch": None, "diverged_value": None, "epochs": [],
        }

    # ------------------------------------------------------------ compiled graphs

    def _step(self, idx):
        """One training step of every model; `idx` (seeds, batch) holds each seed's batch indices. Returns
        (rows, 2): each model's loss and MSE on [0, 1] on its batch, before the step."""
        tf = self.tf
        batches = tf.gather(self.x_train, idx)
        out = []
        for stack, slot in zip(self.stacks, self.slots):
            with tf.GradientTape() as tape:
                loss, mse = stack.losses(batches[slot])
                objective = stack.objective(loss)
            grads = tape.gradient(objective, stack.variables)
            stack.optimizer.apply_gradients(zip(grads, stack.variables))
            out.append(tf.stack([loss, mse], axis=1))
        return tf.concat(out, 0)

    def _compile(self):
        tf = self.tf

        @tf.function(jit_compile=True)
        def epoch(batches):
            total = tf.zeros((len(self.exps), 2))
            for b in tf.range(tf.shape(batches)[1]):
                total += self._step(batches[:, b])
            return total / tf.cast(tf.shape(batches)[1], tf.float32)

        @tf.function(jit_compile=True)
        def evaluate(x):
            return tf.concat([tf.stack(stack.losses(x), axis=1) for stack in self.stacks], 0)

        return epoch, evaluate

    def _validate(self, evaluate) -> np.ndarray:
        """(rows, 2): own loss and MSE on [0, 1] over the test set (equal-sized batches)."""
        parts = [evaluate(self.tf.constant(self.x_test[i:i + EVAL_BATCH]))
                 for i in range(0, len(self.x_test), EVAL_BATCH)]
        return np.mean([p.numpy() for p in parts], axis=0, dtype=np.float64)

    # ------------------------------------------------------------ recording

    def _observe(self, i: int) -> dict:
        """Diagnostics on the probe batch and the probe digits' reconstructions, via numpy."""
        exp, s = self.exps[i], self.exps[i].pixel_scale
        layers = dense_layers(self.models[i], exp)
        probe = self.x_test[:PROBE_BATCH]
        read = pixel_losses.READOUTS.get(exp.loss, lambda y: y)
        acts = forward(layers, probe, keep=True, scale=s)
        acts[-1] = read(acts[-1] / s)
        self.reconstructions[i].append(read(forward(layers, self.x_test[self.probe_index], scale=s) / s))
        return layer_diagnostics(layers, acts, probe)

    def _trained_weights(self) -> dict[int, list]:
        """Each model's weights now, by its index in `exps`."""
        rows = [w for stack in self.stacks for w in stack.weights()]
        return {i: rows[r] for i, r in self.row.items()}

    def _deactivate(self, i: int) -> None:
        s = next(k for k, ix in enumerate(self.members) if i in ix)
        self.stacks[s].deactivate(self.members[s].index(i))

    def run(self, models_dir: Path, on_epoch=None) -> list[dict]:
        active = list(range(len(self.exps)))
        epoch_fn, evaluate = self._compile()
        initial = self._validate(evaluate)
        for i in active:
            r = self.row[i]
            self.records[i]["initial"] = {"val_loss": float(initial[r, 0]), "val_mse": float(initial[r, 1]),
                                          **self._observe(i)}
        epochs, batch = self.exps[0].epochs, self.exps[0].batch_size
        steps = len(self.data.train_x) // batch
        for epoch in range(1, epochs + 1):
            if not active:
                break
            start = time.perf_counter()
            orders = np.stack([shuffle_order(seed, epoch, len(self.data.train_x))[:steps * batch]
                               for seed in self.seeds])
            train = epoch_fn(self.tf.constant(orders.reshape(len(self.seeds), steps, batch).astype(np.int32)))
            train = train.numpy()
            val = self._validate(evaluate)
            seconds = time.perf_counter() - start
            trained = self._trained_weights()
            still_active = []
            for i in active:
                r, weights = self.row[i], trained[i]
                finite = np.all(np.isfinite(train[r])) and np.all(np.isfinite(val[r])) and all(
                    np.all(np.isfinite(w)) for w in weights)
                if finite:
                    self.models[i].set_weights(weights)
                    still_active.append(i)
                    self.records[i]["epochs"].append({
                        "epoch": epoch, "train_loss": float(train[r, 0]), "val_loss": float(val[r, 0]),
                        "train_mse": float(train[r, 1]), "val_mse": float(val[r, 1]),
                        "seconds": seconds, **self._observe(i)})
                else:  # its Keras model keeps the last finite weights
                    self._deactivate(i)
                    self.records[i]["diverged_epoch"] = epoch
                    self.records[i]["diverged_value"] = repr(float(val[r, 0]))
                if on_epoch:
                    on_epoch(EpochReport(self.exps[i], epoch, float(train[r, 0]), float(val[r, 0]),
                                         float(val[r, 1]), not finite))
            active = still_active
        return [self._save(i, models_dir) for i in range(len(self.exps))]

    def _save(self, i: int, models_dir: Path) -> dict:
        exp, record = self.exps[i], self.records[i]
        record["finished"] = _now()
        record["seconds"] = sum(r["seconds"] for r in record["epochs"]) / len(self.exps)
        record["probe_index"] = self.probe_index.tolist()
        last = record["epochs"][-1] if record["epochs"] else record["initial"]
        summary = {
            "final_loss": last["val_loss"], "final_val_mse": last["val_mse"],
            "output_spread": last["output_spread"], "epochs_trained": len(record["epochs"]),
            "diverged_epoch": record["diverged_epoch"], "seconds": round(record["seconds"], 2),
        }
        with artifacts.staged_run(models_dir, exp) as stage:
            (stage.dir / "weights.npz").write_bytes(artifacts.npz_bytes(**weights_of(self.models[i])))
            (stage.dir / "history.json").write_text(json.dumps(record, separators=(",", ":"), allow_nan=False))
            if "probes.npz" in artifacts.run_files(exp.seed):
                kept = probe_epochs_kept(len(record["epochs"]))
                recon = artifacts.encode_images(np.stack([self.reconstructions[i][e] for e in kept]))
                (stage.dir / "probes.npz").write_bytes(artifacts.npz_bytes(
                    index=self.probe_index, labels=self.data.test_y[self.probe_index], epochs=np.array(kept),
                    **recon))
            return stage.commit(summary)
