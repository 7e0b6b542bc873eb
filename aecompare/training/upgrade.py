"""Bringing runs of older versions up to date: `python -m aecompare.train --upgrade`.

Two changes are migrated. Runs named in the old vocabulary of the questions (the seed files' numbers: models
`s002-*`, net families "000" and "002") are renamed to Q1-Q3's (`q3-*`, "q1", "q3"): see `rename_entry`. And
runs of the old format (model.keras) are converted into weights.npz, as follows.

A run's weights used to be a Keras file, which the app read with h5py; that opened a class of bugs
(HDF5 external storage reading any file of the server, compressed bombs, crafted layer configs). The
app now reads only weights.npz. This converter reads each old file once, with TensorFlow, and trusts
nothing in it before it is checked, in this order: the manifest entry (`catalog.entry_settings`); the
file's size and its sha256 in the manifest; the zip's member names and declared sizes; config.json
(only InputLayer and Dense layers, only Keras modules); the HDF5 weights' links and datasets (no
external storage, external or soft links, or virtual datasets: only contiguous or chunked float32
data of the experiment's shapes); then Keras loads a verified copy in safe mode, and the model must
be the experiment's net. The weights are written as weights.npz, read back through the catalog's
checks, and the model rebuilt from them must give the loaded model's outputs. Only then is the
manifest entry's `files` updated (the manifest replaced atomically, other keys kept) and model.keras
removed. A kill at any moment leaves a run the catalog loads, or one the next --upgrade converts.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sys
import tempfile
import zipfile
from collections import Counter
from pathlib import Path

import numpy as np

from ..registry import FORMER_FAMILIES, FORMER_NAMES, Experiment
from ..store import artifacts, schema
from ..store.artifacts import ArtifactError
from ..store.catalog import entry_settings, read_run_file

KERAS_MEMBERS = {"metadata.json": 64 * 1024, "config.json": 256 * 1024}  # + model.weights.h5, sized below
WEIGHTS_MEMBER = "model.weights.h5"
HDF5_OVERHEAD = 256 * 1024  # groups, attributes, object headers: ~24 KB in the committed files
LAYER_CLASSES = ("InputLayer", "Dense")


def keras_file_limit(exp: Experiment) -> int:
    return 4 * schema.parameters(exp.arch) + HDF5_OVERHEAD + sum(KERAS_MEMBERS.values())


def _members(data: bytes, path: Path, exp: Experiment) -> dict[str, bytes]:
    """The .keras zip's members, each declared size checked before it is decompressed."""
    limits = {**KERAS_MEMBERS, WEIGHTS_MEMBER: 4 * schema.parameters(exp.arch) + HDF5_OVERHEAD}
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            infos = z.infolist()
            names = [i.filename for i in infos]
            if sorted(set(names)) != sorted(names) or not {"config.json", WEIGHTS_MEMBER} <= set(names) \
                    or not set(names) <= set(limits):
                raise ArtifactError(f"{path} holds {', '.join(schema.inert(n, 30) for n in names[:6])}; a Keras "
                                    f"file of a dense autoencoder holds {', '.join(sorted(limits))}")
            for info in infos:
                if info.file_size > limits[info.filename]:
                    raise ArtifactError(f"{path}: {info.filename} declares {info.file_size:,} bytes uncompressed, "
                                        f"more than the {limits[info.filename]:,} a run of these settings needs")
            return {info.filename: z.read(info) for info in infos}  # zipfile stops at each declared size
    except (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError) as e:
        raise ArtifactError(f"{path} is not a readable Keras file ({str(e)[:120]})") from None


def check_config(config: bytes, path: Path) -> None:
    """config.json describes a functional model of InputLayer and Dense layers only, from Keras' own modules."""
    where = path / "config.json"
    doc = artifacts.parse_json(config, where, "it cannot be converted")
    if not isinstance(doc, dict) or doc.get("class_name") != "Functional" or not isinstance(doc.get("config"), dict):
        raise ArtifactError(f"{where} does not describe a functional Keras model")
    layers = doc["config"].get("layers")
    if not isinstance(layers, list) or not all(isinstance(c, dict) and isinstance(c.get("config"), dict)
                                               for c in layers):
        raise ArtifactError(f"{where} has no list of layers, each with its config")
    foreign = sorted(schema.inert(str(k), 30) for k in {c.get("class_name") for c in layers} - set(LAYER_CLASSES))
    if foreign:
        raise ArtifactError(f"{where} holds layers aecompare does not run ({', '.join(foreign)}): only "
                            "InputLayer and Dense are accepted")
    stack = [doc]
    while stack:  # every object Keras would deserialize must come from Keras itself
        v = stack.pop()
        if isinstance(v, dict):
            module, registered = v.get("module"), v.get("registered_name")
            if (module is not None and not (isinstance(module, str) and module.split(".")[0] == "keras")) \
                    or registered not in (None, v.get("class_name")):  # a Keras class registers as itself
                raise ArtifactError(f"{where} refers to code outside Keras ({schema.brief(module or registered)})")
            stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)


def check_hdf5(weights: bytes, path: Path, exp: Experiment) -> None:
    """The HDF5 weights: no links but hard ones, no external or virtual storage, and exactly the experiment's
    float32 arrays (by shape). Reads the structure only, never a dataset's data."""
    import h5py

    where = path / WEIGHTS_MEMBER
    wanted = Counter(a.shape for a in schema.weights_spec(exp).values())
    found = Counter()
    try:
        with h5py.File(io.BytesIO(weights), "r") as h5:
            stack = [h5]
            while stack:
                group = stack.pop()
                for name in group:
                    link = group.get(name, getlink=True)
                    if not isinstance(link, h5py.HardLink):
                        raise ArtifactError(f"{where}: {group.name}/{name} is a {type(link).__name__}; refused")
                    obj = group[name]
                    if isinstance(obj, h5py.Group):
                        stack.append(obj)
                        continue
                    if not isinstance(obj, h5py.Dataset):
                        raise ArtifactError(f"{where}: {obj.name} is not a group or a dataset; refused")
                    plist = obj.id.get_create_plist()
                    if plist.get_external_count() or plist.get_layout() not in (h5py.h5d.CONTIGUOUS,
                                                                                  h5py.h5d.CHUNKED):
                        raise ArtifactError(f"{where}: {obj.name} keeps its data outside the file (external or "
                                            "virtual storage); refused, nothing of it was read")
                    if obj.dtype.str != "<f4":
                        raise ArtifactError(f"{where}: {obj.name} is {obj.dtype.str}, not float32")
                    found[tuple(obj.shape)] += 1
    except (OSError, KeyError, ValueError, TypeError) as e:
        raise ArtifactError(f"{where} is not a readable HDF5 file ({str(e)[:120]})") from None
    if found != wanted:
        raise ArtifactError(f"{where} holds arrays of shapes {sorted(found.elements())}; the experiment's net "
                            f"({exp.arch.label}) has {sorted(wanted.elements())}")


def load_checked(data: bytes, path: Path, exp: Experiment):
    """The Keras model in `data` (already checked), loaded from a private copy in safe mode, and matching `exp`."""
    from .keras_models import load_model

    with tempfile.TemporaryDirectory(prefix="aecompare-upgrade-") as tmp:
        copy = Path(tmp) / "model.keras"
        copy.write_bytes(data)  # what was checked is what Keras reads, whatever happens to `path` meanwhile
        try:
            model = load_model(copy)
        except Exception as e:  # Keras raises many kinds; all mean the same here
            raise ArtifactError(f"{path}: Keras could not load it in safe mode ({type(e).__name__}: "
                                f"{schema.inert(str(e), 160)})") from None
    dense = [layer for layer in model.layers if layer.weights]
    got = [(layer.__class__.__name__, layer.get_config().get("units"), layer.get_config().get("activation"),
            layer.get_config().get("use_bias")) for layer in dense]
    wanted = [("Dense", units, act, True) for units, act in zip(exp.arch.widths[1:], schema.activations(exp))]
    if got != wanted or tuple(model.input_shape) != (None, 784):
        raise ArtifactError(f"{path} is not the net of its experiment: its layers are {got}, expected {wanted}")
    return model


def convert(models_dir: Path, entry: dict) -> tuple[bytes, str]:
    """The weights.npz bytes of an old-format run, and the path of the model.keras they came from (relative)."""
    from .keras_models import rebuild_model, weights_of

    exp, run_dir, _ = entry_settings(models_dir, entry)
    path = run_dir / "model.keras"
    data = artifacts.read_bounded(path, keras_file_limit(exp), "restore it from git, or retrain it")
    if hashlib.sha256(data).hexdigest() != entry["files"]["model.keras"]:
        raise ArtifactError(f"{path} does not match its sha256 in the manifest (changed or damaged); "
                            "it is not converted: restore it from git, or retrain it")
    members = _members(data, path, exp)
    check_config(members["config.json"], path)
    check_hdf5(members[WEIGHTS_MEMBER], path, exp)
    model = load_checked(data, path, exp)
    npz = artifacts.npz_bytes(**weights_of(model))
    layers = artifacts.parse_weights(npz, run_dir / "weights.npz", exp, "it is not converted")
    x = np.random.default_rng(0).random((64, 784), dtype=np.float32) * np.float32(exp.pixel_scale)
    before = np.asarray(model(x, training=False))
    after = np.asarray(rebuild_model(exp, layers)(x, training=False))
    if not np.array_equal(before, after, equal_nan=True):
        raise ArtifactError(f"{path}: the model rebuilt from its weights gives other outputs; it is not converted")
    return npz, entry["path"]


def upgrade_entry(models_dir: Path, entry: dict) -> Path:
    """Convert one old-format run in place: weights.npz written, the manifest entry updated, model.keras removed."""
    npz, rel = convert(models_dir, entry)
    run_dir = Path(models_dir) / rel
    artifacts.atomic_write_bytes(run_dir / "weights.npz", npz)
    os.chmod(run_dir / "weights.npz", 0o644)  # as the trainer's files (the temporary file was private)
    doc = artifacts.read_manifest_doc(models_dir)  # fresh: keeps whatever else changed meanwhile
    current = next((e for e in doc["models"] if e == entry), None)
    if current is None:
        raise ArtifactError(f"{Path(models_dir) / artifacts.MANIFEST} changed while {rel} was being converted; "
                            "run --upgrade again")
    files = {"weights.npz": hashlib.sha256(npz).hexdigest(), "history.json": entry["files"]["history.json"],
             "probes.npz": entry["files"]["probes.npz"]}
    updated = {**current, "files": files}
    artifacts.write_manifest(models_dir, [updated if e is current else e for e in doc["models"]], doc)
    (run_dir / "model.keras").unlink()
    return run_dir / "weights.npz"


def remove_leftovers(models_dir: Path, entries: list) -> list[Path]:
    """model.keras files left in runs already converted (an upgrade killed before it removed them)."""
    removed = []
    for entry in entries:
        try:
            _, run_dir, old = entry_settings(models_dir, entry)
        except ArtifactError:
            continue
        leftover = run_dir / "model.keras"
        if not old and os.path.lexists(leftover) and not leftover.is_symlink():
            leftover.unlink()
            removed.append(leftover)
    return removed


def renamed(experiment: dict) -> dict:
    """An experiment (`Experiment.to_dict`) in the questions' vocabulary: its name and its net's family."""
    arch = experiment.get("arch") or {}
    return {**experiment, "name": FORMER_NAMES.get(experiment.get("name"), experiment.get("name")),
            "arch": {**arch, "family": FORMER_FAMILIES.get(arch.get("family"), arch.get("family"))}}


def needs_rename(entry) -> bool:
    return isinstance(entry, dict) and isinstance(entry.get("experiment"), dict) \
        and renamed(entry["experiment"]) != entry["experiment"]


def renamed_history(data: bytes, path: Path, exp: Experiment) -> bytes:
    """history.json of a renamed run: its experiment, settings and the runs it trained with, in the new names."""
    record = artifacts.parse_json(data, path, "it is not renamed")
    record.update(experiment=exp.to_dict(), settings=exp.settings())
    record["trained_with"] = ["/".join([FORMER_NAMES.get(n, n), *rest]) for n, *rest in
                              (str(run).split("/") for run in record.get("trained_with", []))]
    return json.dumps(record, separators=(",", ":"), allow_nan=False).encode()


def rename_entry(models_dir: Path, entry: dict) -> str:
    """Rename one run: its files (sha256-checked, history.json with the new names) published as a new run folder
    through staging and the manifest, as a retrain would be; then the old entry dropped and its folder removed. A
    kill at any moment leaves the old run, the new one, or both (the next --upgrade finishes); never neither."""
    _, run_dir, _ = entry_settings(models_dir, entry)
    exp = Experiment.from_dict(renamed(entry["experiment"]))
    published = artifacts.find_entry(artifacts.read_manifest(models_dir), exp.name, exp.seed)
    if not (published and Experiment.from_dict(published["experiment"]) == exp):
        files = {f: read_run_file(run_dir, f, exp, entry, "it is not renamed: restore it from git, or retrain it")
                 for f in entry["files"]}
        files["history.json"] = renamed_history(files["history.json"], run_dir / "history.json", exp)
        with artifacts.staged_run(models_dir, exp) as stage:
            for f, data in files.items():
                (stage.dir / f).write_bytes(data)
            published = stage.commit(artifacts.entry_summary(entry))  # a run of the same name: replaced
    doc = artifacts.read_manifest_doc(models_dir)
    if entry in doc["models"]:
        artifacts.write_manifest(models_dir, [e for e in doc["models"] if e != entry], doc)
    if run_dir.is_dir():
        doomed = run_dir.parent / f"{artifacts.STAGING_PREFIX}renamed-{run_dir.name}"
        os.replace(run_dir, doomed)
        shutil.rmtree(doomed)
    with contextlib.suppress(OSError):
        run_dir.parent.rmdir()  # the former name's folder, once empty
    return published["path"]


def rename_all(models_dir: Path, entries: list) -> int:
    """`rename_entry` every run named in the old vocabulary; one line per run; the number that failed."""
    failed = 0
    for entry in [e for e in entries if needs_rename(e)]:
        try:
            print(f"renamed {entry['path']} to {rename_entry(models_dir, entry)}", flush=True)
        except ArtifactError as e:
            failed += 1
            print(f"error: {e}", file=sys.stderr, flush=True)
    return failed


def main(models_dir: Path) -> int:
    """Convert every old-format run of `models_dir`, then rename every run named in the old vocabulary; print one
    line per run; 1 if any could not be."""
    models_dir = Path(models_dir)
    try:
        entries = artifacts.read_manifest(models_dir)
    except ArtifactError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    old = [e for e in entries if isinstance(e, dict) and isinstance(e.get("files"), dict)
           and "model.keras" in e["files"]]
    failed = 0
    for entry in old:
        try:
            written = upgrade_entry(models_dir, entry)
            print(f"converted {written} (model.keras removed)", flush=True)
        except ArtifactError as e:
            failed += 1
            print(f"error: {e}", file=sys.stderr, flush=True)
    for leftover in remove_leftovers(models_dir, artifacts.read_manifest(models_dir)):
        print(f"removed {leftover}: a leftover of an earlier upgrade", flush=True)
    print(f"{len(old) - failed} run(s) converted, {failed} not" if old else
          f"nothing to upgrade in {models_dir}: every run is in the current format")
    failed += rename_all(models_dir, artifacts.read_manifest(models_dir))
    return 1 if failed else 0
