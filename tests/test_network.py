"""The numpy forward pass: chunked, scaled and layer-selecting calls give what one plain pass gives."""

from __future__ import annotations

import numpy as np

from aecompare.maths.network import ACTIVATIONS, DenseLayer, forward


def random_layers(rng, widths=(784, 32, 8, 32, 784), hidden="relu", out="sigmoid"):
    acts = [hidden] * (len(widths) - 2) + [out]
    return [DenseLayer(f"d{i}", rng.normal(0, 0.1, (a, b)).astype(np.float32),
                       rng.normal(0, 0.1, b).astype(np.float32), act)
            for i, (a, b, act) in enumerate(zip(widths, widths[1:], acts))]


def plain_pass(layers, x):
    """Every layer's activations, the whole batch at once (the reference)."""
    out, a = [], x
    for layer in layers:
        a = ACTIVATIONS[layer.activation](a @ layer.kernel + layer.bias).astype(np.float32)
        out.append(a)
    return out


def test_chunks_scale_and_kept_layers_match_one_plain_pass():
    rng = np.random.default_rng(0)
    layers = random_layers(rng, out="linear")
    x = rng.random((1000, 784), dtype=np.float32)
    reference = plain_pass(layers, x * np.float32(255))
    kept = forward(layers, x, keep=(2, -1), scale=255, batch=333)  # 333: the last chunk is short
    np.testing.assert_allclose(kept[0], reference[2], rtol=1e-5, atol=1e-4)
    np.testing.assert_allclose(kept[1], reference[-1], rtol=1e-5, atol=1e-3)
    every = forward(layers, x, keep=True, scale=255, batch=256)
    assert [a.shape for a in every] == [a.shape for a in reference]
    np.testing.assert_allclose(forward(layers, x, scale=255, batch=100), reference[-1], rtol=1e-5, atol=1e-3)
    assert forward(layers, x).dtype == np.float32
    assert x.max() <= 1  # the inputs were scaled a chunk at a time, never in place
