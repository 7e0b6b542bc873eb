"""Convert one upload in a fresh process and print, as JSON, what it got and how much the process grew.

    python tests/upload_peak.py FILE

The baseline is the peak resident size after the imports, a warm-up conversion (Pillow loads its
plugins lazily) and reading FILE; the growth is the peak after `to_mnist` minus it, in MB (2**20
bytes). Run alone in its process, so that the peak belongs to this upload only. The peak is VmHWM
where Linux has it: ru_maxrss survives exec, so a child started by a big pytest process would report
its parent's size and every growth would read 0.
"""

from __future__ import annotations

import io
import json
import resource
import sys
import time

import numpy as np
from PIL import Image

from aecompare.views.uploads import UploadError, to_mnist


def peak_mb() -> float:
    """This process's peak resident size in MB (VmHWM, else ru_maxrss)."""
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:")) / 1024  # kB
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux reports KiB


def main(path: str) -> dict:
    warm = io.BytesIO()
    Image.fromarray(np.eye(40, dtype=np.uint8) * 255).save(warm, "PNG")
    to_mnist(warm.getvalue())
    with open(path, "rb") as f:
        data = f.read()
    before, start = peak_mb(), time.perf_counter()
    try:
        conv = to_mnist(data)
        out = {"notes": conv.notes, "image": conv.image.tolist()}
    except UploadError as e:
        out = {"error": str(e)}
    out["growth_mb"] = round(peak_mb() - before, 1)
    out["seconds"] = round(time.perf_counter() - start, 2)
    return out


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
