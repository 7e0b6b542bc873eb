"""The yardstick's metrics against independent implementations (scikit-learn, scikit-image, float64 formulas)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity
from sklearn.metrics import log_loss, mean_absolute_error, mean_squared_error

from aecompare.maths import metrics

N = 40


@pytest.fixture
def pair():
    """Random targets on [0, 1] and predictions that stray outside it (like a linear model's)."""
    rng = np.random.default_rng(1)
    y = rng.random((N, 784)).astype(np.float32)
    y[:, :300] = 0  # MNIST-like: many exact zeros
    p = np.clip(y + rng.normal(0, 0.2, y.shape), -0.3, 1.3).astype(np.float32)
    return y, p


def test_mse_mae_sse_match_sklearn_on_unclipped_outputs(pair):
    y, p = pair
    assert np.any(p < 0) and np.any(p > 1)
    mse = metrics.per_image(y, p)["mse"]
    mae = metrics.per_image(y, p)["mae"]
    for i in range(N):
        assert mse[i] == pytest.approx(mean_squared_error(y[i].astype(np.float64), p[i].astype(np.float64)), rel=1e-12)
        assert mae[i] == pytest.approx(mean_absolute_error(y[i].astype(np.float64), p[i].astype(np.float64)), rel=1e-12)
    sse = metrics.per_image(y, p)["sse_per_image"]
    np.testing.assert_allclose(sse, ((y.astype(np.float64) - p) ** 2).sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(sse, 784 * mse, rtol=1e-12)


def test_bce_matches_sklearn_log_loss_on_binary_targets():
    rng = np.random.default_rng(2)
    y = (rng.random((N, 784)) < 0.2).astype(np.float32)
    p = rng.random((N, 784)).astype(np.float32)
    p[:, :5] = 0  # clipped to 1e-7 like Keras
    p[:, 5:10] = 1
    bce = metrics.bce_per_image(y, p)
    for i in range(N):
        clipped = np.clip(p[i], np.float32(1e-7), np.float32(1 - 1e-7)).astype(np.float64)
        assert bce[i] == pytest.approx(log_loss(y[i], clipped, labels=[0, 1]), rel=1e-6)  # logs in float32, as Keras


def test_bce_and_excess_bce_match_float64_formulas_on_soft_targets(pair):
    y, p = pair
    y64 = y.astype(np.float64)
    q = np.clip(p, np.float32(1e-7), np.float32(1 - 1e-7)).astype(np.float64)
    expected_bce = -(y64 * np.log(q) + (1 - y64) * np.log(1 - q)).mean(axis=1)
    np.testing.assert_allclose(metrics.bce_per_image(y, p), expected_bce, rtol=1e-6)
    with np.errstate(divide="ignore", invalid="ignore"):
        kl = np.where(y64 > 0, y64 * np.log(y64 / q), 0) + np.where(y64 < 1, (1 - y64) * np.log((1 - y64) / (1 - q)), 0)
    np.testing.assert_allclose(metrics.per_image(y, p)["excess_bce"], kl.mean(axis=1), rtol=1e-5, atol=1e-9)
    assert np.all(metrics.per_image(y, p)["excess_bce"] > 0)
    np.testing.assert_allclose(metrics.per_image(y, y)["excess_bce"], 0, atol=1e-6)  # only the 1e-7 clip remains


def test_psnr_matches_skimage_with_clipped_outputs(pair):
    y, p = pair
    psnr = metrics.per_image(y, p)["psnr"]
    for i in range(N):
        expected = peak_signal_noise_ratio(y[i].astype(np.float64), np.clip(p[i], 0, 1).astype(np.float64),
                                           data_range=1)
        assert psnr[i] == pytest.approx(expected, rel=1e-9)


def test_ssim_matches_skimage_per_image(pair):
    y, p = pair
    ssim = metrics.ssim_per_image(y, p)
    for i in range(N):
        expected = structural_similarity(y[i].reshape(28, 28).astype(np.float64),
                                         np.clip(p[i], 0, 1).reshape(28, 28).astype(np.float64), data_range=1)
        assert ssim[i] == pytest.approx(expected, abs=1e-5)  # float32 inside, see ssim_per_image
    assert metrics.ssim_per_image(y, y) == pytest.approx(np.ones(N))


def test_ssim_mean_equals_skimage_channel_axis_call(pair):
    """scikit-image with images stacked on a channel axis returns the mean of the per-image SSIMs."""
    y, p = pair
    stacked_y = y.reshape(N, 28, 28).transpose(1, 2, 0).astype(np.float64)
    stacked_p = np.clip(p, 0, 1).reshape(N, 28, 28).transpose(1, 2, 0).astype(np.float64)
    one_call = structural_similarity(stacked_y, stacked_p, data_range=1, channel_axis=-1)
    assert np.mean(metrics.ssim_per_image(y, p)) == pytest.approx(one_call, abs=1e-6)


def test_ssim_on_real_digits(mnist):
    y = mnist.test_x[:30].reshape(30, -1).astype(np.float32) / 255
    p = np.roll(y, 1, axis=1)  # a one-pixel shift: similar, not equal
    ssim = metrics.ssim_per_image(y, p)
    expected = [structural_similarity(y[i].reshape(28, 28).astype(np.float64),
                                      p[i].reshape(28, 28).astype(np.float64), data_range=1) for i in range(30)]
    np.testing.assert_allclose(ssim, expected, atol=1e-5)


def test_clipping_rules(pair):
    """MSE sees outputs outside [0, 1]; SSIM and PSNR see them clipped; BCE clips to [1e-7, 1-1e-7]."""
    y, p = pair
    clipped = np.clip(p, 0, 1)
    assert np.all(metrics.per_image(y, p)["mse"] > metrics.per_image(y, clipped)["mse"])
    np.testing.assert_array_equal(metrics.ssim_per_image(y, p), metrics.ssim_per_image(y, clipped))
    np.testing.assert_array_equal(metrics.per_image(y, p)["psnr"], metrics.per_image(y, clipped)["psnr"])
    np.testing.assert_allclose(metrics.bce_per_image(y, p), metrics.bce_per_image(y, clipped), rtol=1e-12)


def test_prepared_targets_and_chunks_give_the_same_numbers(pair, monkeypatch):
    y, p = pair
    whole = metrics.per_image(y, p)
    monkeypatch.setattr(metrics, "CHUNK", 7)  # N = 40 is not a multiple: the last chunk is short
    chunked = metrics.per_image(metrics.Targets(y), p)
    assert list(chunked) == list(metrics.METRICS)
    for k in metrics.METRICS:
        tol = {"atol": 1e-6} if k == "ssim" else {"rtol": 1e-12}  # float32 BLAS sums depend on the chunk
        np.testing.assert_allclose(chunked[k], whole[k], **tol, err_msg=k)
    d = np.asarray(p, np.float64) - np.asarray(y, np.float64)  # plain numpy per image, as a reference
    dc = np.clip(np.asarray(p, np.float64), 0, 1) - np.asarray(y, np.float64)
    reference = {"mse": (d ** 2).mean(axis=1), "mae": np.abs(d).mean(axis=1), "sse_per_image": (d ** 2).sum(axis=1),
                 "psnr": 10 * np.log10(1 / (dc ** 2).mean(axis=1))}
    for k, expected in reference.items():
        np.testing.assert_allclose(whole[k], expected, rtol=1e-9, err_msg=k)


def test_overall_is_the_mean_over_images(pair):
    y, p = pair
    per = metrics.per_image(y, p)
    summary = metrics.overall(y, p)
    assert summary["mse"] == pytest.approx(np.mean((y.astype(np.float64) - p) ** 2))
    assert summary["sse_per_image"] == pytest.approx(np.mean(per["sse_per_image"]))
    assert summary["ssim"] == pytest.approx(np.mean(per["ssim"]))


def test_shape_mismatch_is_refused(pair):
    y, p = pair
    with pytest.raises(ValueError, match="differ in shape"):
        metrics.per_image(y, p[:-1])


def test_band_metrics_pool_the_grey_and_the_other_pixels():
    """Independent: numpy masks and scipy's xlogy for the cross-entropy and entropy of each pixel."""
    from scipy.special import xlogy

    rng = np.random.default_rng(3)
    y = rng.random((1500, 784)).astype(np.float32)
    y[y < 0.4] = 0.0
    y[y > 0.95] = 1.0
    p = np.clip(y + rng.normal(0, 0.2, y.shape), 0, 1).astype(np.float32)
    got = metrics.band_metrics(y, p)
    eps = np.float32(1e-7)  # Keras clips in the predictions' own precision (float32 here)
    y64, q = y.astype(np.float64), np.clip(p, eps, np.float32(1) - eps).astype(np.float64)
    kl = -(xlogy(y64, q) + xlogy(1 - y64, 1 - q)) + (xlogy(y64, y64) + xlogy(1 - y64, 1 - y64))
    grey = (y64 > 0.1) & (y64 < 0.9)
    assert got["grey_fraction"] == pytest.approx(grey.mean())
    assert got["mse_grey"] == pytest.approx(((p - y64) ** 2)[grey].mean(), rel=1e-9)
    assert got["mse_rest"] == pytest.approx(((p - y64) ** 2)[~grey].mean(), rel=1e-9)
    assert got["excess_bce_grey"] == pytest.approx(kl[grey].mean(), rel=1e-5)
    assert got["excess_bce_rest"] == pytest.approx(kl[~grey].mean(), rel=1e-5)
    assert np.isnan(metrics.band_metrics(np.zeros((3, 784)), np.zeros((3, 784)))["mse_grey"])
