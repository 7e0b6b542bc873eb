"""Turning an uploaded image into an MNIST-like digit, the way MNIST itself was made.

MNIST digits are grey, white on black, scaled to fit a 20x20 box keeping their aspect ratio
(anti-aliased), then placed in a 28x28 field so that their centre of mass is at the centre.
`to_mnist` does the same to any PNG/JPEG (also GIF, WebP, BMP) a visitor sends, and refuses
with an `UploadError` whose message can be shown as is: too many bytes, too many pixels
(decompression bombs), not an image, a blank image. Nothing is ever unpickled; Pillow only
parses the formats listed in `FORMATS`.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import Image, ImageSequence

MAX_BYTES = 5 * 1024 * 1024  # an upload larger than this is refused before parsing
MAX_PIXELS = 4096 * 4096  # width x height above this is refused before decoding (bombs)
WORK_SIDE = 512  # larger images are shrunk to this side first: a digit needs no more
FORMATS = ("PNG", "JPEG", "GIF", "WEBP", "BMP")
BOX = 20  # MNIST fits each digit into 20x20 ...
SIDE = 28  # ... inside a 28x28 field
INK = 0.1  # after normalising, pixels above this (on [0, 1]) count as part of the digit

# Pillow's own bomb guard, lowered to our cap: above 2x it raises DecompressionBombError.
Image.MAX_IMAGE_PIXELS = MAX_PIXELS


class UploadError(ValueError):
    """The upload cannot be used; the message says why, for the visitor."""


@dataclass
class Conversion:
    """A converted digit: `image` (28, 28) uint8, 0-255 white on black, and what was done."""

    image: np.ndarray
    notes: list[str] = field(default_factory=list)


def _open(data: bytes) -> Image.Image:
    if not data:
        raise UploadError("The file is empty.")
    if len(data) > MAX_BYTES:
        raise UploadError(f"The file is {len(data) / 1e6:.1f} MB; the limit is {MAX_BYTES / 1e6:.0f} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            im = Image.open(io.BytesIO(data), formats=FORMATS)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as e:
        raise UploadError(f"The image has too many pixels (limit {MAX_PIXELS:,}); refused ({e}).") from e
    except (OSError, ValueError, SyntaxError) as e:
        raise UploadError("This is not a PNG or JPEG image Pillow can read "
                          f"(accepted: {', '.join(FORMATS)}).") from e
    w, h = im.size
    if w < 1 or h < 1 or w * h > MAX_PIXELS:
        raise UploadError(f"The image is {w}x{h} pixels; the limit is {MAX_PIXELS:,} pixels in all.")
    return im


def _grey_unit(im: Image.Image, notes: list[str]) -> np.ndarray:
    """The first frame as grey float64 on [0, 1]; transparency composited for contrast."""
    mode = im.mode
    if mode.startswith("I;16") or mode in ("I", "F"):
        a = np.asarray(im, np.float64)
        top = 65535.0 if mode.startswith("I;16") or a.max() > 255 else 255.0
        if mode == "F":
            top = max(1.0, float(a.max()))
        notes.append(f"{mode} image (more than 8 bits) scaled by 1/{top:g}")
        return np.clip(a / top, 0, 1)
    has_alpha = mode in ("RGBA", "LA", "PA") or "transparency" in im.info
    if has_alpha:
        rgba = np.asarray(im.convert("RGBA"), np.float64) / 255
        alpha = rgba[..., 3]
        grey = rgba[..., :3] @ np.array([0.299, 0.587, 0.114])
        opaque = alpha > 0.5
        if not opaque.any() or opaque.all():
            notes.append("transparency ignored (image fully opaque or fully transparent)")
            return grey
        # Strokes drawn dark go on white, strokes drawn light on black: keep the contrast.
        strokes_dark = grey[opaque].mean() < 0.5
        background = 1.0 if strokes_dark else 0.0
        notes.append(f"transparent pixels composited on {'white' if strokes_dark else 'black'}")
        return alpha * grey + (1 - alpha) * background
    return np.asarray(im.convert("L"), np.float64) / 255


def _resize(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float image to (width, height) with Lanczos (anti-aliased, as MNIST was)."""
    img = Image.fromarray(a.astype(np.float32), mode="F")
    return np.asarray(img.resize(size, Image.Resampling.LANCZOS), np.float64)


def to_mnist(data: bytes) -> Conversion:
    """Convert image bytes to a (28, 28) uint8 MNIST-like digit; raises UploadError."""
    notes: list[str] = []
    im = _open(data)
    try:
        frames = getattr(im, "n_frames", 1)
        if frames > 1:
            notes.append(f"animated image: used the first of {frames} frames")
            im = next(ImageSequence.Iterator(im))
        im.load()
        if max(im.size) > WORK_SIDE:
            scale = WORK_SIDE / max(im.size)
            im = im.resize((max(1, round(im.width * scale)), max(1, round(im.height * scale))),
                           Image.Resampling.BOX if im.mode not in ("P", "1") else Image.Resampling.NEAREST)
            notes.append(f"shrunk to {im.width}x{im.height} before converting")
        grey = _grey_unit(im, notes)
    except UploadError:
        raise
    except (OSError, ValueError, SyntaxError, EOFError, Image.DecompressionBombError) as e:
        raise UploadError(f"The image could not be decoded (truncated or damaged?): {e}") from e
    return Conversion(digit_from_grey(grey, notes), notes)


def digit_from_grey(grey: np.ndarray, notes: list[str] | None = None) -> np.ndarray:
    """MNIST's recipe on a grey image on [0, 1]: white-on-black, fit 20x20, centre by mass in 28x28."""
    notes = notes if notes is not None else []
    a = np.asarray(grey, np.float64)
    border = np.concatenate([a[0], a[-1], a[:, 0], a[:, -1]])
    background = float(np.median(border))
    if background > 0.5:
        a = 1 - a
        background = 1 - background
        notes.append("inverted (light background) to white digit on black")
    a = a - background
    peak = float(a.max())
    if peak < 0.05:
        raise UploadError("No digit found: the image is (nearly) one flat colour.")
    a = np.clip(a / peak, 0, 1)
    rows = np.flatnonzero((a > INK).any(axis=1))
    cols = np.flatnonzero((a > INK).any(axis=0))
    a = a[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]
    h, w = a.shape
    scale = BOX / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    patch = np.clip(_resize(a, (new_w, new_h)), 0, 1)
    if patch.sum() <= 0:
        raise UploadError("No digit found after scaling to 20x20.")
    ys, xs = np.indices(patch.shape)
    com_y = float((ys * patch).sum() / patch.sum())
    com_x = float((xs * patch).sum() / patch.sum())
    top = int(np.clip(round((SIDE - 1) / 2 - com_y), 0, SIDE - new_h))
    left = int(np.clip(round((SIDE - 1) / 2 - com_x), 0, SIDE - new_w))
    out = np.zeros((SIDE, SIDE))
    out[top: top + new_h, left: left + new_w] = patch
    return np.rint(out * 255).astype(np.uint8)
