"""Your digit: upload an image (converted the way the chosen dataset was made) or pick a test image; every model
reconstructs it."""

from __future__ import annotations

import numpy as np
import streamlit as st

from .common import Context, image_grid, scale_note, show_grid
from .images import to_display, upscale
from .uploads import FORMAT_NAMES, MAX_BYTES, UPLOAD_TYPES, UploadError, to_fashion_mnist, to_mnist

UPLOADS = {  # dataset -> (its conversion, what the conversion did, what to upload)
    "mnist": (to_mnist, "Converted as MNIST was made: grey, white digit on black, fitted into 20×20 keeping its "
                        "aspect, centred by its centre of mass in 28×28.",
              "Draw a digit (dark on light or light on dark)"),
    "fashion-mnist": (to_fashion_mnist, "Converted as Fashion-MNIST was made: grey, the edges of the corners' "
                                        "colour trimmed, the longest side fitted to 28 keeping the aspect, centred "
                                        "in 28×28, a light background negated to black.",
                      "Photograph a garment, a shoe or a bag on a plain light background, as in a shop's catalogue"),
}


def render_outputs(digit_unit: np.ndarray, runs, zoom: int, stretch: bool, raw_output: bool = False) -> None:
    """The digit (784,) on [0, 1] and each model's reconstruction, as many per row as fit, with its MSE."""
    x = digit_unit.reshape(1, 784).astype(np.float32)
    outputs = {r.name: r.reconstruct(x, raw_output=raw_output) for r in runs}
    lead = ("input", to_display(x[0]), "28×28")
    show_grid(image_grid(lead, [(name, to_display(y[0], stretch), f"MSE {float(((y - x) ** 2).mean()):.4f}")
                                for name, y in outputs.items()], zoom))
    st.caption("Outputs on the 0-1 (0-255) display, clipped" + (", each stretched to its own range" if stretch
               else "") + "; MSE on the [0, 1] scale.\n"
               + "\n".join(f"- **{r.name}**: {scale_note(r, outputs[r.name], raw_output)}" for r in runs))


def show(ctx: Context) -> None:
    item = ctx.dataset.item
    convert, converted, prompt = UPLOADS[ctx.state.dataset]
    st.subheader(f"Your {item}")
    source = st.radio(f"{item.capitalize()} from", ("an image you upload", "the test set"), horizontal=True,
                      key="yd_source")
    digit = None
    if source == "the test set":
        if ctx.test is None:
            st.info("The test images are not available (see the message above); upload an image instead.")
        else:
            i = st.number_input("Test index (0-9999)", 0, len(ctx.test.x) - 1, 0, key="yd_index")
            digit = ctx.images([int(i)])[0]
            st.caption(f"Test {item} #{int(i)}, true label {ctx.dataset.classes[int(ctx.test.y[int(i)])]}.")
    else:
        up = st.file_uploader(f"{FORMAT_NAMES}, up to {MAX_BYTES // 2**20} MB", type=list(UPLOAD_TYPES),
                              key="yd_upload")
        if up is not None:
            try:
                conv = convert(up.getvalue())
            except UploadError as e:
                st.error(f"{up.name}: {e}")
            else:
                digit = conv.image.reshape(784).astype(np.float32) / 255
                st.caption(converted + (" Also: " + "; ".join(conv.notes) + "." if conv.notes else ""))
        else:
            st.caption(f"{prompt}, save it as {FORMAT_NAMES} and upload it (animations: the first frame; phone "
                       "photos are turned upright).")
    if digit is None:
        return
    if not ctx.runs:
        st.image(upscale(to_display(digit), ctx.state.zoom), caption="input (28×28)", width=28 * ctx.state.zoom)
        st.info("No model chosen: pick models in the sidebar to see their reconstructions.")
        return
    render_outputs(digit, ctx.runs, ctx.state.zoom, ctx.state.stretch, ctx.state.cb_lambda)
