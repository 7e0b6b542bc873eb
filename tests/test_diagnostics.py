"""Weight-collapse diagnostics and the registry, on arrays and entries made here."""

from __future__ import annotations

import numpy as np
import pytest

from aecompare.maths import diagnostics
from aecompare.maths.network import DenseLayer, forward
from aecompare.registry import REGISTRY, model_names, select

from conftest import random_unit_images


def test_output_spread_is_one_for_identity_and_zero_for_a_blob():
    x = random_unit_images(200)
    x[:, :50] = 0.0  # constant pixels (MNIST's border) are left out, not divided by zero
    assert diagnostics.output_spread(x, x) == pytest.approx(1.0)
    assert diagnostics.output_spread(x, np.tile(x.mean(axis=0), (200, 1))) == pytest.approx(0.0)
    assert diagnostics.output_spread(x, 0.5 * x) == pytest.approx(0.5)


def test_weight_stats_against_numpy():
    w = np.array([[3.0, -4.0], [0.001, 0.0]])
    stats = diagnostics.weight_stats(w)
    assert stats["fro_norm"] == pytest.approx(np.linalg.norm(w))
    assert stats["mean_abs"] == pytest.approx(np.abs(w).mean())
    assert stats["near_zero"] == pytest.approx(0.5)  # 0.001 and 0 are under 1% of 4
    assert diagnostics.weight_stats(np.zeros((3, 3)))["near_zero"] == 1.0


def test_dead_and_saturated_units():
    acts = np.array([[0.0, 1.0, 0.0], [0.0, 2.0, 0.5]])
    assert diagnostics.dead_units(acts) == 1
    sig = np.array([[0.001, 0.5, 0.999], [0.002, 0.7, 0.995]])
    assert diagnostics.saturated_units(sig) == 2


def test_effective_rank_counts_used_directions():
    rng = np.random.default_rng(0)
    low_rank = rng.normal(size=(50, 3)) @ rng.normal(size=(3, 40))
    assert diagnostics.rank_above(diagnostics.singular_values(low_rank)) == 3
    assert diagnostics.singular_values(low_rank)[0] == pytest.approx(np.linalg.norm(low_rank, 2))


def test_layer_diagnostics_and_verdicts():
    rng = np.random.default_rng(0)
    layers = [DenseLayer("hidden_1", rng.normal(size=(784, 16)).astype(np.float32), np.zeros(16, np.float32), "relu"),
              DenseLayer("output", rng.normal(size=(16, 784)).astype(np.float32) * 0.1, np.zeros(784, np.float32),
                         "sigmoid")]
    x = random_unit_images(100)
    d = diagnostics.layer_diagnostics(layers, forward(layers, x, keep=True), x)
    assert [r["layer"] for r in d["layers"]] == ["hidden_1", "output"]
    assert d["output_spread"] > 0
    follows = diagnostics.output_statistics(x, x)
    assert diagnostics.verdict(4, follows, d["layers"][:1])[0] == "diverged"
    blob = diagnostics.output_statistics(x, np.tile(x.mean(axis=0), (len(x), 1)))
    assert diagnostics.verdict(None, blob, d["layers"][:1])[0] == "blob"
    dead = [{"layer": "hidden_1", "units": 10, "dead_units": 8}]
    label, reason = diagnostics.verdict(None, follows, dead)
    assert label == "many dead units" and "8 of 10" in reason
    assert diagnostics.verdict(None, follows, [{"layer": "h", "units": 10, "dead_units": 1}])[0] == "healthy"


def test_output_statistics_do_not_depend_on_the_outputs_scale():
    """A softmax-like output: the input's shape at 1/100 of its brightness is not a blob."""
    x = random_unit_images(300)
    x[:, :40] = 0.0
    same, tiny = diagnostics.output_statistics(x, x), diagnostics.output_statistics(x, x / 100)
    assert same["input_correlation"] == pytest.approx(1.0) and same["scale_ratio"] == pytest.approx(1.0)
    assert tiny["relative_spread"] == pytest.approx(same["relative_spread"], rel=1e-9)
    assert tiny["input_correlation"] == pytest.approx(1.0) and tiny["scale_ratio"] == pytest.approx(0.01)
    label, reason = diagnostics.verdict(None, tiny, [])
    assert label == "right shape, wrong scale" and "0.01 times" in reason
    expected_corr = np.mean([np.corrcoef(xi, xi ** 2)[0, 1] for xi in x])  # numpy's own Pearson r
    assert diagnostics.output_statistics(x, x ** 2)["input_correlation"] == pytest.approx(expected_corr, rel=1e-9)



def test_registry_holds_the_models_named_by_convention():
    """The issue's 10 models, Q3's net with Adam (named with an optimizer suffix), the continuous
    Bernoulli on both nets, and the close comparison on Fashion-MNIST (named with a dataset prefix)."""
    assert len(model_names()) == 19  # 10 + Adam (2) + CB (2) + Fashion-MNIST (5)
    default_optimizer = {"q1": "adam", "q3": "sgd"}
    for e in REGISTRY:
        prefix = e.scale if e.arch.family == "q1" else e.arch.family
        prefix = f"fashion-{prefix}" if e.dataset == "fashion-mnist" else prefix
        suffix = "" if e.optimizer.name == default_optimizer[e.arch.family] else f"-{e.optimizer.name}"
        assert e.name == f"{prefix}-{e.activation}-{e.loss}{suffix}"
    assert {e.arch.label for e in REGISTRY} == {"784-128-64-28-64-128-784", "784-100-50-100-784"}


def test_select_filters_reseeds_and_shortens():
    chosen = select(["norm-sigmoid-mse"], seeds=[0, 1, 2], epochs=1)
    assert [(e.name, e.seed, e.epochs) for e in chosen] == [("norm-sigmoid-mse", s, 1) for s in range(3)]
    with pytest.raises(KeyError, match="nope"):
        select(["nope"])
