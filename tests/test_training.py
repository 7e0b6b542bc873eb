"""Training on a slice of the real MNIST: the records, the manifest, skipping, forcing, diverging."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from aecompare.maths.pixel_losses import LOSSES
from aecompare.registry import Q1_NET, REGISTRY, Experiment, Optimizer
from aecompare.store import artifacts
from aecompare.store.catalog import is_up_to_date, load_catalog

from conftest import REPO, tiny_experiments

pytestmark = pytest.mark.slow


def test_tiny_models_have_complete_records(tiny_models, small_mnist):
    catalog = load_catalog(tiny_models)
    assert catalog.problems == []
    assert sorted(r.name for r in catalog.runs) == sorted(e.name for e in tiny_experiments())
    x = small_mnist.test_x.reshape(-1, 784).astype(np.float32) / 255
    for run in catalog.runs:
        h = run.history
        assert [row["epoch"] for row in h["epochs"]] == [1, 2]
        assert h["diverged_epoch"] is None and h["data_source"] == small_mnist.source
        assert {"python", "tensorflow", "keras", "numpy"} <= set(h["versions"])
        row = h["epochs"][-1]
        assert len(row["layers"]) == len(run.exp.arch.hidden) + 1
        assert 0 <= row["layers"][0]["near_zero"] <= 1 and row["layers"][0]["fro_norm"] > 0
        # the recorded validation loss is the model's own loss on its own outputs
        assert LOSSES[run.exp.loss](x * run.scale, run.own_outputs(x)) == pytest.approx(row["val_loss"], rel=1e-3)
        probes = run.probes
        assert probes["pixels"].shape == (3, 20, 784) and probes["pixels"].dtype == np.uint8
        assert list(probes["labels"]) == [d for d in range(10) for _ in range(2)]
        decoded = artifacts.decode_images(probes["pixels"][-1], probes["lo"][-1], probes["hi"][-1])
        exact = run.reconstruct(x[probes["index"]])
        span = (probes["hi"][-1] - probes["lo"][-1])[:, None]
        assert np.all(np.abs(decoded - exact) <= span / 510 + 1e-6)


def test_manifest_lists_files_with_their_hashes(tiny_models):
    entries = artifacts.read_manifest(tiny_models)
    for entry in entries:
        assert {"name", "arch", "activation", "loss", "scale", "path", "files"} <= set(entry)
        for name, digest in entry["files"].items():
            assert artifacts.sha256_file(tiny_models / entry["path"] / name) == digest


def test_up_to_date_runs_are_skipped_and_force_replaces_them(tmp_path, small_mnist):
    from aecompare.training.trainer import train_all

    exp = tiny_experiments()[0]
    train_all([exp], small_mnist, tmp_path)
    first = artifacts.read_manifest(tmp_path)[0]
    assert is_up_to_date(tmp_path, exp)
    assert not is_up_to_date(tmp_path, dataclasses.replace(exp, epochs=2))
    (tmp_path / first["path"] / "history.json").write_text("{}")
    assert not is_up_to_date(tmp_path, exp)  # a changed file is not up to date
    train_all([exp], small_mnist, tmp_path)  # what --force does: train again
    second = artifacts.read_manifest(tmp_path)
    assert len(second) == 1 and load_catalog(tmp_path).problems == []
    if second[0]["path"] != first["path"]:
        assert not (tmp_path / first["path"]).exists()  # the superseded run directory is gone


def test_a_diverging_run_keeps_its_last_finite_weights(tmp_path, small_mnist):
    """Linear output, raw 0-255 targets, SGD with a huge step: the loss overflows within two epochs."""
    from aecompare.training.trainer import train_all

    exploding = Experiment("raw-linear-mse", Q1_NET, "linear", "mse", "raw", Optimizer("sgd", 10.0), 3, 100)
    entry = train_all([exploding], small_mnist, tmp_path)[0]
    run = load_catalog(tmp_path).runs[0]
    assert entry["diverged_epoch"] == run.history["diverged_epoch"] is not None
    assert len(run.history["epochs"]) == entry["diverged_epoch"] - 1
    assert all(np.all(np.isfinite(layer.kernel)) for layer in run.layers)


def test_saved_weights_are_the_trained_models_and_rebuild_in_keras(tmp_path, small_mnist):
    """weights.npz holds exactly the in-memory Keras model's weights, nothing else; the Keras model rebuilt from
    them (keras_models.rebuild_model) predicts what the trained one does, and what the numpy forward pass does."""
    from aecompare.training.keras_models import rebuild_model
    from aecompare.training.trainer import GroupTrainer

    exps = [e for e in tiny_experiments() if e.name in ("raw-linear-mae", "q3-sigmoid-mse")]
    trainer = GroupTrainer(exps, small_mnist)
    trainer.run(tmp_path)
    catalog = load_catalog(tmp_path)
    assert catalog.problems == []
    x = small_mnist.test_x.reshape(-1, 784).astype(np.float32) / 255
    for exp, model in zip(exps, trainer.models, strict=True):
        run = catalog.by_name(exp.name)[0]
        assert set(run.entry["files"]) == {"weights.npz", "history.json", "probes.npz"}
        with np.load(tmp_path / run.entry["path"] / "weights.npz", allow_pickle=False) as f:
            saved = {k: f[k] for k in f.files}
        in_memory = model.get_weights()
        assert sorted(saved) == sorted(f"{kind}_{i}" for i in range(len(in_memory) // 2) for kind in ("kernel", "bias"))
        for i in range(len(in_memory) // 2):
            for kind, array in (("kernel", in_memory[2 * i]), ("bias", in_memory[2 * i + 1])):
                assert saved[f"{kind}_{i}"].dtype == np.float32
                np.testing.assert_array_equal(saved[f"{kind}_{i}"], array)
        inputs = x * np.float32(run.scale)
        rebuilt = rebuild_model(exp, saved).predict(inputs, verbose=0)
        np.testing.assert_array_equal(rebuilt, model.predict(inputs, verbose=0))
        np.testing.assert_array_equal(rebuild_model(exp, run.layers).predict(inputs, verbose=0), rebuilt)
        np.testing.assert_allclose(run.own_outputs(x), rebuilt, rtol=1e-5, atol=1e-5 * max(1.0, run.scale))


def run_cli(*args, **kwargs):
    return subprocess.run([sys.executable, "-m", "aecompare.train", *args], cwd=REPO, capture_output=True,
                          text=True, timeout=600, **kwargs)


def test_cli_lists_the_registry():
    result = run_cli("--list")
    assert result.returncode == 0
    for exp in REGISTRY:
        assert exp.name in result.stdout


def test_cli_rejects_unknown_models():
    result = run_cli("--only", "no-such-model", "--list")
    assert result.returncode == 2 and "no-such-model" in result.stderr


def test_cli_trains_one_model_offline_and_skips_it_next_time(tmp_path):
    result = run_cli("--only", "norm-sigmoid-mse", "--epochs", "1", "--out", str(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "MNIST from" in result.stdout and "norm-sigmoid-mse" in result.stdout
    manifest = json.loads((tmp_path / "manifest.json").read_text())
    registered = sorted(e.seed for e in REGISTRY if e.name == "norm-sigmoid-mse")
    assert [(e["name"], e["seed"]) for e in manifest["models"]] == [("norm-sigmoid-mse", s) for s in registered]
    from aecompare.evaluation import results  # training ends by storing the test-set results, fresh for these runs

    stored = results.read(tmp_path)
    assert stored is not None
    assert sorted(stored.fingerprint["runs"]) == [f"norm-sigmoid-mse/seed-{s}" for s in registered]
    again = run_cli("--only", "norm-sigmoid-mse", "--epochs", "1", "--out", str(tmp_path))
    assert again.returncode == 0 and "up to date" in again.stdout


def assert_trained_as_alone(together, tmp_path: Path) -> None:
    """Every run of the GroupTrainer `together` (already run) has the weights and validation losses it gets
    trained alone: the stacks change nothing but the order of float sums."""
    from aecompare.training.trainer import GroupTrainer

    for exp, model, record in zip(together.exps, together.models, together.records, strict=True):
        alone = GroupTrainer([exp], together.data)
        alone.run(tmp_path / f"alone-{exp.name}-{exp.seed}")
        for a, b in zip(model.get_weights(), alone.models[0].get_weights(), strict=True):
            np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
        mine, its = record["epochs"], alone.records[0]["epochs"]
        assert record["diverged_epoch"] == alone.records[0]["diverged_epoch"] and len(mine) == len(its)
        for row, other in zip(mine, its):
            assert row["val_loss"] == pytest.approx(other["val_loss"], rel=1e-4)


def test_a_run_trained_in_a_group_of_other_seeds_and_models_has_the_weights_it_has_alone(tmp_path, small_mnist):
    """Runs of different seeds share one graph (registry.group_key ignores the seed), each with its own
    initialisation, shuffle order and optimizer state; runs of one seed, scale, net and optimizer share one
    ModelStack (one matmul per layer for all of them), each with its own activation and loss."""
    from aecompare.training.trainer import GroupTrainer, group_key

    tiny = {e.name: e for e in tiny_experiments(epochs=2)}
    cb = next(e for e in REGISTRY if e.name == "norm-sigmoid-cb")
    group = ([dataclasses.replace(tiny["q3-sigmoid-mse"], seed=s) for s in (0, 1, 2)]
             + [dataclasses.replace(e, seed=1, epochs=2) for e in (tiny["norm-sigmoid-bce"], tiny["norm-softmax-bce"],
                                                                   cb, tiny["raw-linear-mae"])])
    assert len({group_key(e) for e in group}) == 1
    together = GroupTrainer(group, small_mnist)
    assert sorted(len(stack.exps) for stack in together.stacks) == [1, 1, 1, 1, 3]
    together.run(tmp_path / "together")
    assert_trained_as_alone(together, tmp_path)
    first, second = (m.get_weights()[0] for m in together.models[:2])
    assert not np.allclose(first, second, atol=1e-3)  # the seeds did differ


def test_a_diverging_run_changes_nothing_for_the_others_in_its_stack(tmp_path, small_mnist):
    """Raw targets, SGD with a huge step: the linear-output run overflows in its first epoch, the sigmoid and
    softmax ones in the same stack (same seed, scale, net and optimizer) do not, and train as they do alone."""
    from aecompare.training.trainer import GroupTrainer

    huge = Optimizer("sgd", 10.0)
    group = [Experiment(f"raw-{act}-{loss}", Q1_NET, act, loss, "raw", huge, 2, 100)
             for act, loss in (("linear", "mse"), ("sigmoid", "mse"), ("softmax", "bce"))]
    together = GroupTrainer(group, small_mnist)
    assert len(together.stacks) == 1
    together.run(tmp_path / "together")
    assert [r["diverged_epoch"] for r in together.records] == [1, None, None]
    assert_trained_as_alone(together, tmp_path)


def test_probes_keep_the_early_epochs_then_every_fifth_and_old_files_of_every_epoch_still_load(tmp_path, tiny_models):
    """A run keeps the probe images of epochs 0-10, every 5th and the last (schema.probe_epochs_kept); a
    probes.npz written before, with every epoch and no `epochs` array, loads as before."""
    import hashlib
    import shutil

    from aecompare.evaluation.records import probe_epochs, probe_frame, probe_outputs
    from aecompare.store import schema

    assert schema.probe_epochs_kept(100) == [*range(11), *range(15, 101, 5)]
    assert schema.probe_epochs_kept(37) == [*range(11), 15, 20, 25, 30, 35, 37]
    assert schema.probe_epochs_kept(3) == [0, 1, 2, 3]
    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    run = next(r for r in load_catalog(models).runs if r.probes is not None)
    assert probe_epochs(run.probes) == [0, 1, 2]
    path = models / run.entry["path"] / "probes.npz"
    arrays = {k: v for k, v in run.probes.items() if k != "epochs"}
    path.write_bytes(artifacts.npz_bytes(**arrays))
    doc = artifacts.read_manifest_doc(models)
    entry = artifacts.find_entry(doc["models"], run.name, run.seed)
    entry["files"]["probes.npz"] = hashlib.sha256(path.read_bytes()).hexdigest()
    artifacts.write_manifest(models, doc["models"], doc)
    catalog = load_catalog(models)
    assert catalog.problems == []
    old = next(r for r in catalog.runs if (r.name, r.seed) == (run.name, run.seed))
    assert probe_epochs(old.probes) == [0, 1, 2]
    np.testing.assert_array_equal(probe_outputs(old.probes, 1), probe_outputs(run.probes, 1))
    sparse = {"epochs": np.array([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 15, 20])}
    assert [probe_frame(sparse, e) for e in (0, 10, 11, 14, 15, 19, 20, 99, -1)] == [0, 10, 10, 10, 15, 15, 20, 20, 20]
