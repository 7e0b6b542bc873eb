"""A broken or tampered models/ folder (issue 10, items 4-9), on real tiny trained models and real files.

Each case damages one run of a copy of `tiny_models` (conftest: 4 real Keras models, 2 epochs) the way
a bad merge, a half-copied folder or somebody else's file would, and returns what the catalog must say.
For every case, in a fresh subprocess (so that ru_maxrss is that case's alone), the catalog loads the
clean copy and then the damaged one, and the test checks: every other run loads; there is exactly one
message, naming the file and saying what is wrong; no file outside the folder is opened; h5py is never
imported; memory grows by less than 200 MB over the clean load. `python -m aecompare.evaluate` exits 1
naming each damaged file, with no traceback (slow: one run over a folder holding one damaged copy of the
run per case, and one per case that damages the manifest itself). The old format (model.keras) and its
converter, `python -m aecompare.train --upgrade`, are tested at the end.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import os
import re
import shutil
import struct
import subprocess
import sys
import zipfile
import zlib
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from aecompare.maths.network import ACTIVATIONS
from aecompare.maths.pixel_losses import LOSSES
from aecompare.registry import OPTIMIZERS, REGISTRY, SCALES, Experiment
from aecompare.store import artifacts, schema
from aecompare.store.catalog import load_catalog

from conftest import REPO, TINY_NAMES

TARGET = "q3-sigmoid-mse"  # 784-100-50-100-784: the smallest of the tiny models
MEMORY_LIMIT_MB = 200
TIMEOUT = 600


# ---------------------------------------------------------------- what a case returns


@dataclasses.dataclass(frozen=True)
class Expect:
    """The one message a case must produce: it names `culprit` and contains each of `words`."""

    culprit: Path
    words: tuple[str, ...]
    victim_loads: bool = False  # the damaged run itself still loads (a duplicate: the first entry is used)
    manifest: bool = False  # the manifest itself is unusable: no run loads, and no folder is reported


CASES: dict[str, Callable[[Path, int], Expect]] = {}


def case(fn=None, *, name: str | None = None):
    """Register a case: a function (models folder, seed of the TARGET run to damage) -> Expect."""
    def register(f):
        CASES[name or f.__name__] = f
        return f
    return register(fn) if fn else register


# ---------------------------------------------------------------- helpers on a models folder


def read_doc(models: Path) -> dict:
    return json.loads((models / "manifest.json").read_text())


def write_doc(models: Path, doc: dict) -> None:
    (models / "manifest.json").write_text(json.dumps(doc, indent=1))


def entry(models: Path, seed: int, name: str = TARGET) -> dict:
    return next(e for e in read_doc(models)["models"] if isinstance(e, dict) and (e["name"], e["seed"]) == (name, seed))


def run_dir(models: Path, seed: int, name: str = TARGET) -> Path:
    return models / entry(models, seed, name)["path"]


def edit_entry(models: Path, seed: int, edit: Callable[[dict], None], name: str = TARGET) -> None:
    """Change a run's entry in place (as a hand edit or a bad merge would)."""
    doc = read_doc(models)
    for e in doc["models"]:
        if isinstance(e, dict) and (e["name"], e["seed"]) == (name, seed):  # other cases' damage is left alone
            edit(e)
    write_doc(models, doc)


def rehash(models: Path, seed: int) -> None:
    """Record the run's current files in the manifest: the damage was committed, not an accident."""
    run = run_dir(models, seed)
    edit_entry(models, seed, lambda e: e.update(files={f: artifacts.sha256_file(run / f) for f in e["files"]}))


def clone_run(models: Path, seed: int) -> None:
    """Add another seed of TARGET, a copy of seed 0 (entry, folder, history's experiment), so that one folder
    can hold one damaged run per case."""
    source = entry(models, 0)
    stamp = source["path"].rsplit("-", 1)[1]
    path = f"{TARGET}/seed-{seed}-{stamp}"
    shutil.copytree(models / source["path"], models / path)
    experiment = {**source["experiment"], "seed": seed}
    history = json.loads((models / path / "history.json").read_text())
    history["experiment"] = experiment
    (models / path / "history.json").write_text(json.dumps(history, indent=1))
    doc = read_doc(models)
    doc["models"].append({**source, "seed": seed, "path": path, "experiment": experiment})
    write_doc(models, doc)
    rehash(models, seed)


def edit_history(models: Path, seed: int, edit: Callable[[dict], None]) -> Path:
    path = run_dir(models, seed) / "history.json"
    record = json.loads(path.read_text())
    edit(record)
    path.write_text(json.dumps(record))
    rehash(models, seed)
    return path


def edit_npz(models: Path, seed: int, file: str, edit: Callable[[dict], None]) -> Path:
    """Rewrite one of the run's npz files with `edit` applied to its arrays (np.savez: pickles objects)."""
    path = run_dir(models, seed) / file
    with np.load(path, allow_pickle=False) as f:
        arrays = {k: f[k] for k in f.files}
    edit(arrays)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    path.write_bytes(buf.getvalue())
    rehash(models, seed)
    return path


# ---------------------------------------------------------------- zip archives byte by byte (bombs)


def npy_bytes(array: np.ndarray) -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array(buf, array, allow_pickle=False)
    return buf.getvalue()


def npy_header(dtype: str, shape: tuple) -> bytes:
    """An npy header alone: it may declare any shape, whatever data follows."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": dtype, "fortran_order": False, "shape": shape})
    return buf.getvalue()


def deflate(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    return c.compress(data) + c.flush()


ZERO_BLOCK = 1 << 24


def deflated_zeros(prefix: bytes, zeros: int) -> bytes:
    """Raw deflate of `prefix` and then `zeros` zero bytes, in milliseconds at any size: one compressed 16 MiB
    block of zeros, repeated (after a full flush, deflate never refers back past the flush)."""
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [c.compress(prefix) + c.flush(zlib.Z_FULL_FLUSH)]
    z = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = z.compress(bytes(ZERO_BLOCK)) + z.flush(zlib.Z_FULL_FLUSH)
    whole, rest = divmod(zeros, ZERO_BLOCK)
    parts += [block] * whole
    r = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts.append(r.compress(bytes(rest)) + r.flush())
    return b"".join(parts)


def raw_zip(members: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip archive of (name, raw deflate data, crc32, declared uncompressed size), so that a member may declare
    any size: what zipfile and np.load believe."""
    out, central = io.BytesIO(), []
    for name, data, crc, size in members:
        offset, n = out.tell(), name.encode()
        out.write(struct.pack("<4s5H3L2H", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(data), size, len(n), 0) + n + data)
        central.append(struct.pack("<4s6H3L5H2L", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(data), size, len(n),
                                   0, 0, 0, 0, 0, offset) + n)
    directory, start = b"".join(central), out.tell()
    out.write(directory + struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, len(members), len(members), len(directory),
                                      start, 0))
    return out.getvalue()


def honest_member(name: str, array: np.ndarray) -> tuple[str, bytes, int, int]:
    data = npy_bytes(array)
    return f"{name}.npy", deflate(data), zlib.crc32(data), len(data)


def bomb_member(name: str, header: bytes, zeros: int, declared: int | None = None) -> tuple[str, bytes, int, int]:
    """`header` then `zeros` zero bytes, deflated; declaring its true size unless `declared` says otherwise."""
    return f"{name}.npy", deflated_zeros(header, zeros), zlib.crc32(header), declared or len(header) + zeros


def npz_with(models: Path, seed: int, file: str, replace: dict) -> Path:
    """Rewrite an npz of the run by hand: its real arrays, with members of `replace` (name -> member) instead."""
    path = run_dir(models, seed) / file
    with np.load(path, allow_pickle=False) as f:
        members = [replace.get(k) or honest_member(k, f[k]) for k in f.files]
    path.write_bytes(raw_zip(members))
    rehash(models, seed)
    return path


# ---------------------------------------------------------------- 4, 9: the manifest and its entries


def _manifest_case(models: Path, text: str, *words: str) -> Expect:
    (models / "manifest.json").write_text(text)
    return Expect(models / "manifest.json", words, manifest=True)


@case
def manifest_nested_100000_levels(models, seed):
    """Valid JSON: the parser stops at Python's recursion limit (a RecursionError on every page before)."""
    doc = read_doc(models)
    text = json.dumps(doc)[:-1] + ', "notes": ' + "[" * 100_000 + "]" * 100_000 + "}"
    return _manifest_case(models, text, "not a valid manifest", "nests 100,001 levels deep")


@case
def manifest_not_an_object(models, seed):
    return _manifest_case(models, "[]", "not a valid manifest", "is a list of 0 items, not an object")


@case
def manifest_models_not_a_list(models, seed):
    return _manifest_case(models, '{"format": 1, "models": {"a": 1}}', "models is an object, not a list")


@case
def manifest_of_another_format(models, seed):
    return _manifest_case(models, json.dumps({**read_doc(models), "format": 2}), "format is 2, not 1")


@case
def manifest_of_5_mb(models, seed):
    """Valid JSON padded to 5 MB: refused by its size, before it is read."""
    return _manifest_case(models, json.dumps(read_doc(models)) + " " * 5_000_000, "bytes, more than the")


@case
def manifest_a_link(models, seed):
    outside = models.parent / "outside-manifest.json"
    shutil.move(models / "manifest.json", outside)
    (models / "manifest.json").symlink_to(outside)
    return Expect(models / "manifest.json", ("symbolic link", "never followed"), manifest=True)


@case
def entry_not_an_object(models, seed):
    doc = read_doc(models)
    doc["models"].append(["not", "an", "entry"])
    write_doc(models, doc)
    return Expect(models / "manifest.json", ("an entry that is not an object", "a list of 3 items"),
                  victim_loads=True)


@case
def duplicate_entry(models, seed):
    """The same name and seed twice: the first entry is used, one message for the other."""
    doc = read_doc(models)
    doc["models"].append(entry(models, seed))
    write_doc(models, doc)
    return Expect(models / "manifest.json", (f"lists {TARGET} seed {seed} more than once", "the first entry is used"),
                  victim_loads=True)


MARKUP_NAMES = {
    "markdown_image": "![x](http://host/track.png)",
    "formula_equals": '=HYPERLINK("http://host","x")',
    "formula_plus": "+cmd",
    "formula_minus": "-2+3",
    "formula_at": "@SUM(A1)",
    "uppercase": "Norm-Sigmoid-MSE",
    "too_long": "a" * 65,
}


def _named(markup: str):
    def rename(models, seed):
        """A name outside the safe pattern (the entry and its experiment both say it): refused, shown inert."""
        def edit(e):
            e["name"] = e["experiment"]["name"] = markup
        edit_entry(models, seed, edit)
        return Expect(models / "manifest.json", ("invalid name", "a model name of lowercase letters"))
    return rename


for _key, _markup in MARKUP_NAMES.items():
    case(_named(_markup), name=f"name_{_key}")


def _bad_entry(field: str | tuple, value, *words: str):
    """The TARGET entry with one field (a dotted path into it, or a tuple of keys) set to `value`."""
    def damage(models, seed):
        def edit(e):
            *parents, last = field if isinstance(field, tuple) else field.split(".")
            target = e
            for p in parents:
                target = target[p]
            if value is KeyError:
                del target[last]
            else:
                target[last] = value
        edit_entry(models, seed, edit)
        who = f"{TARGET} seed {seed}" if field != "seed" else f"{TARGET} has"
        return Expect(models / "manifest.json", (who, *words))
    return damage


BAD_ENTRIES = {  # field: (value, words of the message)
    "unknown_loss": ("experiment.loss", "huber",
                     "invalid experiment.loss: 'huber', expected one of " + ", ".join(sorted(LOSSES))),
    "unknown_scale": ("experiment.scale", "zscore", "invalid experiment.scale: 'zscore', expected one of norm, raw"),
    "unknown_activation": ("experiment.activation", "tanh", "'tanh', expected one of linear, relu, sigmoid, softmax"),
    "unknown_hidden_activation": ("experiment.arch.hidden_activation", "gelu", "hidden_activation: 'gelu'"),
    "unknown_optimizer": ("experiment.optimizer.name", "rmsprop", "'rmsprop', expected one of adam, sgd"),
    "seed_a_string": ("seed", "0", "invalid seed: '0', expected an integer"),
    "epochs_true": ("experiment.epochs", True, "invalid experiment.epochs: true, expected an integer"),
    "width_a_string": ("experiment.arch.hidden", [100, "50", 100], "invalid experiment.arch.hidden[1]: '50'"),
    "learning_rate_a_string": ("experiment.optimizer.learning_rate", "fast", "'fast', expected a finite number"),
    "epochs_too_many": ("experiment.epochs", 10**6, "1000000, expected an integer from 1 to 1000"),
    "no_experiment": ("experiment", KeyError, "invalid experiment: missing"),
    "experiment_extra_field": ("experiment.code", "import os", "has an unexpected field experiment.code"),
    "experiment_of_another_model": ("experiment.name", "norm-sigmoid-bce", f"expected '{TARGET}', the entry's name"),
    "no_weights_checksum": (("files", "weights.npz"), KeyError, "invalid files.weights.npz: missing"),
    "checksum_not_hex": (("files", "weights.npz"), "x" * 64, "expected a sha256"),
}
for _key, _args in BAD_ENTRIES.items():
    case(_bad_entry(*_args), name=f"entry_{_key}")


@case
def entry_net_too_large(models, seed):
    """An experiment of 16 layers of 4,096 units (268 M weights): refused before any file is sized by it."""
    edit_entry(models, seed, lambda e: e["experiment"]["arch"].update(hidden=[4096] * 16))
    return Expect(models / "manifest.json", (f"{TARGET} seed {seed}", "weights, more than the 4,000,000 allowed"))


@case
def path_not_name_seed_stamp(models, seed):
    """The folder and the entry's path agree, but the path is not `<name>/seed-<seed>-<stamp>`."""
    old = run_dir(models, seed)
    new = old.with_name(f"seed-{seed + 1000}-{old.name.rsplit('-', 1)[1]}")
    old.rename(new)
    edit_entry(models, seed, lambda e: e.update(path=f"{TARGET}/{new.name}"))
    return Expect(models / "manifest.json", ("invalid path", f"expected {TARGET}/seed-{seed}-YYYYmmddTHHMMSS"))


# ---------------------------------------------------------------- 4, 5: weights.npz


def _weights(edit: Callable[[dict], None], *words: str):
    def damage(models, seed):
        return Expect(edit_npz(models, seed, "weights.npz", edit), words)
    return damage


def _set(key, value):
    return lambda arrays: arrays.__setitem__(key, value(arrays[key]) if callable(value) else value)


WEIGHTS = {
    "missing_bias": (lambda a: a.pop("bias_3"), "lacks bias_3.npy"),
    "extra_array": (_set("evil", np.zeros(3, np.float32)), "holds unexpected evil.npy"),
    "fewer_layers": (lambda a: (a.pop("kernel_3"), a.pop("bias_3")), "lacks kernel_3.npy, bias_3.npy"),
    "more_layers": (lambda a: a.update(kernel_4=np.zeros((784, 10), np.float32), bias_4=np.zeros(10, np.float32)),
                    "holds unexpected kernel_4.npy, bias_4.npy"),
    "kernel_wrong_shape": (_set("kernel_1", lambda k: k[:, :49].copy()), "kernel_1 is float32 of shape (100, 49)"),
    "kernel_1d": (_set("kernel_0", lambda k: k.ravel()),
                  "kernel_0 is float32 of shape (78400,), not float32 of shape (784, 100)"),
    "bias_wrong_shape": (_set("bias_0", lambda b: b[:99].copy()),
                         "bias_0 is float32 of shape (99,), not float32 of shape (100,)"),
    "float64": (_set("kernel_2", lambda k: k.astype(np.float64)), "kernel_2 is float64 of shape (50, 100)"),
    "int32": (_set("bias_2", lambda b: b.astype(np.int32)), "bias_2 is int32"),
    "object_pickled": (_set("bias_1", lambda b: np.array(list(b), dtype=object)), "bias_1 is object of shape (50,)"),
    "big_endian": (_set("kernel_0", lambda k: k.astype(">f4")), "kernel_0 is float32 big-endian of shape (784, 100)"),
    "fortran_order": (_set("kernel_0", np.asfortranarray), "kernel_0 is float32 of shape (784, 100) (Fortran order)"),
    "nan_kernel": (_set("kernel_1", lambda k: np.where(k > 0, np.nan, k).astype(np.float32)),
                   "kernel_1 is holding NaN"),
    "inf_bias": (_set("bias_3", lambda b: np.full_like(b, np.inf)), "bias_3 is holding NaN or infinite values"),
}
for _key, (_edit, *_words) in WEIGHTS.items():
    case(_weights(_edit, *_words), name=f"weights_{_key}")


@case
def weights_empty_file(models, seed):
    path = run_dir(models, seed) / "weights.npz"
    path.write_bytes(b"")
    rehash(models, seed)
    return Expect(path, ("not a readable npz file",))


@case
def weights_gzip_bomb_784x400000(models, seed):
    """The issue's 784 x 400,000 float32 zeros (1.25 GB), deflated to 1.2 MB: refused by the file's size."""
    path = npz_with(models, seed, "weights.npz", {"kernel_0": bomb_member(
        "kernel_0", npy_header("<f4", (784, 400_000)), 784 * 400_000 * 4)})
    assert path.stat().st_size > 1_000_000
    return Expect(path, ("bytes, more than the", "it is not read"))


@case
def weights_bomb_under_the_size_limit(models, seed):
    """784 x 100,000 zeros (314 MB) deflated to 0.3 MB, the file small enough to pass its size limit: refused by
    its npy header, before its data is decompressed."""
    header = npy_header("<f4", (784, 100_000))
    path = npz_with(models, seed, "weights.npz", {"kernel_0": bomb_member("kernel_0", header, 784 * 100_000 * 4)})
    assert path.stat().st_size <= artifacts.weights_limit(Experiment.from_dict(entry(models, seed)["experiment"]))
    return Expect(path, ("kernel_0 is float32 of shape (784, 100000), not float32 of shape (784, 100)",))


@case
def weights_member_declares_314_mb(models, seed):
    """The right header, and the zip declaring the member 314 MB (deflated zeros behind): refused before reading."""
    header = npy_header("<f4", (784, 100))
    member = bomb_member("kernel_0", header, 784 * 100_000 * 4)
    path = npz_with(models, seed, "weights.npz", {"kernel_0": member})
    return Expect(path, (f"kernel_0 is declared as {member[3]:,} bytes uncompressed, not {len(header) + 313_600:,}",))


@case
def weights_header_declares_a_huge_array(models, seed):
    """An npy header declaring 784 x 150,000 floats, and no data: np.load would allocate 470 MB for it."""
    header = npy_header("<f4", (784, 150_000))
    member = ("kernel_0.npy", deflate(header), zlib.crc32(header), len(header))
    return Expect(npz_with(models, seed, "weights.npz", {"kernel_0": member}),
                  ("kernel_0 is float32 of shape (784, 150000), not float32 of shape (784, 100)",))


@case
def weights_bomb_declaring_the_right_size(models, seed):
    """A right header and declared size, and 314 MB of deflated data behind: reading stops at the declared size."""
    header = npy_header("<f4", (784, 100))
    member = bomb_member("kernel_0", header, 784 * 100_000 * 4, declared=len(header) + 784 * 100 * 4)
    return Expect(npz_with(models, seed, "weights.npz", {"kernel_0": member}), ("not a readable npz file", "CRC"))


# ---------------------------------------------------------------- 5, 7: history.json


def _history(edit: Callable[[dict], None], *words: str):
    def damage(models, seed):
        return Expect(edit_history(models, seed, edit), words)
    return damage


def _row(i: int, **changes):
    return lambda r: r["epochs"][i].update(changes)


HISTORIES = {
    "without_diverged_epoch": (lambda r: r.pop("diverged_epoch"), "diverged_epoch is missing"),
    "row_without_epoch": (lambda r: r["epochs"][0].pop("epoch"), "epochs[0].epoch is missing"),
    "epochs_not_increasing": (_row(1, epoch=1), "epochs[1].epoch is 1, not 2"),
    "epochs_empty": (lambda r: r.update(epochs=[]), "epochs is a list of 0 items, not a list of 2 items"),
    "loss_true": (_row(1, val_loss=True), "epochs[1].val_loss is true, not a finite number"),
    "loss_a_string": (_row(0, train_loss="0.5"), "epochs[0].train_loss is '0.5', not a finite number"),
    "loss_missing": (lambda r: r["epochs"][1].pop("val_mse"), "epochs[1].val_mse is missing"),
    "mse_negative": (_row(0, val_mse=-0.5), "epochs[0].val_mse is -0.5, not a finite number from 0"),
    "layer_units_wrong": (lambda r: r["epochs"][1]["layers"][0].update(units=99), "epochs[1].layers[0].units is 99"),
    "layer_row_missing": (lambda r: r["initial"]["layers"].pop(),
                          "initial.layers is a list of 3 items, not a list of 4"),
    "layer_name_wrong": (lambda r: r["epochs"][0]["layers"][1].update(layer="hidden_2"),
                         "layers[1].layer is 'hidden_2'"),
    "dead_units_above_units": (lambda r: r["epochs"][0]["layers"][2].update(dead_units=101), "dead_units is 101"),
    "diverged_but_every_epoch_listed": (lambda r: r.update(diverged_epoch=2), "a list of 2 items, not a list of 1"),
    "experiment_not_the_manifests": (lambda r: r["experiment"].update(epochs=3), "experiment is an object, not the"),
}
for _key, (_edit, *_words) in HISTORIES.items():
    case(_history(_edit, *_words), name=f"history_{_key}")


@case
def history_a_list(models, seed):
    path = run_dir(models, seed) / "history.json"
    path.write_text("[1, 2, 3]")
    rehash(models, seed)
    return Expect(path, ("the document is a list of 3 items, not an object",))


@case
def history_nested_9000_levels(models, seed):
    """Valid JSON nested 9,000 levels (beyond Python's recursion limit: a RecursionError in every tab before),
    in a history small enough to pass its size limit: refused on the text, before parsing."""
    path = run_dir(models, seed) / "history.json"
    path.write_text(path.read_text().rstrip()[:-1] + ', "notes": ' + "[" * 9_000 + "]" * 9_000 + "}")
    rehash(models, seed)
    return Expect(path, ("nests 9,001 levels deep", "it was not parsed"))


@case
def history_nested_100000_levels(models, seed):
    """The issue's 100,000 levels: 200 KB, over the 24 KB a 2-epoch run's history may take (a 100-epoch run's
    limit is 370 KB: there the depth check refuses it, see test_parse_json_refuses_deep_nesting_unparsed)."""
    path = run_dir(models, seed) / "history.json"
    path.write_text(path.read_text().rstrip()[:-1] + ', "notes": ' + "[" * 100_000 + "]" * 100_000 + "}")
    rehash(models, seed)
    return Expect(path, ("bytes, more than the", "it is not read"))


@case
def history_a_number_of_5000_digits(models, seed):
    path = run_dir(models, seed) / "history.json"
    path.write_text(path.read_text().rstrip()[:-1] + ', "n": ' + "9" * 5000 + "}")
    rehash(models, seed)
    return Expect(path, ("not valid JSON",))


@case
def history_loss_1e400(models, seed):
    """1e400 is valid JSON, and Python reads it as inf."""
    path = run_dir(models, seed) / "history.json"
    text = path.read_text()
    path.write_text(re.sub(r'"val_loss": ?[-0-9.e]+', '"val_loss": 1e400', text, count=1))
    rehash(models, seed)
    return Expect(path, ("epochs[0].val_loss is inf, not a finite number",))


@case
def history_of_147_mb(models, seed):
    """Valid JSON of 147 MB (tabs took 18-29 s over it before): refused by its size, before it is read."""
    path = run_dir(models, seed) / "history.json"
    record = path.read_text()
    with open(path, "w") as f:
        f.write(record[:-1] + ', "padding": "')
        for _ in range(147):
            f.write("x" * 1_000_000)
        f.write('"}')
    rehash(models, seed)
    return Expect(path, ("bytes, more than the", "it is not read"))


# ---------------------------------------------------------------- 5, 7: probes.npz


def _probes(edit: Callable[[dict], None], *words: str):
    def damage(models, seed):
        return Expect(edit_npz(models, seed, "probes.npz", edit), words)
    return damage


PROBES = {
    "pixels_wrong_shape": (_set("pixels", lambda p: p[:, :, :783].copy()), "pixels is uint8 of shape (3, 20, 783)"),
    "one_epoch_too_many": (_set("pixels", lambda p: np.concatenate([p, p[-1:]])),
                           "pixels is uint8 of shape (4, 20, 784), not uint8 of shape (3, 20, 784)"),
    "pixels_float": (_set("pixels", lambda p: p.astype(np.float32)), "pixels is float32 of shape (3, 20, 784)"),
    "lo_above_hi": (lambda a: a.update(lo=a["hi"] + 1), "lo is above hi"),
    "index_outside_the_test_set": (_set("index", lambda i: i + 10_000), "index is holding values from"),
    "label_10": (_set("labels", lambda y: np.full_like(y, 10)), "labels is holding values from 10 to 10"),
    "no_arrays": (lambda a: a.clear(), "lacks index.npy, labels.npy, pixels.npy, lo.npy, hi.npy"),
    "lo_nan": (_set("lo", lambda lo: np.full_like(lo, np.nan)), "lo is holding NaN"),
    "epochs_not_the_kept_ones": (_set("epochs", lambda e: e[::-1].copy()), "its epochs are not the kept epochs"),
}
for _key, (_edit, *_words) in PROBES.items():
    case(_probes(_edit, *_words), name=f"probes_{_key}")


@case
def probes_bomb_of_1_5_mb(models, seed):
    """The issue's probes.npz of 1.5 MB inflating to 1.6 GB: refused by its size, before it is read."""
    path = npz_with(models, seed, "probes.npz", {"pixels": bomb_member(
        "pixels", npy_header("|u1", (100_000, 20, 784)), 100_000 * 20 * 784)})
    assert path.stat().st_size > 1_400_000
    return Expect(path, ("bytes, more than the", "it is not read"))


@case
def probes_header_declares_15_gb(models, seed):
    header = npy_header("|u1", (1_000_000, 20, 784))
    member = ("pixels.npy", deflate(header), zlib.crc32(header), len(header))
    return Expect(npz_with(models, seed, "probes.npz", {"pixels": member}),
                  ("pixels is uint8 of shape (1000000, 20, 784), not uint8 of shape (3, 20, 784)",))


@case
def probes_member_declares_4_gb(models, seed):
    header = npy_header("|u1", (3, 20, 784))
    member = ("pixels.npy", deflate(header), zlib.crc32(header), 4_000_000_000)
    return Expect(npz_with(models, seed, "probes.npz", {"pixels": member}),
                  ("pixels is declared as 4,000,000,000 bytes uncompressed",))


@case
def probes_empty_file(models, seed):
    path = run_dir(models, seed) / "probes.npz"
    path.write_bytes(b"")
    rehash(models, seed)
    return Expect(path, ("not a readable npz file",))


# ---------------------------------------------------------------- 8: links and other files


def _outside_copy(models: Path, seed: int) -> Path:
    outside = models.parent / f"outside-{seed}"
    shutil.copytree(run_dir(models, seed), outside)
    return outside


@case
def link_to_etc_in_models(models, seed):
    """models/etc -> /etc: one message (it listed ~70 folders of /etc as warnings on every page before)."""
    link = models / "etc"
    if not link.is_symlink():
        link.symlink_to("/etc")
    return Expect(link, ("symbolic link", "never followed"), victim_loads=True)


@case
def link_as_run_folder(models, seed):
    """The run folder is a link to a complete copy of itself outside models/ (sha256 all matching)."""
    outside = _outside_copy(models, seed)
    run = run_dir(models, seed)
    shutil.rmtree(run)
    run.symlink_to(outside)
    return Expect(run, ("symbolic link", "never followed"))


@case
def link_as_model_folder(models, seed):
    """models/<name> is a link to a copy of that folder outside models/."""
    if seed:  # in a folder holding several seeds of TARGET, only seed 0's case may move the whole model folder
        return link_as_run_folder(models, seed)
    outside = models.parent / "outside-model"
    shutil.move(models / TARGET, outside)
    (models / TARGET).symlink_to(outside)
    return Expect(models / TARGET, ("symbolic link", "never followed"))


@case
def link_as_weights_to_outside(models, seed):
    outside = _outside_copy(models, seed)
    path = run_dir(models, seed) / "weights.npz"
    path.unlink()
    path.symlink_to(outside / "weights.npz")
    return Expect(path, ("symbolic link", "never followed"))


@case
def link_as_history_to_another_run(models, seed):
    """A link that stays inside models/ is not followed either."""
    path = run_dir(models, seed) / "history.json"
    path.unlink()
    path.symlink_to(models / entry(models, 0, "norm-sigmoid-bce")["path"] / "history.json")
    return Expect(path, ("symbolic link", "never followed"))


@case
def fifo_as_probes(models, seed):
    """A named pipe where probes.npz should be: refused without opening it (opening would block forever)."""
    path = run_dir(models, seed) / "probes.npz"
    path.unlink()
    os.mkfifo(path)
    return Expect(path, ("not a regular file",))


@case
def link_among_run_folders(models, seed):
    """An unlisted link next to the run folders (models/<name>/seed-9 -> /etc): one message, not followed."""
    link = run_dir(models, seed).parent / f"seed-{seed + 5000}-link"
    link.symlink_to("/etc")
    return Expect(link, ("symbolic link (never followed)",), victim_loads=True)


@case
def unlisted_folder_named_as_markup(models, seed):
    """A folder no entry lists, named as Markdown: reported once, its name shown inert."""
    folder = models / "![x](http:host)" / f"seed-{seed}-20260101T000000"
    folder.mkdir(parents=True)
    return Expect(models, ("'??x??http:host?'", "is on disk but not in manifest.json"), victim_loads=True)


# ---------------------------------------------------------------- 4, 6, 7: the old format (model.keras)


OLD_FORMAT: dict[str, Callable[[Path, Path], None]] = {}  # name -> (model.keras path, folder for outside files)


def old_format_variant(fn):
    OLD_FORMAT[fn.__name__] = fn
    return fn


def make_old_format(models: Path, seed: int, variant: str = "valid", name: str = TARGET) -> Path:
    """Turn the run into one of the old format: a real Keras file of its weights as model.keras (then made
    hostile by `variant`), listed in the manifest instead of weights.npz."""
    from aecompare.training.keras_models import rebuild_model

    run = run_dir(models, seed, name)
    exp = Experiment.from_dict(entry(models, seed, name)["experiment"])
    with np.load(run / "weights.npz", allow_pickle=False) as f:
        model = rebuild_model(exp, {k: f[k] for k in f.files})
    path = run / "model.keras"
    model.save(path)
    if variant != "valid":
        OLD_FORMAT[variant](path, models.parent)
    (run / "weights.npz").unlink()

    def edit(e):
        files = e["files"]
        e["files"] = {"model.keras": artifacts.sha256_file(path), "history.json": files["history.json"],
                      "probes.npz": files["probes.npz"]}
    edit_entry(models, seed, edit, name)
    return path


def rewrite_keras(path: Path, config=None, weights: Callable | None = None, extra: dict | None = None) -> None:
    """Rewrite a .keras zip: another config.json, weights.h5 edited by `weights(h5py.File)`, or extra members."""
    import h5py

    with zipfile.ZipFile(path) as z:
        members = {n: z.read(n) for n in z.namelist()}
    if config is not None:
        members["config.json"] = json.dumps(config(json.loads(members["config.json"]))).encode()
    if weights is not None:
        tmp = path.with_suffix(".h5")
        tmp.write_bytes(members["model.weights.h5"])
        with h5py.File(tmp, "r+") as h5:
            weights(h5)
        members["model.weights.h5"] = tmp.read_bytes()
        tmp.unlink()
    with zipfile.ZipFile(path, "w") as z:
        for name, data in {**members, **(extra or {})}.items():
            z.writestr(name, data)


def _first_kernel(h5):
    return h5["layers/dense/vars"]


@old_format_variant
def dense_without_config(path, outside):
    def edit(c):
        del c["config"]["layers"][1]["config"]
        return c
    rewrite_keras(path, config=edit)


@old_format_variant
def config_an_empty_list(path, outside):
    rewrite_keras(path, config=lambda c: [])


@old_format_variant
def config_of_an_empty_list(path, outside):
    rewrite_keras(path, config=lambda c: {"config": []})


@old_format_variant
def kernel_1d(path, outside):
    def edit(h5):
        kernel = _first_kernel(h5)["0"][()]
        del _first_kernel(h5)["0"]
        _first_kernel(h5).create_dataset("0", data=kernel.ravel())
    rewrite_keras(path, weights=edit)


@old_format_variant
def kernel_a_group(path, outside):
    def edit(h5):
        del _first_kernel(h5)["0"]
        _first_kernel(h5).create_group("0")
    rewrite_keras(path, weights=edit)


@old_format_variant
def kernel_a_string(path, outside):
    def edit(h5):
        del _first_kernel(h5)["0"]
        _first_kernel(h5)["0"] = "not a kernel"
    rewrite_keras(path, weights=edit)


SECRET = np.float32(1234.5)


@old_format_variant
def kernel_in_external_storage(path, outside):
    """The first kernel's data kept in a file outside models/ (HDF5 external storage): its bytes became the
    first layer's weights, the filter images and every reconstruction before."""
    secret = outside / "secret.bin"
    secret.write_bytes(np.full((784, 100), SECRET, np.float32).tobytes())

    def edit(h5):
        del _first_kernel(h5)["0"]
        _first_kernel(h5).create_dataset("0", shape=(784, 100), dtype="<f4", external=[(str(secret), 0, 784 * 400)])
    rewrite_keras(path, weights=edit)


@old_format_variant
def kernel_an_external_link(path, outside):
    def edit(h5):
        import h5py

        del _first_kernel(h5)["0"]
        _first_kernel(h5)["0"] = h5py.ExternalLink(str(outside / "elsewhere.h5"), "/kernel")
    rewrite_keras(path, weights=edit)


@old_format_variant
def config_bomb(path, outside):
    """config.json declared as 1 GB, deflated to 1 MB (2.1 GB peak before): refused by its declared size."""
    with zipfile.ZipFile(path) as z:
        members = [(n, deflate(z.read(n)), zlib.crc32(z.read(n)), len(z.read(n))) for n in z.namelist()
                   if n != "config.json"]
    members.append(("config.json", deflated_zeros(b'{"x": "', 1 << 30), 0, (1 << 30) + 7))
    path.write_bytes(raw_zip(members))


@old_format_variant
def config_bomb_under_the_size_limit(path, outside):
    """config.json declared as 256 MB, 0.25 MB on disk, the file under its size limit: refused by the declared
    size, before it is decompressed."""
    with zipfile.ZipFile(path) as z:
        members = [(n, deflate(z.read(n)), zlib.crc32(z.read(n)), len(z.read(n))) for n in z.namelist()
                   if n != "config.json"]
    members.append(("config.json", deflated_zeros(b'{"x": "', 1 << 28), 0, (1 << 28) + 7))
    path.write_bytes(raw_zip(members))


@old_format_variant
def lambda_layer(path, outside):
    def edit(c):
        layer = c["config"]["layers"][2]
        layer["class_name"] = "Lambda"
        layer["config"]["function"] = {"class_name": "__lambda__", "config": {"code": "print('pwned')"}}
        return c
    rewrite_keras(path, config=edit)


def _old_format_case(variant: str):
    def damage(models, seed):
        """An old-format run: one message naming model.keras and the upgrade command; model.keras never opened."""
        path = make_old_format(models, seed, variant)
        return Expect(path, ("run in the old format", "python -m aecompare.train --upgrade --out"))
    return damage


case(_old_format_case("valid"), name="old_format")
for _variant in OLD_FORMAT:
    case(_old_format_case(_variant), name=f"old_format_{_variant}")


# ---------------------------------------------------------------- the probe: one case, one process

PEAK_KB = r"""
def peak_kb():
    # This process's peak resident memory. ru_maxrss is not this process's alone: Linux starts it at the RSS
    # of the parent it was forked from (pytest, with TensorFlow loaded), so growth under that would not show.
    # VmHWM is the peak of this process's own memory, fresh from exec.
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith("VmHWM:"))
    except (OSError, StopIteration):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
"""
PROBE = r"""
import json, os, resource, sys
""" + PEAK_KB + r"""
clean, tampered, allocate_mb = sys.argv[1], sys.argv[2], int(sys.argv[3])
from aecompare.store.catalog import load_catalog
load_catalog(clean)  # the clean load: imports, allocator pools; its result is freed
base = peak_kb()
kept = b"\x01" * (allocate_mb << 20)  # written, so resident; only the test of this probe allocates
opened, recording = [], [True]
def audit(event, args):
    if recording[0] and event in ("open", "os.listdir", "os.scandir") and args \
            and isinstance(args[0], (str, bytes, os.PathLike)):
        opened.append(os.fsdecode(args[0]))
sys.addaudithook(audit)
catalog = load_catalog(tampered)
recording[0] = False
peak = peak_kb()
root = os.path.realpath(tampered)
inside = lambda p: os.path.realpath(p) == root or os.path.realpath(p).startswith(root + os.sep)
strays = [p for p in opened if not (inside(p) and os.path.abspath(p).startswith(os.path.abspath(tampered)))]
secret = any(bool((layer.kernel == 1234.5).any()) for r in catalog.runs for layer in r.layers)
print(json.dumps({"runs": [[r.name, r.seed] for r in catalog.runs], "problems": catalog.problems,
                  "growth_mb": (peak - base) / 1024, "strays": strays, "h5py": "h5py" in sys.modules,
                  "keras_opened": [p for p in opened if p.endswith(".keras")], "secret": secret}))
"""


def probe(clean: Path, tampered: Path, allocate_mb: int = 0) -> dict:
    result = subprocess.run([sys.executable, "-c", PROBE, str(clean), str(tampered), str(allocate_mb)], cwd=REPO,
                            capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    return json.loads(result.stdout)


def state(root: Path) -> dict:
    """Every entry under `root` (links not followed) with its size and modification time: 'unchanged'."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, n))
            out[os.path.relpath(os.path.join(dirpath, n), root)] = (st.st_mode, st.st_size, st.st_mtime_ns)
    return out


@pytest.fixture
def folders(tiny_models, tmp_path) -> tuple[Path, Path]:
    """(a clean copy of the tiny models, a copy to damage), side by side in a fresh folder."""
    clean, models = tmp_path / "clean", (tmp_path / "models").resolve()
    shutil.copytree(tiny_models, clean)
    shutil.copytree(tiny_models, models)
    return clean, models


@pytest.mark.parametrize("name", CASES)
def test_one_message_the_rest_loads_bounded_memory(folders, name):
    clean, models = folders
    expect = CASES[name](models, 0)
    before = state(models)
    report = probe(clean, models)
    assert state(models) == before, "loading changed the folder"
    loaded = {name for name, _ in report["runs"]}
    lost = set(TINY_NAMES) if expect.manifest else set() if expect.victim_loads else {TARGET}
    assert loaded == set(TINY_NAMES) - lost, report["problems"]
    assert len(report["problems"]) == 1, report["problems"]
    message = report["problems"][0]
    assert str(expect.culprit) in message and all(w in message for w in expect.words), message
    assert "![" not in message and "](" not in message and "<" not in message, message
    assert report["strays"] == [], f"opened outside {models}: {report['strays']}"
    assert not report["h5py"], "loading the catalog imported h5py"
    assert report["keras_opened"] == [] and not report["secret"], report
    assert report["growth_mb"] < MEMORY_LIMIT_MB, f"{name}: grew {report['growth_mb']:.0f} MB"
    print(f"\n{name}: +{report['growth_mb']:.1f} MB: {message}")


def test_the_probe_sees_what_a_load_would_hold(folders):
    """The measure can fail: 300 MB held during the second load shows as about 300 MB of growth."""
    clean, models = folders
    report = probe(clean, clean, allocate_mb=300)
    assert 290 < report["growth_mb"] < 400, report
    assert report["problems"] == [] and len(report["runs"]) == len(TINY_NAMES)


# ---------------------------------------------------------------- evaluate: exit 1, naming the file


def run_evaluate(models: Path) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "aecompare.evaluate", "--models", str(models), "--format", "csv"],
                          cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)


def check_evaluate(result: subprocess.CompletedProcess, expects: list[Expect]) -> None:
    problems = [line for line in result.stderr.splitlines() if line.startswith("problem: ")]
    assert result.returncode == 1, result.stderr[-3000:]
    assert "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(problems) == len(expects), "\n".join(problems)
    for expect in expects:
        assert any(str(expect.culprit) in p and all(w in p for w in expect.words) for p in problems), expect
    names = [row["name"] for row in csv.DictReader(io.StringIO(result.stdout)) if row["kind"] == "model"]
    assert all(re.fullmatch(schema.NAME_PATTERN, n) for n in names), names  # no markup, no formula


RUN_CASES = [n for n in CASES if n != "link_to_etc_in_models" and not n.startswith("manifest_")]


@pytest.mark.slow
def test_evaluate_names_every_damaged_run_and_exits_1(tiny_models, tmp_path):
    """One folder, one damaged copy (its own seed) of TARGET per case, plus the link to /etc: one evaluation."""
    models = (tmp_path / "models").resolve()
    shutil.copytree(tiny_models, models)
    for i in range(len(RUN_CASES)):
        clone_run(models, 100 + i)
    expects = [CASES[name](models, 100 + i) for i, name in enumerate(RUN_CASES)]
    expects.append(link_to_etc_in_models(models, 0))
    check_evaluate(run_evaluate(models), expects)


@pytest.mark.slow
@pytest.mark.parametrize("name", [n for n in CASES if n.startswith("manifest_")])
def test_evaluate_on_an_unusable_manifest_exits_1(tiny_models, tmp_path, name):
    models = (tmp_path / "models").resolve()
    shutil.copytree(tiny_models, models)
    expect = CASES[name](models, 0)
    check_evaluate(run_evaluate(models), [expect])


# ---------------------------------------------------------------- rewriting the manifest keeps what it does not know


def test_publishing_a_run_keeps_the_manifests_other_keys(tiny_models, tmp_path):
    """StagedRun.commit (what training does) rewrites the manifest: a top-level key it does not know (the
    stored results) is kept as it was, unread; the new run is listed and loads."""
    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    results = {"rows": [{"name": TARGET, "mse": 0.07}], "nested": {"a": [1, 2]}}
    write_doc(models, {**read_doc(models), "results": results})
    source = run_dir(models, 0)
    exp = dataclasses.replace(Experiment.from_dict(entry(models, 0)["experiment"]), seed=7)
    with artifacts.staged_run(models, exp, stamp="20300101T000000") as stage:
        for f in artifacts.RUN_FILES:
            shutil.copy(source / f, stage.dir / f)
        history = json.loads((stage.dir / "history.json").read_text())
        history["experiment"] = exp.to_dict()
        (stage.dir / "history.json").write_text(json.dumps(history))
        stage.commit({})
    doc = read_doc(models)
    assert doc["results"] == results and list(doc)[:2] == ["format", "models"]
    catalog = load_catalog(models)
    assert catalog.problems == [] and (TARGET, 7) in {(r.name, r.seed) for r in catalog.runs}


def test_training_refuses_to_retrain_old_format_runs_silently(tiny_models, tmp_path):
    """Without --force, `python -m aecompare.train` over old-format runs says to convert them (it would retrain
    the whole registry for nothing), before loading MNIST or TensorFlow."""
    models = tmp_path / "models"
    shutil.copytree(tiny_models, models)
    make_old_format(models, 0)
    result = subprocess.run([sys.executable, "-m", "aecompare.train", "--only", TARGET, "--epochs", "2", "--seed", "0",
                             "--out", str(models)], cwd=REPO, capture_output=True, text=True, timeout=TIMEOUT)
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-2000:]
    assert f"{TARGET}/seed-0" in result.stderr and f"--upgrade --out {models}" in result.stderr


# ---------------------------------------------------------------- vocabularies and patterns


def test_every_registry_entry_matches_the_schema():
    """The safe-name pattern, the path pattern and the vocabularies accept everything the registry trains."""
    for exp in REGISTRY:
        schema.check({"name": exp.name, "seed": exp.seed}, schema.IDENTITY)
        schema.check(json.loads(json.dumps(exp.to_dict())), schema.experiment_spec(exp.name, exp.seed))
        assert schema.parameters(exp.arch) <= schema.MAX_PARAMETERS
        assert exp.loss in LOSSES and exp.activation in ACTIVATIONS and exp.scale in SCALES
        assert exp.optimizer.name in OPTIMIZERS and exp.epochs <= schema.MAX_EPOCHS


def test_the_experiment_spec_covers_every_field_of_an_experiment():
    """A field added to Experiment must be added to schema.experiment_spec too (or every run would be refused
    as having an unexpected field): this fails first, naming it."""
    spec = schema.experiment_spec(REGISTRY[0].name, REGISTRY[0].seed)
    assert set(spec.fields) == {f.name for f in dataclasses.fields(Experiment)}


def test_vocabularies_are_what_the_code_runs():
    """Every optimizer the schema accepts builds in Keras, every loss has its Keras op, and the layer names the
    catalog gives equal those of the Keras models."""
    from aecompare.training import keras_models

    for name in OPTIMIZERS:
        keras_models.make_optimizer(dataclasses.replace(REGISTRY[0], optimizer=dataclasses.replace(
            REGISTRY[0].optimizer, name=name)))
    assert set(LOSSES) <= set(keras_models.LOSS_OPS)
    for exp in REGISTRY:
        assert schema.layer_names(exp.arch) == keras_models.layer_names(exp)


def test_limits_fit_the_committed_runs(committed_catalog):
    """The size limits are derived from the settings, and the real 100-epoch runs sit well inside them."""
    for run in committed_catalog.runs:
        folder = committed_catalog.models_dir / run.entry["path"]
        for file, limit in (("weights.npz", artifacts.weights_limit(run.exp)),
                            ("history.json", schema.history_limit(run.exp)),
                            ("probes.npz", schema.probes_limit(run.exp))):
            if file in run.entry["files"]:  # only seed 0's runs keep probe images
                assert (folder / file).stat().st_size <= limit, (run.exp.run_id, file)
        assert artifacts.weights_limit(run.exp) < 1.02 * 4 * schema.parameters(run.exp.arch) + 8192


def test_parse_json_refuses_deep_nesting_unparsed():
    """Valid JSON 100,000 levels deep is refused on its text: json.loads is never called on it."""
    text = b'{"epochs": [], "notes": ' + b"[" * 100_000 + b"]" * 100_000 + b"}"
    with pytest.raises(artifacts.ArtifactError, match=r"nests 100,001 levels deep.*it was not parsed"):
        artifacts.parse_json(text, Path("history.json"), "fix")


def test_json_depth_counts_brackets_outside_strings_only():
    assert artifacts.json_depth(b'{"a": "[[[[", "b": [{"c": "\\"[["}]}') == 3
    assert artifacts.json_depth(b'["\\\\", [[]]]') == 3
    assert artifacts.json_depth(b"[" * 100_000 + b"]" * 100_000) == 100_000
    assert artifacts.json_depth(b"7") == 0


# ---------------------------------------------------------------- the upgrade: python -m aecompare.train --upgrade

WRAPPED = r"""
import resource, runpy, sys
""" + PEAK_KB + r"""
sys.argv = ["aecompare.train", *sys.argv[1:]]
code = 0
try:
    runpy.run_module("aecompare.train", run_name="__main__")
except SystemExit as e:
    code = e.code
print(f"maxrss_mb={peak_kb() / 1024:.0f}", file=sys.stderr)
sys.exit(code)
"""


def run_upgrade(models: Path) -> tuple[subprocess.CompletedProcess, float]:
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3", "CUDA_VISIBLE_DEVICES": ""}
    result = subprocess.run([sys.executable, "-c", WRAPPED, "--upgrade", "--out", str(models)], cwd=REPO, env=env,
                            capture_output=True, text=True, timeout=TIMEOUT)
    maxrss = float(result.stderr.rsplit("maxrss_mb=", 1)[1].split()[0])
    return result, maxrss


@pytest.fixture(scope="module")
def clean_upgrade(tiny_models, tmp_path_factory):
    """Every tiny run turned into the old format, with a `results` key in the manifest; then upgraded."""
    models = tmp_path_factory.mktemp("upgrade") / "models"
    shutil.copytree(tiny_models, models)
    with_results = {**read_doc(models), "results": {"written by": "another tool", "rows": [1, 2, 3]}}
    write_doc(models, with_results)
    for name in TINY_NAMES:
        assert not (make_old_format(models, 0, name=name).parent / "weights.npz").exists()
    before = read_doc(models)
    result, maxrss = run_upgrade(models)
    return models, before, result, maxrss


@pytest.mark.slow
def test_upgrade_converts_old_runs_exactly_and_keeps_the_rest_of_the_manifest(clean_upgrade, tiny_models):
    models, before, result, _ = clean_upgrade
    assert result.returncode == 0 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert result.stdout.count("converted ") == len(TINY_NAMES)
    after = read_doc(models)
    assert after["results"] == before["results"]  # an unknown top-level key is kept as it was
    catalog = load_catalog(models)
    assert catalog.problems == [] and sorted(r.name for r in catalog.runs) == sorted(TINY_NAMES)
    by_name = {e["name"]: e for e in after["models"]}
    for old in before["models"]:
        new = by_name[old["name"]]
        assert {k: v for k, v in old.items() if k != "files"} == {k: v for k, v in new.items() if k != "files"}
        assert list(new["files"]) == list(artifacts.RUN_FILES)
        assert not (models / new["path"] / "model.keras").exists()
        with np.load(tiny_models / new["path"] / "weights.npz") as a, \
                np.load(models / new["path"] / "weights.npz") as b:
            assert sorted(a.files) == sorted(b.files) and all(np.array_equal(a[k], b[k]) for k in a.files)
    again, _ = run_upgrade(models)
    assert again.returncode == 0 and "nothing to upgrade" in again.stdout


@pytest.mark.slow
def test_upgrade_refuses_every_hostile_keras_file_and_converts_the_rest(clean_upgrade, tiny_models, tmp_path):
    """One folder, one old-format copy of TARGET per hostile variant (and one with a changed file): each is
    refused with one line naming its model.keras and left as it was; the good runs are converted; nothing of
    the external file reaches a weights.npz; memory grows < 200 MB over the clean upgrade's."""
    _, _, _, clean_maxrss = clean_upgrade
    models = (tmp_path / "models").resolve()
    shutil.copytree(tiny_models, models)
    variants = [*OLD_FORMAT, "changed_after_listing"]
    paths = {}
    for i, variant in enumerate(variants):
        clone_run(models, 200 + i)
        paths[variant] = make_old_format(models, 200 + i, "valid" if variant == "changed_after_listing" else variant)
    with open(paths["changed_after_listing"], "ab") as f:
        f.write(b"\0")
    make_old_format(models, 0)  # a good one, converted
    hostile = {e["seed"]: e for e in read_doc(models)["models"] if e["seed"] >= 200}
    result, maxrss = run_upgrade(models)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error: ")]
    assert result.returncode == 1 and "Traceback" not in result.stderr, result.stderr[-3000:]
    assert len(errors) == len(variants), "\n".join(errors)
    for variant, path in paths.items():
        assert [e for e in errors if str(path) in e], (variant, errors)
        assert path.exists() and not (path.parent / "weights.npz").exists(), variant
    assert {e["seed"]: e for e in read_doc(models)["models"] if e["seed"] >= 200} == hostile
    for npz in models.glob("*/*/weights.npz"):
        with np.load(npz) as f:
            assert all(SECRET not in f[k] for k in f.files)
    catalog = load_catalog(models)
    assert sorted({r.name for r in catalog.runs}) == sorted(TINY_NAMES)
    assert len(catalog.problems) == len(variants) and all("old format" in p for p in catalog.problems)
    assert maxrss - clean_maxrss < MEMORY_LIMIT_MB, (maxrss, clean_maxrss)
    print(f"\nupgrade peak {maxrss:.0f} MB, clean upgrade {clean_maxrss:.0f} MB; refused:\n" + "\n".join(errors))
