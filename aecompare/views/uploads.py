"""Turning an uploaded image into an MNIST-like digit, the way MNIST itself was made (or into a
Fashion-MNIST-like article, the way Fashion-MNIST was: `to_fashion_mnist`).

MNIST digits are grey, white on black, scaled to fit a 20x20 box keeping their aspect ratio
(anti-aliased), then placed in a 28x28 field so that their centre of mass is at the centre.
`to_mnist` does the same to any PNG, JPEG, GIF, WebP or BMP a visitor sends, and refuses with an
`UploadError` whose message can be shown as is: too many bytes, too many pixels, a side too long or
too thin, too much memory to decode, not an image, a blank image. Nothing is ever unpickled; Pillow
only parses the formats listed in `FORMATS`.

Memory is bounded for any shape, mode and format: the caps below are checked on the header, before
a pixel is decoded, and `decode_bytes` estimates what Pillow will hold while decoding (measured per
format: WebP needs 16 bytes a pixel, a progressive JPEG 2 bytes a pixel per colour component at
full size). The decoded image is then averaged down strip by strip, so no full-size copy is made.
"""

from __future__ import annotations

import io
import math
import struct
import warnings
from dataclasses import dataclass, field

import numpy as np
from PIL import ExifTags, Image, PngImagePlugin

MAX_BYTES = 5 * 1024 * 1024  # an upload larger than this is refused before parsing
MAX_PIXELS = 4096 * 4096  # width x height above this is refused before decoding (bombs)
MAX_SIDE = 8192  # pixels; a longer side is refused before decoding
MAX_ASPECT = 16  # long side / short side; a thinner image is no digit (and stresses decoders)
DECODE_BUDGET = 64 * 2**20  # bytes Pillow may hold while decoding (see `decode_bytes`)
SLOW_DECODER_MAX_PIXELS = 2**20  # Pillow decodes RLE BMP in Python: ~0.1 s per megapixel
WORK_SIDE = 512  # larger images are averaged down to this side first: a digit needs no more
STRIP_PIXELS = 2**17  # pixels converted at a time while averaging down (copies of ~2 MB)
EXTENSIONS = {"PNG": ("png",), "JPEG": ("jpg", "jpeg"), "GIF": ("gif",), "WEBP": ("webp",), "BMP": ("bmp",)}
FORMATS = tuple(EXTENSIONS)  # the Pillow formats parsed; nothing else is even tried
UPLOAD_TYPES = tuple(ext for exts in EXTENSIONS.values() for ext in exts)  # for the file uploader
FORMAT_NAMES = "PNG, JPEG, GIF, WebP or BMP"
BOX = 20  # MNIST fits each digit into 20x20 ...
SIDE = 28  # ... inside a 28x28 field
INK = 0.1  # after normalising, pixels above this (on [0, 1]) count as part of the digit
TRIM = 0.05  # Fashion-MNIST trims edges within this of the corners' colour (on [0, 1])

# Pillow's own bomb guard, a backstop above our caps (which name the dimensions): no image that passes
# MAX_SIDE is over it, and Pillow refuses at open what is over twice it.
Image.MAX_IMAGE_PIXELS = MAX_SIDE**2
# PNG text chunks (zTXt can inflate 1000x) are kept in memory: 64 MB by default, 1 MB here.
PngImagePlugin.MAX_TEXT_MEMORY = 2**20

# What Pillow's parsers raise on malformed or hostile files (besides its own bomb errors).
_DECODE_ERRORS = (OSError, ValueError, SyntaxError, EOFError, struct.error, IndexError, KeyError, TypeError,
                  ZeroDivisionError)
# EXIF orientation -> (how to turn the pixels upright with numpy, what the visitor is told).
_ORIENTATIONS = {
    2: (lambda a: a[:, ::-1], "mirrored left-right"),
    3: (lambda a: a[::-1, ::-1], "rotated 180°"),
    4: (lambda a: a[::-1], "flipped top-bottom"),
    5: (lambda a: a.T, "transposed (mirrored and rotated 90°)"),
    6: (lambda a: np.rot90(a, -1), "rotated 90° clockwise"),
    7: (lambda a: a[::-1, ::-1].T, "transversed (mirrored and rotated 90°)"),
    8: (lambda a: np.rot90(a, 1), "rotated 90° counter-clockwise"),
}


class UploadError(ValueError):
    """The upload cannot be used; the message says why, for the visitor."""


@dataclass
class Conversion:
    """A converted digit: `image` (28, 28) uint8, 0-255 white on black, and what was done."""

    image: np.ndarray
    notes: list[str] = field(default_factory=list)


def stored_bytes_per_pixel(mode: str) -> int:
    """Bytes Pillow stores per pixel: 1 for "1", "L", "P"; 2 for 16-bit grey; 4 for all else (RGB too)."""
    if mode in ("1", "L", "P"):
        return 1
    return 2 if mode.startswith("I;16") else 4


def _jpeg_buffers_coefficients(im: Image.Image, data: bytes) -> bool:
    """Whether libjpeg keeps every DCT coefficient of the image: progressive, or a first scan with
    fewer components than the image (non-interleaved). Unknown counts as yes."""
    if im.info.get("progressive") or im.info.get("progression"):
        return True
    pos = 2
    while pos + 4 < len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        if marker == 0xFF or 0xD0 <= marker <= 0xD7 or marker == 0x01:  # fill byte, standalone markers
            pos += 1 if marker == 0xFF else 2
            continue
        if marker == 0xDA:  # start of scan: its first byte is the number of components in it
            return data[pos + 4] < max(1, len(getattr(im, "layer", ())))
        pos += 2 + int.from_bytes(data[pos + 2: pos + 4], "big")
    return True


def _is_rle_bmp(im: Image.Image) -> bool:
    return im.format == "BMP" and bool(im.tile) and im.tile[0][0] == "bmp_rle"


def decode_bytes(im: Image.Image, data: bytes, full_size: tuple[int, int]) -> tuple[int, str]:
    """Bytes Pillow holds while decoding `im` (opened, JPEG already drafted), and how they were counted.

    Measured (peak resident size, a fresh process per file) on Pillow 13: PNG, GIF, BMP hold the
    decoded image; RLE BMP three copies (a Python decoder); WebP 16 bytes a pixel (libwebp's two
    canvases, a bytes copy, the image); a JPEG its drafted output plus, when libjpeg buffers the
    coefficients, 2 bytes a pixel per component at full size (`im.layer` gives their subsampling).
    """
    w, h = im.size
    stored = w * h * stored_bytes_per_pixel(im.mode)
    if im.format == "WEBP":
        return w * h * 16, "WebP decodes through 16 bytes a pixel"
    if _is_rle_bmp(im):
        return 3 * w * h, "compressed BMP decodes through 3 copies"
    if im.format in ("JPEG", "MPO") and _jpeg_buffers_coefficients(im, data):
        layers = getattr(im, "layer", None) or [(None, 1, 1, None)] * 4
        h_max = max(layer[1] for layer in layers) or 1
        v_max = max(layer[2] for layer in layers) or 1
        fw, fh = full_size
        coefficients = sum(2 * math.ceil(fw * layer[1] / h_max) * math.ceil(fh * layer[2] / v_max)
                           for layer in layers)
        return stored + coefficients, (f"a progressive or multi-scan JPEG keeps 2 bytes a pixel for each of "
                                       f"{len(layers)} components")
    return stored, f"{stored_bytes_per_pixel(im.mode)} bytes a pixel for mode {im.mode}"


def _check_shape(w: int, h: int) -> None:
    """Refuse, from the header alone, shapes that no digit or article has and that make decoders costly (the
    messages serve both datasets' recipes)."""
    if w < 1 or h < 1:
        raise UploadError(f"The image is {w}×{h} pixels: it has no pixels.")
    if max(w, h) > MAX_SIDE:
        raise UploadError(f"The image is {w}×{h} pixels; a side may be at most {MAX_SIDE:,} pixels. "
                          "Save a smaller copy (a 28×28 image needs no more than a few hundred pixels a side).")
    if max(w, h) > MAX_ASPECT * min(w, h):
        raise UploadError(f"The image is {w}×{h} pixels, {max(w, h) / min(w, h):,.0f} times longer than wide; "
                          f"at most {MAX_ASPECT} times is accepted. Crop it closer around what it shows.")
    if w * h > MAX_PIXELS:
        raise UploadError(f"The image is {w}×{h} pixels; the limit is {MAX_PIXELS:,} pixels in all "
                          "(for example 4096×4096). Save a smaller copy.")


def _open(data: bytes, notes: list[str]) -> Image.Image:
    """The image opened and checked from its header (JPEG drafted to about `WORK_SIDE`), not decoded."""
    if not data:
        raise UploadError("The file is empty.")
    if len(data) > MAX_BYTES:
        raise UploadError(f"The file is {len(data) / 1e6:.1f} MB; the limit is {MAX_BYTES / 1e6:.0f} MB.")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # _check_shape says it better
            im = Image.open(io.BytesIO(data), formats=FORMATS)
    except Image.DecompressionBombError as e:
        raise UploadError(f"The image has far too many pixels ({e}); the limit is {MAX_PIXELS:,} pixels "
                          "(for example 4096×4096). Save a smaller copy.") from e
    except Image.UnidentifiedImageError as e:
        raise UploadError(f"This is not a {FORMAT_NAMES} image Pillow can read.") from e
    except _DECODE_ERRORS as e:
        raise UploadError(f"Pillow cannot read this as a {FORMAT_NAMES} image: {e}.") from e
    full_size, file_mode = im.size, im.mode
    _check_shape(*full_size)
    try:
        _note_frames(im, notes)
        if im.format in ("JPEG", "MPO") and max(full_size) > WORK_SIDE:
            scale = WORK_SIDE / max(full_size)
            im.draft("L" if im.mode in ("L", "RGB") else im.mode,
                     (max(1, math.ceil(full_size[0] * scale)), max(1, math.ceil(full_size[1] * scale))))
            if im.size != full_size:
                notes.append(f"decoded at {im.width}×{im.height} (JPEG reduced from {full_size[0]}×{full_size[1]})")
    except _DECODE_ERRORS as e:
        raise UploadError(f"The image could not be read (truncated or damaged?): {e}") from e
    _check_decoding(im, data, full_size, file_mode)
    return im


def _check_decoding(im: Image.Image, data: bytes, full_size: tuple[int, int], file_mode: str) -> None:
    """Refuse before decoding what would take more than `DECODE_BUDGET` bytes, or too long in Python."""
    cost, why = decode_bytes(im, data, full_size)
    if cost > DECODE_BUDGET:
        raise UploadError(f"Decoding this {full_size[0]}×{full_size[1]} {im.format} ({file_mode}) image would take "
                          f"about {cost / 2**20:.0f} MB ({why}); the limit is "
                          f"{DECODE_BUDGET / 2**20:.0f} MB. Save a smaller copy, or as PNG.")
    if _is_rle_bmp(im) and im.width * im.height > SLOW_DECODER_MAX_PIXELS:
        raise UploadError(f"This compressed (RLE) BMP is {im.width}×{im.height} pixels; at most "
                          f"{SLOW_DECODER_MAX_PIXELS:,} pixels are accepted in that format. Save it as PNG.")


def _note_frames(im: Image.Image, notes: list[str]) -> None:
    """Say that only the first frame is used. GIF is not counted: Pillow walks every frame to count."""
    if not getattr(im, "is_animated", False):
        return
    if im.format == "GIF":
        notes.append("animated image: used the first frame")
    else:
        notes.append(f"animated image: used the first of {im.n_frames} frames")
    im.seek(0)


@dataclass
class _Planes:
    """An image averaged over factor x factor blocks: the mean grey (on [0, 1], raw values for high-bit
    modes), the mean of alpha x grey and the mean alpha (None without transparency). `peak`: the
    largest raw value of any pixel."""

    grey: np.ndarray
    alpha_grey: np.ndarray | None
    alpha: np.ndarray | None
    peak: float

    @classmethod
    def of(cls, grey: Image.Image, premultiplied: Image.Image | None, peak: float) -> _Planes:
        """From `_reduce`'s small images: grey "L" (or "F", raw) and premultiplied "RGBa" or None."""
        if grey.mode == "F":
            return cls(np.asarray(grey, np.float64), None, None, peak)
        if premultiplied is None:
            return cls(np.asarray(grey, np.float64) / 255, None, None, peak)
        rgba = np.asarray(premultiplied, np.float32) / 255
        return cls(np.asarray(grey, np.float64) / 255,
                   (rgba[..., :3] @ np.array([0.299, 0.587, 0.114], np.float32)).astype(np.float64),
                   rgba[..., 3].astype(np.float64), peak)

    def oriented(self, turn) -> _Planes:
        return _Planes(turn(self.grey), None if self.alpha is None else turn(self.alpha_grey),
                       None if self.alpha is None else turn(self.alpha), self.peak)


def _reduce(im: Image.Image, factor: int) -> tuple[Image.Image, Image.Image | None, float]:
    """Average the decoded image over factor x factor blocks, a strip of rows at a time, so that no
    full-size copy is made (Pillow's convert and reduce, in C). Returns the small grey image ("F" with
    raw values for high-bit modes, else "L"), the small premultiplied "RGBa" (None without
    transparency) and the largest raw value."""
    high = im.mode.startswith("I;16") or im.mode in ("I", "F")
    alpha = not high and im.has_transparency_data
    small_size = (math.ceil(im.width / factor), math.ceil(im.height / factor))
    grey = Image.new("F" if high else "L", small_size)
    premultiplied = Image.new("RGBa", small_size) if alpha else None
    rows_per_strip = factor * max(1, STRIP_PIXELS // (im.width * factor))
    peak = 0.0
    for top in range(0, im.height, rows_per_strip):
        strip = im.crop((0, top, im.width, min(im.height, top + rows_per_strip)))
        if high:
            strip = strip.convert("F")
            peak = max(peak, float(strip.getextrema()[1]))
        elif alpha:
            strip = strip.convert("RGBA")
            premultiplied.paste(strip.convert("RGBa").reduce(factor), (0, top // factor))
        grey.paste(strip.convert(grey.mode).reduce(factor), (0, top // factor))
    return grey, premultiplied, peak if high else 255.0


def _grey_unit(planes: _Planes, mode: str, notes: list[str]) -> np.ndarray:
    """The averaged image as grey float64 on [0, 1]; transparency composited for contrast."""
    if mode.startswith("I;16") or mode in ("I", "F"):
        top = 65535.0 if mode.startswith("I;16") or planes.peak > 255 else 255.0
        if mode == "F":
            top = max(1.0, planes.peak)
        notes.append(f"{mode} image (more than 8 bits) scaled by 1/{top:g}")
        return np.clip(planes.grey / top, 0, 1)
    if planes.alpha is None:
        return planes.grey
    opaque = planes.alpha > 0.5
    if not opaque.any() or opaque.all():
        notes.append("transparency ignored (image fully opaque or fully transparent)")
        return planes.grey
    # Strokes drawn dark go on white, strokes drawn light on black: keep the contrast.
    strokes_dark = (planes.alpha_grey[opaque] / planes.alpha[opaque]).mean() < 0.5
    background = 1.0 if strokes_dark else 0.0
    notes.append(f"transparent pixels composited on {'white' if strokes_dark else 'black'}")
    return planes.alpha_grey + (1 - planes.alpha) * background


def _orientation(im: Image.Image, notes: list[str]) -> int:
    """The EXIF (or XMP) orientation, 1..8; 1 (upright) when absent or unreadable."""
    try:
        value = im.getexif().get(ExifTags.Base.Orientation, 1)
    except _DECODE_ERRORS:
        notes.append("EXIF metadata unreadable: orientation not applied")
        return 1
    return value if value in _ORIENTATIONS else 1


def _resize(a: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """Resize a float image to (width, height) with Lanczos (anti-aliased, as MNIST was)."""
    img = Image.fromarray(a.astype(np.float32), mode="F")
    return np.asarray(img.resize(size, Image.Resampling.LANCZOS), np.float64)


def to_mnist(data: bytes) -> Conversion:
    """Convert image bytes to a (28, 28) uint8 MNIST-like digit; raises UploadError."""
    notes: list[str] = []
    return Conversion(digit_from_grey(_decoded_grey(data, notes), notes), notes)


def to_fashion_mnist(data: bytes) -> Conversion:
    """Convert image bytes to a (28, 28) uint8 Fashion-MNIST-like article; raises UploadError."""
    notes: list[str] = []
    return Conversion(article_from_grey(_decoded_grey(data, notes), notes), notes)


def _decoded_grey(data: bytes, notes: list[str]) -> np.ndarray:
    """The upload decoded within the caps above, averaged down, turned upright: grey float64 on [0, 1]."""
    im = _open(data, notes)
    mode = im.mode
    try:
        im.load()
        orientation = _orientation(im, notes)
        factor = math.ceil(max(im.size) / WORK_SIDE)
        small = _reduce(im, factor)
    except _DECODE_ERRORS + (Image.DecompressionBombError,) as e:
        raise UploadError(f"The image could not be decoded (truncated or damaged?): {e}") from e
    finally:
        im.close()  # frees the decoded image now, before the float work below
    if factor > 1:
        notes.append(f"averaged down to {small[0].width}×{small[0].height} before converting")
    planes = _Planes.of(*small)
    if orientation != 1:
        turn, what = _ORIENTATIONS[orientation]
        planes = planes.oriented(turn)
        notes.append(f"{what} upright, as its EXIF orientation ({orientation}) says")
    return _grey_unit(planes, mode, notes)
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
    patch = _fitted(_cropped(a, a > INK), BOX)
    new_h, new_w = patch.shape
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


def article_from_grey(grey: np.ndarray, notes: list[str] | None = None) -> np.ndarray:
    """Fashion-MNIST's recipe (Xiao, Rasul & Vollgraf 2017) on a grey image on [0, 1]: trim the edges of the
    corners' colour (within 5%), fit the longest side to 28 keeping the aspect, centre in 28x28, and negate a
    light background, so a product photographed on white stands bright on black. Unlike Zalando's: resized with
    Lanczos rather than by skipping rows and columns, not sharpened, and the background's level mapped to 0."""
    notes = notes if notes is not None else []
    a = np.asarray(grey, np.float64)
    background = float(np.median([a[0, 0], a[0, -1], a[-1, 0], a[-1, -1]]))
    kept = np.abs(a - background) > TRIM
    if not kept.any():
        raise UploadError("Nothing found: the image is (nearly) one flat colour.")
    a = _cropped(a, kept)
    if background > 0.5:
        a, background = 1 - a, 1 - background
        notes.append("negated (light background): the article bright on black")
    patch = _fitted(np.clip((a - background) / (1 - background), 0, 1), SIDE)
    new_h, new_w = patch.shape
    out = np.zeros((SIDE, SIDE))
    top, left = (SIDE - new_h + 1) // 2, (SIDE - new_w + 1) // 2  # an odd margin: its larger half first, as Zalando did
    out[top: top + new_h, left: left + new_w] = patch
    return np.rint(out * 255).astype(np.uint8)


def _cropped(a: np.ndarray, kept: np.ndarray) -> np.ndarray:
    """`a` cut to the rows and columns where `kept` (same shape, not all False) holds anywhere."""
    rows, cols = np.flatnonzero(kept.any(axis=1)), np.flatnonzero(kept.any(axis=0))
    return a[rows[0]: rows[-1] + 1, cols[0]: cols[-1] + 1]


def _fitted(a: np.ndarray, box: int) -> np.ndarray:
    """`a` resized (Lanczos, clipped to [0, 1]) so that its longer side is `box` pixels, keeping its aspect."""
    h, w = a.shape
    scale = box / max(h, w)
    return np.clip(_resize(a, (max(1, round(w * scale)), max(1, round(h * scale)))), 0, 1)
