"""The evaluation table: one code path for the CLI and the dashboard, honest baselines, seeds, probe."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest

from aecompare import evaluate
from aecompare.evaluation import analysis, columns
from aecompare.maths import metrics
from aecompare.store.catalog import load_catalog

from conftest import REPO


@pytest.fixture(scope="module")
def small_table(tiny_models, small_mnist):
    return analysis.analyse(load_catalog(tiny_models), small_mnist, tsne_n=0).table


def test_rows_and_columns(small_table, tiny_models):
    table = small_table
    assert list(table.columns) == list(columns.COLUMNS)
    models = table[table.kind == "model"]
    assert sorted(models.name) == sorted(r.name for r in load_catalog(tiny_models).runs)
    assert list(table[table.kind == "baseline"].name) == ["pca-28", "pca-30", "mean-image"]
    published = table[table.kind == "published"].set_index("name")["sse_per_image"]
    assert published.to_dict() == {"H&S2006 deep autoencoder": 3.00, "H&S2006 logistic PCA": 8.01,
                                   "H&S2006 PCA": 13.87}
    assert table[table.kind == "published"][["mse", "ssim", "probe_accuracy"]].isna().all().all()
    for col in metrics.METRICS:
        assert table[table.kind != "published"][col].notna().all(), col
    assert np.allclose(table[table.kind != "published"].sse_per_image, 784 * table[table.kind != "published"].mse)
    assert table.loc[table.name == "mean-image", "probe_accuracy"].isna().all()
    assert models.probe_accuracy.between(0, 1).all()


def test_model_rows_equal_the_metrics_of_their_reconstructions(small_table, tiny_models, small_mnist):
    catalog = load_catalog(tiny_models)
    run = catalog.runs[0]
    y = small_mnist.test_x.reshape(len(small_mnist.test_x), -1).astype(np.float32) / 255
    expected = metrics.overall(y, run.reconstruct(y))
    row = small_table[(small_table.name == run.name) & (small_table.seed == run.seed)].iloc[0]
    for k, v in expected.items():
        assert row[k] == pytest.approx(v, rel=1e-9), k
    assert row["own_loss_last"] == pytest.approx(run.history["epochs"][-1]["val_loss"])
    assert row["loss"] == run.exp.loss and row["scale"] == run.exp.scale


def test_mean_image_mse_is_the_test_variance_around_the_train_mean(small_table, small_mnist):
    train = small_mnist.train_x.reshape(len(small_mnist.train_x), -1) / 255.0
    test = small_mnist.test_x.reshape(len(small_mnist.test_x), -1) / 255.0
    train_mean = train.mean(axis=0)
    expected = np.mean(test.var(axis=0) + (test.mean(axis=0) - train_mean) ** 2)  # variance + bias², per pixel
    row = small_table[small_table.name == "mean-image"].iloc[0]
    assert row["mse"] == pytest.approx(expected, rel=1e-6)


def test_pca_with_every_component_reconstructs_almost_perfectly(mnist):
    x_train = mnist.train_x.reshape(-1, 784).astype(np.float32) / 255
    y = mnist.test_x[:500].reshape(-1, 784).astype(np.float32) / 255
    pca = analysis.fit_pca(x_train, 784)
    assert metrics.overall(y, analysis.pca_reconstruct(pca, y, 784))["mse"] < 1e-10
    # nested components: the first 28 of a 784-component fit reconstruct like a 28-component fit
    pca28 = analysis.fit_pca(x_train, 28)
    np.testing.assert_allclose(analysis.pca_reconstruct(pca, y, 28), analysis.pca_reconstruct(pca28, y, 28),
                               atol=1e-4)


def test_pca30_lands_on_the_published_figure(mnist):
    """Hinton & Salakhutdinov 2006 report 13.87 squared error per test image for 30-d PCA."""
    x_train = mnist.train_x.reshape(-1, 784).astype(np.float32) / 255
    y = mnist.test_x.reshape(-1, 784).astype(np.float32) / 255
    pca = analysis.fit_pca(x_train, 30)
    sse = metrics.per_image(y, analysis.pca_reconstruct(pca, y, 30))["sse_per_image"].mean()
    assert sse == pytest.approx(13.87, abs=0.05)


def test_own_loss_takes_last_recorded_and_best_finite():
    history = {"epochs": [{"epoch": 1, "val_loss": 0.5}, {"epoch": 2, "val_loss": 0.2},
                          {"epoch": 3, "val_loss": 0.3}, {"epoch": 4, "val_loss": float("nan")}]}
    assert analysis.own_loss(history)["own_loss_best"] == 0.2
    assert analysis.own_loss(history)["best_epoch"] == 2
    assert math.isnan(analysis.own_loss(history)["own_loss_last"])
    assert math.isnan(analysis.own_loss({"epochs": []})["own_loss_best"])


def test_seed_summary_gives_mean_and_spread(small_table):
    models = small_table[small_table.kind == "model"]
    first = models.iloc[0]
    second = first.copy()
    second["seed"], second["mse"] = 1, first["mse"] + 0.01
    table = pd.concat([small_table, second.to_frame().T], ignore_index=True)
    summary = analysis.seed_summary(table).set_index("name")
    assert summary.loc[first["name"], "n_seeds"] == 2
    assert summary.loc[first["name"], "mse"] == pytest.approx(first["mse"] + 0.005)
    assert summary.loc[first["name"], "mse_std"] == pytest.approx(0.01 / math.sqrt(2))
    single = models.iloc[1]["name"]
    assert summary.loc[single, "n_seeds"] == 1 and math.isnan(summary.loc[single, "mse_std"])
    assert set(summary.index) == set(models.name)
    text = evaluate.summary_text(analysis.seed_summary(table))
    assert f"{first['mse'] + 0.005:.4g} ± {0.01 / math.sqrt(2):.2g}" in text


def test_linear_probe_separates_separable_codes_and_refuses_non_finite():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 10, 600)
    codes = np.eye(10)[labels] * 5 + rng.normal(0, 0.1, (600, 10))
    assert analysis.linear_probe(codes[:400], labels[:400], codes[400:], labels[400:]) > 0.95
    noise = rng.normal(size=(600, 10))
    assert analysis.linear_probe(noise[:400], labels[:400], noise[400:], labels[400:]) < 0.3
    bad = codes.copy()
    bad[0, 0] = np.inf
    assert math.isnan(analysis.linear_probe(bad[:400], labels[:400], bad[400:], labels[400:]))


def _same(a, b) -> bool:
    if a is None or b is None or (isinstance(a, float) and math.isnan(a)) or (isinstance(b, float) and math.isnan(b)):
        return (a is None or (isinstance(a, float) and math.isnan(a))) and (
            b is None or (isinstance(b, float) and math.isnan(b)))
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return a == pytest.approx(b, rel=1e-12)
    return a == b


@pytest.mark.slow
def test_cli_json_equals_evaluation_table(tiny_models, mnist):
    """The CLI (a subprocess, the real MNIST) prints exactly the table the dashboard gets."""
    out = subprocess.run([sys.executable, "-m", "aecompare.evaluate", "--models", str(tiny_models),
                          "--format", "json"], capture_output=True, text=True, cwd=REPO, timeout=300)
    assert out.returncode == 0, out.stderr
    rows = json.loads(out.stdout)
    table = analysis.analyse(load_catalog(tiny_models), mnist, tsne_n=0).table
    assert len(rows) == len(table)
    required = {"name", "kind", "mse", "mae", "bce", "excess_bce", "psnr", "ssim", "sse_per_image",
                "probe_accuracy", *columns.SETTINGS}
    for row, expected in zip(rows, table.to_dict(orient="records"), strict=True):
        assert required <= set(row) and set(row) == set(expected)
        for k in row:
            assert _same(row[k], expected[k]), (row["name"], k, row[k], expected[k])
    assert any(r["kind"] == "published" and r["mse"] is None for r in rows)  # NaN became null


def test_cli_reports_problems_and_still_prints_the_rest(tiny_models, small_mnist, tmp_path, monkeypatch, capsys):
    broken = tmp_path / "models"
    shutil.copytree(tiny_models, broken)
    catalog = load_catalog(broken)
    victim = catalog.runs[0]
    history = broken / victim.entry["path"] / "history.json"
    history.write_text(history.read_text() + " ")
    monkeypatch.setattr(evaluate, "load_dataset", lambda name, path=None, download=False: small_mnist)
    code = evaluate.main(["--models", str(broken), "--format", "csv"])
    captured = capsys.readouterr()
    assert code == 1
    assert str(history) in captured.err
    printed = pd.read_csv(__import__("io").StringIO(captured.out))
    names = set(printed[printed.kind == "model"].name)
    assert victim.name not in names and names == {r.name for r in catalog.runs[1:]}


def test_projections_and_latent_panels(tiny_models, small_mnist):
    from aecompare.views.latent import panels

    catalog = load_catalog(tiny_models)
    pca_only = analysis.analyse(catalog, small_mnist, tsne_n=0)
    assert all(set(pca_only.latent(r.name, r.seed).method) == {"PCA"} for r in catalog.first_seeds())
    first = catalog.first_seeds()[0]
    df = analysis.analyse(catalog, small_mnist, tsne_n=60).latent(first.name, first.seed)
    assert list(df.columns) == ["method", "index", "label", "x", "y"]
    pca, tsne = df[df.method == "PCA"], df[df.method == "t-SNE"]
    assert len(pca) == len(small_mnist.test_y) and len(tsne) == 60
    assert (tsne["label"].to_numpy() == small_mnist.test_y[tsne["index"]]).all()
    assert np.isfinite(df[["x", "y"]].to_numpy()).all()
    # the PCA panel draws the same test images as the t-SNE panel, so the two can be compared
    drawn = panels(df)
    assert [title for title, _ in drawn] == ["PCA (60 test images)", "t-SNE (60 test images)"]
    assert all(image.shape == (260, 260, 3) for _, image in drawn)
    again = analysis.analyse(catalog, small_mnist, tsne_n=60).latent(first.name, first.seed)
    pd.testing.assert_frame_equal(again, df)  # fixed random_state: reproducible


def test_projection_of_non_finite_codes_is_empty():
    codes = np.full((20, 3), np.nan)
    assert analysis.project(codes, np.arange(10)) == {}


def test_cli_per_model_prints_the_seed_summary(tiny_models, capsys):
    from aecompare.evaluation import results

    assert evaluate.main(["--models", str(tiny_models), "--per-model", "--format", "json"]) == 0
    rows = json.loads(capsys.readouterr().out)
    table = results.read(tiny_models).results.table  # fresh: the CLI prints the stored figures
    models = table[table.kind == "model"].set_index("name")
    assert [r["name"] for r in rows] == list(models.index.unique())
    for r in rows:  # the tiny models have one seed each: the mean is that seed's value, no spread
        assert r["n_seeds"] == 1 and r["mse_std"] is None
        assert r["mse"] == pytest.approx(models.loc[r["name"], "mse"], rel=1e-12)
    assert evaluate.main(["--models", str(tiny_models), "--per-model"]) == 0
    text = capsys.readouterr().out
    assert text.splitlines()[0].split()[:3] == ["name", "seeds", "mse"]
    assert all(name in text for name in models.index)


def test_the_quick_stored_table_prints_what_pandas_prints_and_nothing_when_stale(tiny_models, tmp_path):
    """`python -m aecompare.evaluate` prints the stored table without pandas (stored_table_text): the same text and
    CSV as the table read through pandas; a changed run makes it step aside (the full path says why)."""
    from aecompare.evaluation import results
    from aecompare.evaluation.columns import TABLE_COLUMNS
    from aecompare.formats import render

    table = results.read(tiny_models).results.table
    assert evaluate.stored_table_text(tiny_models, "table") == render(table, "table", TABLE_COLUMNS)
    assert evaluate.stored_table_text(tiny_models, "csv") == render(table, "csv")
    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    doc = json.loads((models / "manifest.json").read_text())
    doc["models"][0]["files"]["history.json"] = "0" * 64
    (models / "manifest.json").write_text(json.dumps(doc))
    assert evaluate.stored_table_text(models, "table") is None
    code = ("import sys, aecompare.evaluate as e; e.stored_table_text(sys.argv[1], 'table'); "
            "print('pandas' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code, str(tiny_models)], capture_output=True, text=True, cwd=REPO,
                         timeout=120)
    assert out.stdout.strip() == "False", out.stderr
