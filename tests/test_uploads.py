"""Upload conversion on generated images: MNIST's and Fashion-MNIST's recipes, and every bad input gives an
UploadError."""

from __future__ import annotations

import io

import numpy as np
import pytest
from PIL import ExifTags, Image, ImageOps

from aecompare.views.uploads import (
    EXTENSIONS,
    FORMATS,
    MAX_BYTES,
    UPLOAD_TYPES,
    UploadError,
    to_fashion_mnist,
    to_mnist,
)


def png(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=kw.pop("format", "PNG"), **kw)
    return buf.getvalue()


def dark_bar_on_white(w=200, h=300) -> Image.Image:
    a = np.full((h, w), 255, np.uint8)
    a[h // 4: 3 * h // 4, w // 2 - 10: w // 2 + 10] = 0  # a vertical stroke: a "1"
    return Image.fromarray(a, "L")


def check_mnist_like(d: np.ndarray) -> None:
    assert d.shape == (28, 28) and d.dtype == np.uint8
    ys, xs = np.nonzero(d > 25)
    assert ys.max() - ys.min() + 1 <= 21 and xs.max() - xs.min() + 1 <= 21  # fits the 20x20 box
    ys, xs = np.indices(d.shape)
    mass = d.astype(float) / d.sum()
    assert abs((ys * mass).sum() - 13.5) <= 1 and abs((xs * mass).sum() - 13.5) <= 1  # centred by mass
    assert d[0].max() == 0 and d[:, 0].max() == 0  # black background


def test_light_background_is_inverted_and_fitted():
    conv = to_mnist(png(dark_bar_on_white()))
    check_mnist_like(conv.image)
    assert conv.image.max() == 255
    assert any("inverted" in n for n in conv.notes)
    ys, _ = np.nonzero(conv.image > 25)
    assert ys.max() - ys.min() + 1 >= 19  # the tall side fills 20 pixels


def test_jpeg_rgb_and_tiny_image():
    check_mnist_like(to_mnist(png(dark_bar_on_white().convert("RGB"), format="JPEG", quality=90)).image)
    tiny = np.zeros((3, 2), np.uint8)
    tiny[1, 1] = 255
    check_mnist_like(to_mnist(png(Image.fromarray(tiny, "L"))).image)


def test_sixteen_bit_png():
    a = (np.asarray(dark_bar_on_white(), np.uint16) * 257).astype(np.uint16)
    img = Image.fromarray(a)  # uint16 -> mode I;16
    conv = to_mnist(png(img))
    check_mnist_like(conv.image)


@pytest.mark.parametrize("stroke", [0, 255])
def test_transparent_background_composited_for_contrast(stroke):
    a = np.zeros((100, 100, 4), np.uint8)
    a[20:80, 45:55] = (stroke, stroke, stroke, 255)  # opaque stroke, the rest fully transparent
    conv = to_mnist(png(Image.fromarray(a, "RGBA")))
    check_mnist_like(conv.image)
    assert any("composited" in n for n in conv.notes)


@pytest.mark.parametrize("fmt, note", [("GIF", "used the first frame"), ("PNG", "first of 2 frames"),
                                       ("WEBP", "first of 2 frames")])
def test_animated_image_uses_first_frame(fmt, note):
    # GIF frames are not counted: Pillow would walk the whole file to count them.
    frames = [dark_bar_on_white(60, 60).convert("P"), Image.new("P", (60, 60), 0)]
    buf = io.BytesIO()
    frames[0].save(buf, format=fmt, save_all=True, append_images=frames[1:], lossless=True)
    conv = to_mnist(buf.getvalue())
    check_mnist_like(conv.image)
    assert any(note in n for n in conv.notes), conv.notes
    assert conv.image.max() == 255  # the first frame (the bar), not the blank second one


def test_large_image_is_shrunk_first():
    conv = to_mnist(png(dark_bar_on_white(2000, 3000)))
    check_mnist_like(conv.image)


@pytest.mark.parametrize("data, message", [
    (b"", "empty"),
    (b"not an image at all", "not a PNG, JPEG, GIF, WebP or BMP"),
    (b"\x80\x04\x95pickle", "not a PNG, JPEG, GIF, WebP or BMP"),
    (png(Image.new("L", (50, 50), 128)), "No digit"),
    (b"0" * (MAX_BYTES + 1), "limit"),
])
def test_bad_inputs_give_messages(data, message):
    with pytest.raises(UploadError, match=message):
        to_mnist(data)


def test_truncated_png():
    data = png(dark_bar_on_white())
    with pytest.raises(UploadError):
        to_mnist(data[: len(data) // 2])


def test_decompression_bomb_is_refused_before_decoding():
    # A 20000x20000 black PNG compresses to well under the byte cap but would need 400 MB decoded.
    bomb = Image.new("1", (20000, 20000), 0)
    data = png(bomb, optimize=True)
    assert len(data) < MAX_BYTES
    with pytest.raises(UploadError, match="pixels"):
        to_mnist(data)


def seven(w=120, h=160) -> Image.Image:
    """A "7": a bar along the top and a stroke down the right, dark on white; no rotation or flip maps it
    to itself, so a wrong orientation shows."""
    a = np.full((h, w), 255, np.uint8)
    margin, stroke = w // 12, w // 6
    a[margin: margin + stroke, margin: w - margin] = 0
    a[margin: h - margin, w - margin - stroke: w - margin] = 0
    return Image.fromarray(a, "L")


def with_orientation(img: Image.Image, orientation: int, fmt="JPEG") -> bytes:
    exif = Image.Exif()
    exif[ExifTags.Base.Orientation] = orientation
    return png(img, format=fmt, exif=exif, quality=95)


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation):
    data = with_orientation(seven().rotate(90, expand=True), orientation)
    upright = ImageOps.exif_transpose(Image.open(io.BytesIO(data)))  # Pillow's reference, on the decoded pixels
    want = to_mnist(png(upright)).image
    conv = to_mnist(data)
    assert np.array_equal(conv.image, want)
    said = [n for n in conv.notes if "EXIF orientation" in n]
    assert len(said) == (orientation != 1), conv.notes
    if orientation != 1:
        unturned = to_mnist(png(Image.open(io.BytesIO(data)))).image
        assert np.abs(unturned.astype(int) - want).mean() > 10  # the test would see a missing rotation


def test_phone_photo_orientation_six_on_a_large_jpeg():
    # A 3000x4000 phone photo stored sideways: decoded at 1/8 scale, then turned upright.
    sideways = seven(3000, 4000).transpose(Image.Transpose.ROTATE_90)
    conv = to_mnist(with_orientation(sideways, 6))
    want = to_mnist(png(seven(375, 500))).image
    assert any("rotated 90° clockwise upright, as its EXIF orientation (6) says" in n for n in conv.notes), conv.notes
    assert np.abs(conv.image.astype(int) - want).mean() < 5
    check_mnist_like(conv.image)


def test_uploader_and_parser_accept_the_same_formats():
    assert FORMATS == tuple(EXTENSIONS) == ("PNG", "JPEG", "GIF", "WEBP", "BMP")
    assert set(UPLOAD_TYPES) == {"png", "jpg", "jpeg", "gif", "webp", "bmp"}
    registered = Image.registered_extensions()
    assert all(registered["." + ext] == fmt for fmt, exts in EXTENSIONS.items() for ext in exts)


@pytest.mark.parametrize("fmt", ["GIF", "WEBP", "BMP"])
def test_gif_webp_bmp_convert(fmt):
    img = dark_bar_on_white()
    conv = to_mnist(png(img.convert("P") if fmt == "GIF" else img, format=fmt, lossless=True))
    check_mnist_like(conv.image)
    assert np.abs(conv.image.astype(int) - to_mnist(png(img)).image).mean() < 3


def _your_digit_tab(dataset: str = "mnist"):
    """The "Your digit" tab alone, with no model chosen (AppTest runs this function as a script)."""
    from types import SimpleNamespace

    from aecompare.data import DATASETS
    from aecompare.views import your_digit
    from aecompare.views.state import ViewState

    your_digit.show(SimpleNamespace(runs=[], state=ViewState(dataset=dataset), dataset=DATASETS[dataset]))


def test_uploader_offers_the_formats_and_converts_a_webp():
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_function(_your_digit_tab, default_timeout=60).run()  # 3 s by default: too tight on busy cores
    uploader = at.get("file_uploader")[0]
    assert uploader.allowed_type == ["." + ext for ext in UPLOAD_TYPES]
    assert "PNG, JPEG, GIF, WebP or BMP" in uploader.label
    uploader.upload("digit.webp", png(dark_bar_on_white(), format="WEBP", lossless=True), "image/webp").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any("Converted as MNIST was made" in c.value for c in at.caption)
    at.get("file_uploader")[0].set_value(("wide.png", png(Image.new("L", (8000, 100))), "image/png")).run()
    assert [e.value for e in at.error] == ["wide.png: The image is 8000×100 pixels, 80 times longer than wide; "
                                           "at most 16 times is accepted. Crop it closer around what it shows."]


def _small_files() -> dict[str, bytes]:
    """One small file per format and kind, a "1" on 24x32 (animations with a second frame)."""
    img = dark_bar_on_white(24, 32)
    second = [img.rotate(90)]
    return {"png": png(img), "apng": png(img, save_all=True, append_images=second),
            "gif": png(img.convert("P"), format="GIF", save_all=True, append_images=[second[0].convert("P")]),
            "jpeg": png(img, format="JPEG"), "progressive jpeg": png(img, format="JPEG", progressive=True),
            "webp": png(img, format="WEBP", save_all=True, append_images=second, lossless=True),
            "bmp": png(img, format="BMP"), "palette png": png(img.convert("P"), transparency=0)}


@pytest.mark.parametrize("kind", list(_small_files()))
def test_every_truncation_gives_a_message_or_a_digit(kind):
    data = _small_files()[kind]
    for end in range(len(data)):
        try:
            check_mnist_like(to_mnist(data[:end]).image)
        except UploadError:
            pass


def test_jpeg_draft_is_noted_only_when_it_reduces():
    assert not any("decoded at" in n for n in to_mnist(png(dark_bar_on_white(600, 900), format="JPEG")).notes)
    conv = to_mnist(png(dark_bar_on_white(1200, 1800).convert("CMYK"), format="JPEG"))
    check_mnist_like(conv.image)
    assert "decoded at 600×900 (JPEG reduced from 1200×1800)" in conv.notes


def catalogue_photo(x: np.ndarray, zoom: int = 8) -> bytes:
    """A Fashion-MNIST image as a shop would photograph it: dark on white, large, off centre, JPEG."""
    img = Image.fromarray(255 - x, "L").resize((28 * zoom, 28 * zoom), Image.Resampling.NEAREST)
    canvas = Image.new("L", (28 * zoom + 100, 28 * zoom + 60), 255)
    canvas.paste(img, (30, 50))
    return png(canvas.convert("RGB"), format="JPEG", quality=95)


def test_a_catalogue_photo_comes_back_as_its_fashion_mnist_image():
    """Fashion-MNIST's recipe undoes a catalogue photo of one of its own test images (trim, fit the longest side to
    28, centre, negate); MNIST's recipe (20x20 box, centre of mass) does not, which is why each dataset has its."""
    from aecompare.data import load_test_set

    test = load_test_set("fashion-mnist")
    for x in test.x[:10]:
        conv = to_fashion_mnist(catalogue_photo(x))
        assert conv.image.shape == (28, 28) and conv.image.dtype == np.uint8
        assert ((conv.image / 255 - x / 255) ** 2).mean() < 0.005
        assert ((to_mnist(catalogue_photo(x)).image / 255 - x / 255) ** 2).mean() > 0.01
        assert any("negated" in n for n in conv.notes)
    dark = np.zeros((40, 30), np.uint8)
    dark[5:35, 10:20] = 200  # already bright on black: kept so, trimmed and fitted
    conv = to_fashion_mnist(png(Image.fromarray(dark, "L")))
    cols = np.flatnonzero(conv.image.any(axis=0))
    assert not conv.notes and (cols[0], cols[-1]) == (10, 18) and conv.image.any(axis=1).all()  # 30x10 -> 28x9
    assert conv.image[:, 12:17].min() == 200  # its grey kept
    with pytest.raises(UploadError, match="one flat colour"):
        to_fashion_mnist(png(Image.new("L", (50, 50), 240)))


def test_the_tab_converts_an_upload_the_way_the_chosen_dataset_was_made():
    from streamlit.testing.v1 import AppTest

    from aecompare.data import load_test_set

    at = AppTest.from_function(_your_digit_tab, args=("fashion-mnist",), default_timeout=60).run()
    assert at.subheader[0].value == "Your image" and "Photograph a garment" in at.caption[0].value
    at.get("file_uploader")[0].upload("boot.jpg", catalogue_photo(load_test_set("fashion-mnist").x[0]),
                                      "image/jpeg").run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert any(c.value.startswith("Converted as Fashion-MNIST was made") for c in at.caption)
