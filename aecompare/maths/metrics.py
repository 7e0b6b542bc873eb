"""The common yardstick: reconstruction metrics on the [0, 1] pixel scale, whatever the model's loss.

Models trained with different losses (BCE, MSE, MAE) and on different scales (0-255 or [0, 1])
are only comparable on one scale with the same metrics. Every function here takes targets `y`
(images on [0, 1], shape (n, 784) or (n, 28, 28)) and reconstructions `p` on the [0, 1] scale
(raw-scale outputs divided by 255, as `catalog.Run.reconstruct` returns them).

What is clipped, and why (the same rule everywhere):
- MSE, MAE and SSE use the outputs as they are, unclipped: they are defined for any real output,
  and a linear model that outputs -0.2 or 1.3 is really that far off.
- BCE and BCE minus the targets' entropy clip predictions to [1e-7, 1 - 1e-7], exactly as
  Keras (and `pixel_losses.bce`) does: the logarithms need probabilities.
- PSNR and SSIM clip predictions to [0, 1]: both assume a data range of 1 (an image).

Per-image values are arrays of shape (n,); `summarise` averages them over images. Units: MSE per
pixel (squared [0, 1] units), MAE per pixel, BCE and excess BCE in nats per pixel, PSNR in dB,
SSIM unitless (1 = identical), SSE summed over the 784 pixels of one image (the unit of
Hinton & Salakhutdinov 2006, Fig. 2B).
"""

from __future__ import annotations

import numpy as np

from . import pixel_losses

# Bump when a stored figure's definition or a stored table's columns change: results written by older code
# then read as stale (4: per_class.csv's class column is `label`, was `digit`, also for Fashion-MNIST).
METRICS_VERSION = 4

METRICS = ("mse", "mae", "bce", "excess_bce", "psnr", "ssim", "sse_per_image")

# structural_similarity's defaults in scikit-image (Wang et al. 2004 constants, 7x7 uniform window,
# sample covariance), which `ssim_per_image` reproduces.
SSIM_WIN = 7
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def _flat(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    return a.reshape(len(a), -1)


def _square_images(a: np.ndarray) -> np.ndarray:
    a = np.asarray(a)
    if a.ndim == 3:
        return a
    side = int(round(np.sqrt(a.shape[1])))
    return a.reshape(len(a), side, side)


def bce_per_image(y, p) -> np.ndarray:
    """Binary cross-entropy per pixel of each image, nats; predictions clipped to [1e-7, 1-1e-7]."""
    return pixel_losses.bce(_flat(y), _flat(p), axis=1)


def entropy_per_image(y) -> np.ndarray:
    """Mean binary entropy H(y) per pixel of each image (nats): the lowest BCE a model can reach."""
    return np.mean(pixel_losses.binary_entropy(_flat(y)), axis=1)


def _band(size: int, win: int) -> np.ndarray:
    """(size - win + 1, size) 0/1 matrix: row j sums the `win` entries starting at j."""
    i, j = np.arange(size)[None, :], np.arange(size - win + 1)[:, None]
    return ((i >= j) & (i - j < win)).astype(np.float64)


def _box_means(a: np.ndarray, win: int) -> np.ndarray:
    """Means of every wholly inside win x win window of each image: (n, h, w) -> (n, h-win+1, w-win+1).

    One big matrix product per axis with a 0/1 band matrix: BLAS makes this the fast way.
    """
    n, h, w = a.shape
    along_w = a.reshape(n * h, w) @ _band(w, win).T.astype(a.dtype)  # (n*h, w')
    along_h = along_w.reshape(n, h, -1).transpose(0, 2, 1).reshape(-1, h) @ _band(h, win).T.astype(a.dtype)
    return along_h.reshape(n, w - win + 1, h - win + 1).transpose(0, 2, 1) / a.dtype.type(win * win)


CHUNK = 1000  # images per step: bounds the float64 temporaries to a few MB each (the dashboard's memory)


class Targets:
    """Target images prepared once, so that scoring many models against them repeats no work.

    Holds the targets flat (float32), their per-image entropy and the SSIM window statistics of the
    targets (each model then only needs those of its own outputs). Float64 copies are made a chunk
    at a time: the whole test set in float64 would cost 63 MB per temporary.
    """

    def __init__(self, y):
        self.y = _flat(np.asarray(y, np.float32))
        self.side = _square_images(self.y).shape[1:]
        self.entropy = np.concatenate([entropy_per_image(self.y[i:i + CHUNK].astype(np.float64))
                                       for i in range(0, len(self.y), CHUNK)] or [np.zeros(0)])
        images = self.y.reshape(len(self.y), *self.side)  # SSIM works in float32: see `ssim_per_image`
        if min(self.side) < SSIM_WIN:
            raise ValueError(f"images of {self.side} pixels are smaller than the {SSIM_WIN}x{SSIM_WIN} SSIM window")
        h, w = (s - SSIM_WIN + 1 for s in self.side)
        # laid out as `_box_means` returns its results (column-major images): SSIM then combines them
        # with the outputs' own statistics at full speed (mixed layouts cost a third of SSIM's time)
        self.mean = np.empty((len(images), w, h), np.float32).transpose(0, 2, 1)
        self.var = np.empty((len(images), w, h), np.float32).transpose(0, 2, 1)
        for i in range(0, len(images), CHUNK):
            part = images[i:i + CHUNK]
            self.mean[i:i + CHUNK] = _box_means(part, SSIM_WIN)
            self.var[i:i + CHUNK] = _box_means(part * part, SSIM_WIN) - self.mean[i:i + CHUNK] ** 2

    def __len__(self) -> int:
        return len(self.y)


def _ssim(t: Targets, p: np.ndarray) -> np.ndarray:
    """Per-image SSIM of flat predictions `p` (any float dtype; clipped to [0, 1] here)."""
    n_px = SSIM_WIN * SSIM_WIN
    cov_norm = np.float32(n_px / (n_px - 1))  # sample covariance, as scikit-image's default
    c1, c2 = np.float32(SSIM_K1 ** 2), np.float32(SSIM_K2 ** 2)  # (K * data_range)^2 with data_range = 1
    out = np.empty(len(t))
    for i in range(0, len(t), CHUNK):
        part = slice(i, i + CHUNK)
        z = np.clip(p[part].astype(np.float32), 0, 1).reshape(-1, *t.side)
        x = t.y[part].reshape(-1, *t.side)
        ux, vx = t.mean[part], t.var[part]
        uz = _box_means(z, SSIM_WIN)
        vz = _box_means(z * z, SSIM_WIN) - uz * uz
        vxz = _box_means(x * z, SSIM_WIN) - ux * uz
        s = (((2 * ux * uz + c1) * (2 * cov_norm * vxz + c2))
             / ((ux * ux + uz * uz + c1) * (cov_norm * (vx + vz) + c2)))
        out[part] = s.mean(axis=(1, 2), dtype=np.float64)
    return out


def ssim_per_image(y, p) -> np.ndarray:
    """Structural similarity of each image pair, data range 1, predictions clipped to [0, 1].

    Equals `skimage.metrics.structural_similarity(y_i, p_i, data_range=1)` for every image (a test
    checks this per image): a 7x7 uniform window, sample covariance, K1 = 0.01, K2 = 0.03, averaged
    over the window positions that lie wholly inside the image (scikit-image crops the border). It
    is computed for all images at once with matrix products because scikit-image's `channel_axis`
    loops over the channels in Python (seconds per model for 10,000 images), and in float32, which
    halves the time: per image it differs from scikit-image's float64 result by under 1e-5 (tested),
    the mean over images by about 1e-8.
    """
    t = y if isinstance(y, Targets) else Targets(y)
    return _ssim(t, _flat(np.asarray(p)))


def pixel_metrics(y, p) -> dict[str, np.ndarray]:
    """Every metric of `METRICS` but SSIM, for each image pair: {name: array (n,)}.

    `y` may be a `Targets` (prepared once for many models) or the target images themselves.
    """
    t = y if isinstance(y, Targets) else Targets(y)
    p = _flat(np.asarray(p, np.float32))
    if t.y.shape != p.shape:
        raise ValueError(f"targets {t.y.shape} and reconstructions {p.shape} differ in shape")
    n_px = p.shape[1]
    out = {k: np.empty(len(p)) for k in ("mse", "mae", "bce", "excess_bce", "psnr", "sse_per_image")}
    for i in range(0, len(p), CHUNK):
        part = slice(i, i + CHUNK)
        y64, pc = t.y[part].astype(np.float64), p[part]
        d = pc.astype(np.float64) - y64
        sse = np.einsum("ij,ij->i", d, d)
        dc = np.clip(pc, 0, 1).astype(np.float64) - y64
        with np.errstate(divide="ignore"):
            out["psnr"][part] = 10 * np.log10(n_px / np.einsum("ij,ij->i", dc, dc))
        out["sse_per_image"][part] = sse
        out["mse"][part] = sse / n_px
        out["mae"][part] = np.abs(d).mean(axis=1)
        out["bce"][part] = bce_per_image(y64, pc)
    out["excess_bce"] = out["bce"] - t.entropy
    return out


def per_image(y, p) -> dict[str, np.ndarray]:
    """Every metric of `METRICS` for each image pair: {name: array (n,)}. See the module docstring."""
    t = y if isinstance(y, Targets) else Targets(y)
    values = pixel_metrics(t, p)
    values["ssim"] = ssim_per_image(t, p)
    return {k: values[k] for k in METRICS}


def summarise(values: dict[str, np.ndarray]) -> dict[str, float]:
    """Mean over images of each per-image metric (PSNR: the mean of per-image dB, like tf.image.psnr)."""
    return {k: float(np.mean(v)) for k, v in values.items()}


def overall(y, p) -> dict[str, float]:
    """Every metric of `METRICS` averaged over the images (`y`: images or a `Targets`)."""
    return summarise(per_image(y, p))


GREY_BAND = (0.1, 0.9)  # target pixels strictly inside are "mid-grey": where BCE, MSE and the CB part
BAND_METRICS = ("mse_grey", "excess_bce_grey", "mse_rest", "excess_bce_rest", "grey_fraction")


def band_metrics(y, p) -> dict[str, float]:
    """MSE and BCE − H(y) pooled over the mid-grey target pixels (GREY_BAND[0] < y < GREY_BAND[1]) and over
    the rest (near black or white), and the share of pixels that are mid-grey; [0, 1] scale, nats.

    On near-binary MNIST about 9% of test pixels are mid-grey; these are the strokes' edges, where the
    losses' different treatment of grey targets shows. NaN for a band with no pixel.
    """
    t = y if isinstance(y, Targets) else Targets(y)
    p = _flat(np.asarray(p))
    sums = dict.fromkeys(("sq_grey", "kl_grey", "n_grey", "sq_rest", "kl_rest", "n_rest"), 0.0)
    lo, hi = GREY_BAND
    for i in range(0, len(p), CHUNK):
        y64, p64 = t.y[i:i + CHUNK].astype(np.float64), p[i:i + CHUNK].astype(np.float64)
        sq = (p64 - y64) ** 2
        kl = pixel_losses.bce_terms(y64, p[i:i + CHUNK]) - pixel_losses.binary_entropy(y64)
        grey = (y64 > lo) & (y64 < hi)
        for band, mask in (("grey", grey), ("rest", ~grey)):
            sums[f"sq_{band}"] += float(sq[mask].sum())
            sums[f"kl_{band}"] += float(kl[mask].sum())
            sums[f"n_{band}"] += float(mask.sum())

    def mean(key, band):
        return sums[f"{key}_{band}"] / sums[f"n_{band}"] if sums[f"n_{band}"] else float("nan")

    total = sums["n_grey"] + sums["n_rest"]
    return {"mse_grey": mean("sq", "grey"), "excess_bce_grey": mean("kl", "grey"), "mse_rest": mean("sq", "rest"),
            "excess_bce_rest": mean("kl", "rest"), "grey_fraction": sums["n_grey"] / total if total else float("nan")}
