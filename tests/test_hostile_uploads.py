"""Hostile uploads, each converted in its own process: an UploadError naming the problem or a correct
conversion, never a crash, and the process grows by less than 100 MB (issue 10).

The files are generated here, small (a few KB to a few MB), with real encoders; PNGs that Pillow cannot
write (16-bit RGBA, 16 million pixels wide) are written chunk by chunk.
"""

from __future__ import annotations

import io
import json
import os
import re
import struct
import subprocess
import sys
import zlib

import numpy as np
import pytest
from PIL import Image
from test_uploads import check_mnist_like

from aecompare.views.uploads import MAX_BYTES

from conftest import REPO

GROWTH_LIMIT_MB = 100
N = 4096  # the pixel cap's side: 4096 x 4096


def raw_png(w: int, h: int, depth: int, colour: int, blocks, chunks: bytes = b"") -> bytes:
    """A PNG from its filtered scanlines (`blocks`: byte strings, each row starting with filter 0)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    z = zlib.compressobj(6)
    idat = b"".join(z.compress(b) for b in blocks) + z.flush()
    head = chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, colour, 0, 0, 0))
    return b"\x89PNG\r\n\x1a\n" + head + chunks + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def encode(img: Image.Image, fmt: str = "PNG", **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **kw)
    return buf.getvalue()


def bar(mode: str, w: int = N, h: int = N, ink=255, paper=0) -> Image.Image:
    """A vertical bar (a "1") of `ink` on `paper`, in the middle third of the image."""
    img = Image.new(mode, (w, h), paper)
    img.paste(ink, (w // 2 - w // 40, h // 4, w // 2 + w // 40, 3 * h // 4))
    return img


def rgba16_bar() -> bytes:
    """16-bit RGBA at the pixel cap: transparent, an opaque white bar (Pillow reads it as 8-bit RGBA)."""
    blank = b"\0" + bytes(8 * N)
    left, right = N // 2 - 100, N // 2 + 100
    stroke = b"\0" + bytes(8 * left) + b"\xff" * 8 * (right - left) + bytes(8 * (N - right))
    return raw_png(N, N, 16, 6, (stroke if N // 4 <= y < 3 * N // 4 else blank for y in range(N)))


def palette_with_transparency() -> bytes:
    img = bar("P", ink=1, paper=0)
    img.putpalette([0, 0, 0, 255, 255, 255])
    return encode(img, transparency=0)


def animated_gif(frames: int = 100_000) -> bytes:
    """A 2048x2048 first frame (a bar), then `frames` one-pixel frames: about 3.7 MB."""
    first = bar("P", 2048, 2048, ink=1, paper=0)
    first.putpalette([0, 0, 0, 255, 255, 255])
    second, third = first.copy(), first.copy()
    second.putpixel((0, 0), 1)
    data = encode(first, "GIF", save_all=True, append_images=[second, third], duration=10, optimize=False)
    starts = [i for i in range(len(data) - 1) if data[i: i + 2] == b"\x21\xf9"]  # graphic control blocks
    head, pair = data[: starts[1]], data[starts[1]: -1]
    return head + pair * (frames // 2) + b";"


def rle_bmp(w: int, h: int) -> bytes:
    """An 8-bit RLE BMP of a bar: Pillow decodes this format in Python."""
    left, width = w // 2 - w // 40, w // 20

    def runs(n: int, value: int) -> bytes:
        return b"".join(bytes([min(255, n - i), value]) for i in range(0, n, 255))

    stroke = runs(left, 0) + runs(width, 255) + runs(w - left - width, 0) + b"\0\0"
    blank = runs(w, 0) + b"\0\0"
    body = b"".join(stroke if h // 4 <= y < 3 * h // 4 else blank for y in range(h)) + b"\0\1"
    palette = b"".join(bytes([i, i, i, 0]) for i in range(256))
    info = struct.pack("<IiiHHIIiiII", 40, w, h, 1, 8, 1, len(body), 2835, 2835, 256, 0)
    offset = 14 + len(info) + len(palette)
    return b"BM" + struct.pack("<IHHI", offset + len(body), 0, 0, offset) + info + palette + body


def ztxt_bomb() -> bytes:
    """A small PNG carrying 63 zTXt chunks that inflate to 1 MB each (Pillow keeps text in memory)."""
    def chunk(kind: bytes, body: bytes) -> bytes:
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))

    text = zlib.compress(b"x" * (2**20 - 100), 9)
    data = encode(bar("L", 60, 60))
    return data[:33] + b"".join(chunk(b"zTXt", b"k%d\0\0" % i + text) for i in range(63)) + data[33:]


# id -> (how to make the file, what it must get: a regex of the UploadError, or of a note when converted)
CASES = {
    "rgba_png_16777216x1": (lambda: raw_png(2**24, 1, 8, 6, [b"\0" + b"\xff" * 4 * 2**24]),
                            ("error", "a side may be at most 8,192 pixels")),
    "rgba_png_1x16777216": (lambda: raw_png(1, 2**24, 8, 6, [(b"\0" + b"\xff" * 4) * 2**20] * 16),
                            ("error", "a side may be at most 8,192 pixels")),
    "grey_png_8192x256": (lambda: raw_png(8192, 256, 8, 0, [b"\0" + bytes(8192)] * 256),
                          ("error", "32 times longer than wide; at most 16")),
    "rgba_png_4096x4096": (lambda: encode(bar("RGBA", ink=(255, 255, 255, 255), paper=(0, 0, 0, 0))),
                           ("ok", "composited on black")),
    "rgba16_png_4096x4096": (rgba16_bar, ("ok", "composited on black")),
    "grey16_png_4096x4096": (lambda: encode(bar("I;16", ink=65535)), ("ok", "I;16 image")),
    "la_png_4096x4096": (lambda: encode(bar("LA", ink=(255, 255), paper=(0, 0))), ("ok", "composited on black")),
    "palette_transparent_png_4096x4096": (palette_with_transparency, ("ok", "composited on black")),
    "rgb_transparent_png_4096x4096": (lambda: encode(bar("RGB", ink=(255, 255, 255)), transparency=(0, 0, 0)),
                                      ("ok", "composited on black")),
    "one_bit_png_4096x4096": (lambda: encode(bar("1", ink=1)), ("ok", "averaged down to 512×512")),
    "png_ztxt_bomb": (ztxt_bomb, ("error", "text chunks")),
    "jpeg_8192x8192": (lambda: encode(bar("L", 8192, 8192), "JPEG"),
                       ("error", "8192×8192 pixels; the limit is 16,777,216 pixels")),
    "jpeg_4096x4096_444": (lambda: encode(bar("RGB", ink=(255,) * 3), "JPEG", subsampling=0),
                           ("ok", r"decoded at 512×512 \(JPEG reduced")),
    "jpeg_progressive_4096x4096_420": (lambda: encode(bar("RGB", ink=(255,) * 3), "JPEG", progressive=True),
                                       ("ok", "JPEG reduced")),
    "jpeg_progressive_4096x4096_444": (lambda: encode(bar("RGB", ink=(255,) * 3), "JPEG", progressive=True,
                                                      subsampling=0),
                                       ("error", r"\(RGB\) image would take about 96 MB \(a progressive or multi")),
    "jpeg_progressive_cmyk_4096x4096": (lambda: encode(bar("CMYK", ink=(0, 0, 0, 0), paper=(0, 0, 0, 255)),
                                                       "JPEG", progressive=True),
                                        ("error", "4 components")),
    "gif_100000_frames": (animated_gif, ("ok", "used the first frame")),
    "webp_4096x4096": (lambda: encode(bar("RGB", ink=(255,) * 3), "WEBP"), ("error", "16 bytes a pixel")),
    "webp_2048x2048_rgba": (lambda: encode(bar("RGBA", 2048, 2048, (255,) * 4, (0,) * 4), "WEBP", lossless=True),
                            ("ok", "composited on black")),
    "rle_bmp_4096x4096": (lambda: rle_bmp(4096, 4096), ("error", r"compressed \(RLE\) BMP")),
    "rle_bmp_1024x1024": (lambda: rle_bmp(1024, 1024), ("ok", "averaged down to 512×512")),
}


def convert_in_subprocess(path) -> dict:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    run = subprocess.run([sys.executable, str(REPO / "tests" / "upload_peak.py"), str(path)], env=env,
                         capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr[-3000:]
    return json.loads(run.stdout)


@pytest.mark.parametrize("case", CASES)
def test_hostile_upload_is_bounded(case, tmp_path):
    make, (outcome, pattern) = CASES[case]
    data = make()
    assert len(data) <= MAX_BYTES, f"the {case} file is {len(data):,} bytes: over the byte cap, it tests nothing"
    path = tmp_path / case
    path.write_bytes(data)
    got = convert_in_subprocess(path)
    assert got["growth_mb"] < GROWTH_LIMIT_MB, got
    if outcome == "error":
        assert "error" in got and re.search(pattern, got["error"]), got
    else:
        assert "error" not in got, got
        check_mnist_like(np.array(got["image"], np.uint8))
        assert any(re.search(pattern, n) for n in got["notes"]), got
