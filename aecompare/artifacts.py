"""Reading and writing trained-model artifacts under `models/`, without TensorFlow.

Layout: `models/manifest.json` lists every run; a run's files live in its own directory
`models/<name>/seed-<seed>-<stamp>/`: `model.keras`, `history.json`, `probes.npz`.
A run directory is written under a hidden staging name, renamed into place when complete, and
only then entered in the manifest (itself replaced atomically); the directory it supersedes is
removed last. A run killed at any moment therefore leaves the manifest pointing at complete files.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .network import ACTIVATIONS, DenseLayer
from .registry import Experiment

MANIFEST = "manifest.json"
RUN_FILES = ("model.keras", "history.json", "probes.npz")
STAGING_PREFIX = ".staging-"


class ArtifactError(RuntimeError):
    """A model file or record is missing or unusable; the message names the file."""


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _fsync_dir(path: Path) -> None:
    with contextlib.suppress(OSError):
        fd = os.open(path, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def write_temp_beside(path: Path, data: bytes) -> Path:
    """Write `data` (synced) to a hidden temporary file next to `path`; the caller renames it."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    return Path(tmp)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    """Write `data` to `path` via a temporary file in the same folder and a rename."""
    path = Path(path)
    tmp = write_temp_beside(path, data)
    try:
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    _fsync_dir(path.parent)


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=1, allow_nan=False) + "\n").encode())


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


# ---------------------------------------------------------------- manifest


def read_manifest(models_dir: Path) -> list[dict]:
    """The manifest's entries; [] if there is none yet. Raises ArtifactError if it is unreadable."""
    path = Path(models_dir) / MANIFEST
    if not path.exists():
        return []
    try:
        doc = json.loads(path.read_text())
        entries = doc["models"]
        if not isinstance(entries, list):
            raise TypeError("'models' is not a list")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ArtifactError(f"{path} is not a valid manifest ({e}); restore it from git "
                            "(git checkout models/manifest.json) or retrain with --force") from e
    return entries


def manifest_bytes(entries: list[dict]) -> bytes:
    entries = sorted(entries, key=lambda e: (e["name"], e["seed"]))
    return (json.dumps({"format": 1, "models": entries}, indent=1, allow_nan=False) + "\n").encode()


def write_manifest(models_dir: Path, entries: list[dict]) -> None:
    atomic_write_bytes(Path(models_dir) / MANIFEST, manifest_bytes(entries))


def find_entry(entries: list[dict], name: str, seed: int) -> dict | None:
    return next((e for e in entries if e["name"] == name and e["seed"] == seed), None)


def is_up_to_date(models_dir: Path, exp: Experiment) -> bool:
    """True if the manifest holds this exact experiment and its files match their sha256."""
    try:
        entry = find_entry(read_manifest(models_dir), exp.name, exp.seed)
    except ArtifactError:
        return False
    try:
        if not entry or Experiment.from_dict(entry["experiment"]) != exp:
            return False
    except (KeyError, TypeError, ValueError):
        return False
    # Up to date means the catalog would load it: a run whose files match their sha256 but are
    # unusable (a committed NaN history, a foreign model) is retrained without --force.
    from .catalog import load_run

    try:
        load_run(Path(models_dir), entry)
    except ArtifactError:
        return False
    return True


@dataclass
class StagedRun:
    """A run directory being written; `commit()` puts it in place and in the manifest."""

    models_dir: Path
    exp: Experiment
    stamp: str = field(default_factory=lambda: time.strftime("%Y%m%dT%H%M%S", time.gmtime()))

    @property
    def final_name(self) -> str:
        return f"seed-{self.exp.seed}-{self.stamp}"

    @property
    def dir(self) -> Path:
        return Path(self.models_dir) / self.exp.name / f"{STAGING_PREFIX}{self.final_name}"

    def commit(self, summary: dict) -> dict:
        """Rename the staged directory into place, then record it in the manifest.

        Everything that can fail (reading the manifest, hashing, writing the new manifest's
        temporary file) happens before the rename, so the two renames that publish the run are
        adjacent; if publishing fails the run folder is taken back out and the manifest is unchanged.
        The superseded folder is renamed to a staging name before it is deleted, so a kill while
        deleting it leaves nothing the catalog would report.
        """
        for f in RUN_FILES:
            if not (self.dir / f).is_file():
                raise ArtifactError(f"{self.dir / f} was not written")
        for f in RUN_FILES:
            with open(self.dir / f, "rb") as fh:
                os.fsync(fh.fileno())
        entries = read_manifest(self.models_dir)  # a corrupt manifest stops here, before anything moves
        old = find_entry(entries, self.exp.name, self.exp.seed)
        final = self.dir.parent / self.final_name
        entry = {
            "name": self.exp.name, "seed": self.exp.seed, "arch": self.exp.arch.label,
            "activation": self.exp.activation, "loss": self.exp.loss, "scale": self.exp.scale,
            "path": f"{self.exp.name}/{self.final_name}",
            "files": {f: sha256_file(self.dir / f) for f in RUN_FILES},
            "experiment": self.exp.to_dict(), **summary,
        }
        manifest = Path(self.models_dir) / MANIFEST
        tmp = write_temp_beside(manifest, manifest_bytes([e for e in entries if e is not old] + [entry]))
        try:
            os.replace(self.dir, final)
            try:
                os.replace(tmp, manifest)
            except BaseException:
                os.replace(final, self.dir)  # back to staging: the caller's cleanup removes it
                raise
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_dir(final.parent)
        _fsync_dir(manifest.parent)
        if old and old.get("path") != entry["path"]:
            superseded = Path(self.models_dir) / str(old.get("path", ""))
            if superseded.parent == final.parent and superseded.is_dir():
                doomed = superseded.parent / f"{STAGING_PREFIX}superseded-{superseded.name}"
                with contextlib.suppress(OSError):
                    os.replace(superseded, doomed)
                    shutil.rmtree(doomed, ignore_errors=True)
        return entry


@contextlib.contextmanager
def staged_run(models_dir: Path, exp: Experiment, stamp: str | None = None):
    """Context for writing one run: files go into `stage.dir`; on error the stage is removed."""
    stage = StagedRun(Path(models_dir), exp, **({"stamp": stamp} if stamp else {}))
    stage.dir.mkdir(parents=True, exist_ok=False)
    try:
        yield stage
    except BaseException:
        shutil.rmtree(stage.dir, ignore_errors=True)
        raise


def remove_stale_staging(models_dir: Path) -> list[Path]:
    """Delete staging directories left by killed runs (never complete, never in the manifest)."""
    removed = []
    for stage in Path(models_dir).glob(f"*/{STAGING_PREFIX}*"):
        shutil.rmtree(stage, ignore_errors=True)
        removed.append(stage)
    return removed


# ---------------------------------------------------------------- reading a run


def read_dense_layers(path: Path) -> list[DenseLayer]:
    """The Dense layers of a saved `.keras` autoencoder, read with zipfile and h5py only.

    Accepts only an input layer followed by Dense layers with known activations: anything else
    (a Lambda layer, custom code) is refused, so no code from the file ever runs.
    """
    import h5py

    path = Path(path)
    try:
        with zipfile.ZipFile(path) as z:
            config = json.loads(z.read("config.json"))
            weights = io.BytesIO(z.read("model.weights.h5"))
    except (OSError, zipfile.BadZipFile, KeyError, ValueError) as e:
        raise ArtifactError(f"{path} is not a readable .keras file ({e}); retrain it with "
                            "python -m aecompare.train --force --only <name>") from e
    layers_cfg = config.get("config", {}).get("layers", [])
    kinds = [c.get("class_name") for c in layers_cfg]
    foreign = sorted({k for k in kinds if k not in ("InputLayer", "Dense")})
    if foreign or not kinds or kinds.count("Dense") == 0:
        raise ArtifactError(f"{path} holds layers aecompare does not run ({', '.join(foreign) or 'no Dense'}); "
                            "only dense autoencoders are accepted")
    dense_cfg = [c["config"] for c in layers_cfg if c["class_name"] == "Dense"]
    layers = []
    try:
        with h5py.File(weights, "r") as h5:
            for i, cfg in enumerate(dense_cfg):
                group = h5["layers"][f"dense_{i}" if i else "dense"]["vars"]
                activation = cfg.get("activation")
                if activation not in ACTIVATIONS:
                    raise ArtifactError(f"{path}: layer {cfg.get('name')} has activation {activation!r}")
                layers.append(DenseLayer(cfg["name"], np.asarray(group["0"], np.float32),
                                         np.asarray(group["1"], np.float32), activation))
    except (OSError, KeyError, ValueError) as e:
        raise ArtifactError(f"{path}: weights unreadable ({e})") from e
    widths = [layers[0].kernel.shape[0]] + [layer.units for layer in layers]
    chained = all(a.units == b.kernel.shape[0] for a, b in zip(layers, layers[1:]))
    if not chained or widths[0] != 784 or widths[-1] != 784:
        raise ArtifactError(f"{path} is a {'-'.join(map(str, widths))} network; expected 784 in and out")
    return layers


def read_history(path: Path) -> dict:
    """A run's record: settings, per-epoch losses and diagnostics (see `aecompare.training`)."""
    try:
        record = json.loads(Path(path).read_text())
        epochs = record["epochs"]
        if not isinstance(epochs, list) or not all(isinstance(row, dict) for row in epochs):
            raise TypeError("'epochs' is not a list of records")
    except (OSError, ValueError, KeyError, TypeError) as e:
        raise ArtifactError(f"{path} is not a valid history record ({e})") from e
    for row in epochs:
        for key in ("train_loss", "val_loss", "val_mse", "output_spread"):
            v = row.get(key)
            if not isinstance(v, (int, float)) or not np.isfinite(v):
                raise ArtifactError(f"{path}: epoch {row.get('epoch')} has {key}={v!r} (not a finite number)")
    return record


def read_probes(path: Path) -> dict[str, np.ndarray]:
    """Probe-digit reconstructions per epoch (never unpickled): see `encode_images`."""
    try:
        with np.load(path, allow_pickle=False) as f:
            return {k: f[k] for k in f.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ArtifactError(f"{path} is not a readable probes file ({e})") from e


def encode_images(images: np.ndarray) -> dict[str, np.ndarray]:
    """Store float images (n, 784) small: uint8 scaled to each image's own [lo, hi], plus lo and hi.

    Keeps a softmax output (max ~0.005) as visible as a sigmoid one; `decode_images` inverts it
    to within (hi - lo) / 510.
    """
    x = np.asarray(images, np.float64)
    lo = x.min(axis=-1, keepdims=True)
    hi = x.max(axis=-1, keepdims=True)
    span = np.where(hi > lo, hi - lo, 1.0)
    q = np.rint((x - lo) / span * 255).astype(np.uint8)
    return {"pixels": q, "lo": lo[..., 0].astype(np.float32), "hi": hi[..., 0].astype(np.float32)}


def decode_images(pixels: np.ndarray, lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    span = np.asarray(hi, np.float64) - np.asarray(lo, np.float64)
    return (pixels.astype(np.float64) / 255 * span[..., None] + np.asarray(lo, np.float64)[..., None])
