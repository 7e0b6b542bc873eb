"""Pictures as uint8 arrays: digits for display, strips and grids of them, colour maps, scatter plots.

Pure numpy (and Pillow for drawing points); no Streamlit. Images on the [0, 1] scale are (784,) or
(28, 28) unless a name says otherwise. The dashboard sends these as PNGs: a dozen images draw in the
browser in milliseconds, where a chart of thousands of marks takes seconds.
"""

from __future__ import annotations

import io

import numpy as np

SIDE = 28
WHITE = 255

# matplotlib's "inferno" sampled at 17 evenly spaced points (perceptually uniform, readable in grey and
# by colour-blind readers); `sequential_rgb` interpolates between them.
INFERNO = np.array([(0, 0, 4), (11, 7, 36), (33, 12, 74), (61, 9, 101), (87, 16, 110), (113, 25, 110),
                    (138, 34, 106), (163, 44, 97), (188, 55, 84), (210, 70, 68), (228, 90, 49), (241, 115, 29),
                    (249, 142, 9), (252, 172, 17), (249, 203, 53), (242, 234, 105), (252, 255, 164)], np.float64)
# Paul Tol's "muted" scheme plus its pale grey: ten classes told apart with any colour vision.
CLASS_COLOURS = ("#CC6677", "#332288", "#DDCC77", "#117733", "#88CCEE", "#882255", "#44AA99", "#999933",
                 "#AA4499", "#BBBBBB")


def upscale(img: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling of a (28, 28) or (28, 28, 3) image so single pixels are visible."""
    a = np.asarray(img)
    if a.ndim == 1:
        a = a.reshape(SIDE, SIDE)
    return np.repeat(np.repeat(a, factor, axis=0), factor, axis=1)


def to_display(x_unit: np.ndarray, stretch: bool = False) -> np.ndarray:
    """A [0, 1]-scale image as uint8 0-255, clipped; `stretch` maps its own min..max to 0..255."""
    a = np.asarray(x_unit, np.float64).reshape(SIDE, SIDE)
    if stretch:
        lo, hi = a.min(), a.max()
        a = (a - lo) / (hi - lo) if hi > lo else np.zeros_like(a)
    return np.rint(np.clip(a, 0, 1) * 255).astype(np.uint8)


def join(tiles: list[np.ndarray], axis: int, gap: int = 2) -> np.ndarray:
    """Tiles of equal height (axis 1: side by side) or width (axis 0: top to bottom), white gaps between.

    One image per grid column or row instead of one per cell: the browser fetches a dozen images, not hundreds.
    """
    if not tiles:
        return np.zeros((0, 0), np.uint8)
    shape = list(tiles[0].shape)
    shape[axis] = gap
    white = np.full(shape, WHITE, np.uint8)
    parts = [tiles[0]]
    for t in tiles[1:]:
        parts += [white, t]
    return np.concatenate(parts, axis=axis)


def side_by_side(images: list[np.ndarray], gap: int = 8) -> np.ndarray:
    """Images of any heights (grey or RGB uint8) left to right, top-aligned, on white, `gap` pixels apart."""
    rgb = [np.repeat(a[..., None], 3, axis=2) if a.ndim == 2 else a for a in images]
    height = max(a.shape[0] for a in rgb)
    padded = [np.pad(a, ((0, height - a.shape[0]), (0, 0), (0, 0)), constant_values=WHITE) for a in rgb]
    return join(padded, axis=1, gap=gap)


def strip(images_unit: np.ndarray, zoom: int, stretch: bool = False) -> np.ndarray:
    """Images (k, 784) on [0, 1] side by side, 2-pixel white gaps, enlarged `zoom` times."""
    return upscale(join([to_display(x, stretch) for x in images_unit], axis=1), zoom)


def diverging_rgb(err: np.ndarray, limit: float) -> np.ndarray:
    """Signed values as RGB uint8: blue below 0, white at 0, red above; +-limit saturates."""
    t = np.clip(np.asarray(err, np.float64) / (limit if limit > 0 else 1.0), -1, 1)
    pos, neg = np.clip(t, 0, 1), np.clip(-t, 0, 1)
    blue = np.array([33, 102, 172.0])
    red = np.array([178, 24, 43.0])
    white = np.array([247, 247, 247.0])
    rgb = white + pos[..., None] * (red - white) + neg[..., None] * (blue - white)
    return np.rint(rgb).astype(np.uint8)


def sequential_rgb(values: np.ndarray, top: float) -> np.ndarray:
    """Values >= 0 as RGB uint8 on the inferno scale: 0 is black, `top` (and above) pale yellow."""
    t = np.clip(np.asarray(values, np.float64) / (top if top > 0 else 1.0), 0, 1) * (len(INFERNO) - 1)
    lo = np.floor(t).astype(int).clip(0, len(INFERNO) - 2)
    frac = (t - lo)[..., None]
    return np.rint(INFERNO[lo] * (1 - frac) + INFERNO[lo + 1] * frac).astype(np.uint8)


def colour_bar(top: float, width: int = 256, height: int = 12) -> np.ndarray:
    """The `sequential_rgb` scale from 0 to `top`, left to right, as an RGB strip."""
    return np.repeat(sequential_rgb(np.linspace(0, top, width), top)[None], height, axis=0)


def scatter(xy: np.ndarray, classes: np.ndarray, size: int = 260, radius: float = 1.6) -> np.ndarray:
    """Points `xy` (n, 2) coloured by integer class (`CLASS_COLOURS`) on a white square of `size` pixels.

    Axes are scaled to the points' own range (a projection's axes have no units); y grows upwards.
    """
    from PIL import Image, ImageDraw

    img = Image.new("RGB", (size, size), "white")
    draw = ImageDraw.Draw(img)
    xy = np.asarray(xy, np.float64)
    if len(xy):
        lo, hi = xy.min(axis=0), xy.max(axis=0)
        span = np.where(hi > lo, hi - lo, 1.0)
        margin = 4 + radius
        pixels = margin + (xy - lo) / span * (size - 1 - 2 * margin)
        pixels[:, 1] = size - 1 - pixels[:, 1]
        for (px, py), c in zip(pixels, np.asarray(classes, int)):
            draw.ellipse((px - radius, py - radius, px + radius, py + radius),
                         fill=CLASS_COLOURS[c % len(CLASS_COLOURS)])
    return np.asarray(img)


def png_bytes(image: np.ndarray) -> bytes:
    """An image array (grey or RGB uint8) as PNG file contents, for downloads."""
    from PIL import Image

    buf = io.BytesIO()
    Image.fromarray(np.asarray(image, np.uint8)).save(buf, format="PNG")
    return buf.getvalue()
