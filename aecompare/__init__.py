"""aecompare: MNIST autoencoders for each output-activation/loss pair, trained, evaluated and compared.

Importing the package first (`python -m aecompare.evaluate`, `python -m aecompare.train`) pins numpy's OpenBLAS to
its AVX2 ("Haswell") kernels on x86-64, before numpy loads: OpenBLAS chooses kernels by CPU, and its AVX-512 ones
add float32 products in another order, which moves a linear probe's accuracy by a few test images. Pinned, the
stored results reproduce to the last digit on any x86-64 CPU (tests/test_results.py recomputes them). A process
that imported numpy before this package (the dashboard, the benchmarks) keeps OpenBLAS's own choice.
"""

import os
import platform
import sys

if "numpy" not in sys.modules and platform.machine().lower() in ("x86_64", "amd64"):
    os.environ.setdefault("OPENBLAS_CORETYPE", "Haswell")
