"""Reading and writing trained-model artifacts under `models/`, without TensorFlow or h5py.

Layout: `models/manifest.json` lists every run; a run's files live in its own directory
`models/<name>/seed-<seed>-<stamp>/`: `weights.npz` (kernel_i, bias_i: float32), `history.json`,
`probes.npz`. A run directory is written under a hidden staging name, renamed into place when complete,
and only then entered in the manifest (itself replaced atomically); the directory it supersedes is
removed last. A run killed at any moment therefore leaves the manifest pointing at complete files.

Reading trusts nothing: a file's size is checked against what its run's settings allow before it is
read, links are never followed, an npz member's declared size and npy header before it is decompressed,
and every value against `aecompare.store.schema`. Each refusal is an ArtifactError naming the file.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import math
import os
import re
import shutil
import stat
import tempfile
import time
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..data import REPO
from ..maths.network import DenseLayer
from ..registry import Experiment
from . import schema

MANIFEST = "manifest.json"
RESULTS_DIR = "results"  # models/results/<stamp>/ holds the stored results (`aecompare.evaluation.results`), not runs
RUN_FILES = ("weights.npz", "history.json", "probes.npz")
PROBES_SEED = 0  # only this seed's run keeps the probe digits' reconstructions per epoch (the views show it)


def run_files(seed: int) -> tuple[str, ...]:
    """The files a run of this seed holds: extra seeds keep no probe images (they serve the seeds' spread)."""
    return RUN_FILES if seed == PROBES_SEED else RUN_FILES[:2]
OLD_RUN_FILES = ("model.keras", "history.json", "probes.npz")  # before weights.npz: see `aecompare.training.upgrade`
STAGING_PREFIX = ".staging-"
RETRAIN = "retrain it with: python -m aecompare.train --force --only {name}"
UPGRADE = "convert it with: python -m aecompare.train --upgrade --out {models_dir}"


def default_models_dir() -> Path:
    """The models folder the app and the command lines use: $AECOMPARE_MODELS, else models/ in the checkout."""
    return Path(os.environ.get("AECOMPARE_MODELS") or REPO / "models")


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


def npz_bytes(**arrays) -> bytes:
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    return buf.getvalue()


# ---------------------------------------------------------------- manifest


MANIFEST_FIX = "restore it from git (git checkout models/manifest.json) or retrain with --force"


def read_manifest_doc(models_dir: Path) -> dict:
    """The whole manifest: its entries under "models" (checked one by one by the catalog, later) and any other
    top-level keys, kept as they are and not read. A missing manifest is an empty one; an unusable one
    (too large, a link, not JSON, nested too deeply, not {"format": 1, "models": [...]}) raises ArtifactError."""
    path = Path(models_dir) / MANIFEST
    if not os.path.lexists(path):
        return {"format": 1, "models": []}
    doc = parse_json(read_bounded(path, schema.MANIFEST_BYTES, MANIFEST_FIX), path, MANIFEST_FIX, "a valid manifest")
    try:
        schema.check(doc, schema.MANIFEST)
    except schema.Invalid as e:
        raise ArtifactError(f"{path} is not a valid manifest ({e}); {MANIFEST_FIX}") from None
    return doc


def read_manifest(models_dir: Path) -> list[dict]:
    """The manifest's entries; [] if there is none yet. Raises ArtifactError if it is unreadable."""
    return read_manifest_doc(models_dir)["models"]


def _entry_order(entry) -> tuple:
    """Sort key of an entry, whatever it holds (a damaged entry is kept where it sorts, not dropped)."""
    if not isinstance(entry, dict):
        return ("", -1)
    name, seed = entry.get("name"), entry.get("seed")
    return (name if isinstance(name, str) else "", seed if type(seed) is int else -1)


def manifest_bytes(entries: list[dict], doc: dict | None = None) -> bytes:
    """The manifest's text: `entries` sorted by (name, seed); `doc`'s other top-level keys kept as they are."""
    out = {**(doc or {}), "format": 1, "models": sorted(entries, key=_entry_order)}
    return (json.dumps(out, indent=1, allow_nan=False) + "\n").encode()


def write_manifest(models_dir: Path, entries: list[dict], doc: dict | None = None) -> None:
    atomic_write_bytes(Path(models_dir) / MANIFEST, manifest_bytes(entries, doc))


def find_entry(entries: list[dict], name: str, seed: int) -> dict | None:
    return next((e for e in entries if isinstance(e, dict) and e.get("name") == name and e.get("seed") == seed),
                None)


# what StagedRun.commit writes into an entry itself; the rest is the summary its trainer passed
COMMITTED_KEYS = ("name", "seed", "arch", "activation", "loss", "scale", "path", "files", "experiment")


def entry_summary(entry: dict) -> dict:
    """The summary a trainer gave `StagedRun.commit` for this entry: how a run trained elsewhere is committed again."""
    return {k: v for k, v in entry.items() if k not in COMMITTED_KEYS}


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
        files = run_files(self.exp.seed)
        for f in files:
            if not (self.dir / f).is_file():
                raise ArtifactError(f"{self.dir / f} was not written")
        for f in files:
            with open(self.dir / f, "rb") as fh:
                os.fsync(fh.fileno())
        doc = read_manifest_doc(self.models_dir)  # a corrupt manifest stops here, before anything moves
        entries = doc["models"]
        old = find_entry(entries, self.exp.name, self.exp.seed)
        final = self.dir.parent / self.final_name
        entry = {
            "name": self.exp.name, "seed": self.exp.seed, "arch": self.exp.arch.label,
            "activation": self.exp.activation, "loss": self.exp.loss, "scale": self.exp.scale,
            "path": f"{self.exp.name}/{self.final_name}",
            "files": {f: sha256_file(self.dir / f) for f in files},
            "experiment": self.exp.to_dict(), **summary,
        }
        manifest = Path(self.models_dir) / MANIFEST
        tmp = write_temp_beside(manifest, manifest_bytes([e for e in entries if e is not old] + [entry], doc))
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


# ---------------------------------------------------------------- reading, bounded and checked


def lstat_listed(path: Path, fix: str, what: str) -> os.stat_result:
    """`os.lstat` of a `what` ("file" or "folder") the manifest lists, refused if it is missing, cannot be read,
    or is a link (links in a models folder are never followed); `fix` ends the message (what to do)."""
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        raise ArtifactError(f"{path} is listed in the manifest but missing; {fix}") from None
    except OSError as e:
        raise ArtifactError(f"{path} cannot be read ({e.strerror}); {fix}") from None
    if stat.S_ISLNK(st.st_mode):
        raise ArtifactError(f"{path} is a symbolic link, and links in a models folder are never followed; "
                            f"replace it with the {what} itself")
    return st


def read_bounded(path: Path, limit: int, fix: str) -> bytes:
    """The bytes of the regular file `path`, refused before a byte is read if it is a link, not a regular
    file (a FIFO would block), or larger than `limit`; `fix` ends the message (what to do)."""
    path = Path(path)
    st = lstat_listed(path, fix, "file")
    if not stat.S_ISREG(st.st_mode):
        raise ArtifactError(f"{path} is not a regular file; {fix}")
    if st.st_size > limit:
        raise ArtifactError(f"{path} is {st.st_size:,} bytes, more than the {limit:,} its run's settings allow; "
                            f"it is not read; {fix}")
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0))
        with os.fdopen(fd, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise ArtifactError(f"{path} cannot be read ({e.strerror}); {fix}") from e
    if len(data) > limit:  # it grew since lstat
        raise ArtifactError(f"{path} is more than the {limit:,} bytes its run's settings allow; {fix}")
    return data


def json_depth(data: bytes) -> int:
    """How deeply lists and objects nest in the JSON text `data`, found before parsing it (vectorised, linear):
    brackets inside strings do not count, and a quote after an odd run of backslashes does not end a string."""
    b = np.frombuffer(data, np.uint8)
    quote = b == ord('"')
    backslash = b == ord("\\")
    if backslash.any():
        i = np.arange(len(b), dtype=np.int32)
        run = i - np.maximum.accumulate(np.where(backslash, -1, i))  # backslashes ending at each position
        quote[1:] &= run[:-1] % 2 == 0
    outside = np.cumsum(quote, dtype=np.int32) % 2 == 0  # a bracket is never a quote: its parity is its own
    step = ((b == ord("[")) | (b == ord("{"))).astype(np.int8) - ((b == ord("]")) | (b == ord("}")))
    return int(np.cumsum(step * outside, dtype=np.int32).max(initial=0))


def parse_json(data: bytes, path: Path, fix: str, what: str = "valid JSON"):
    """JSON from `data`, refused if it nests deeper than MAX_JSON_DEPTH (checked on the text, before parsing:
    valid JSON 100,000 levels deep would stop the parser, and anything walking the result, at Python's
    recursion limit) or is not valid JSON. The message says `path` is not `what`."""
    depth = json_depth(data)
    if depth > schema.MAX_JSON_DEPTH:
        raise ArtifactError(f"{path} is not {what} (it nests {depth:,} levels deep, at most "
                            f"{schema.MAX_JSON_DEPTH} are allowed; it was not parsed); {fix}")
    try:
        return json.loads(data)
    except (ValueError, RecursionError) as e:  # JSONDecodeError, UnicodeDecodeError, a number of too many digits
        raise ArtifactError(f"{path} is not {what} ({str(e)[:120]}); {fix}") from None


NPZ_ERRORS = (zipfile.BadZipFile, zipfile.LargeZipFile, OSError, EOFError, ValueError, NotImplementedError,
              RuntimeError, SyntaxError)  # what zipfile and np.lib.format raise on a damaged file


def parse_npz(data: bytes, path: Path, spec: dict[str, schema.Array], fix: str) -> dict[str, np.ndarray]:
    """The arrays of the npz in `data`: exactly `spec`'s names, each member's declared size and npy header
    (dtype, shape) checked before anything is decompressed, then its values (never unpickled)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as z:
            names = [i.filename for i in z.infolist()]
            wanted = [f"{k}.npy" for k in spec]
            if sorted(names) != sorted(wanted):
                raise ArtifactError(f"{path} {_members_wrong(names, wanted)}; a run of these settings holds "
                                    f"exactly the arrays {', '.join(spec)}; {fix}")
            return {k: _npz_member(z, z.getinfo(f"{k}.npy"), k, a) for k, a in spec.items()}
    except ArtifactError:
        raise
    except schema.Invalid as e:
        raise ArtifactError(f"{path}: {e}; {fix}") from None
    except NPZ_ERRORS as e:
        raise ArtifactError(f"{path} is not a readable npz file ({str(e)[:120]}); {fix}") from None


def _members_wrong(names: list[str], wanted: list[str]) -> str:
    """What is wrong with an npz's member names, in words ("lacks bias_2.npy; holds unexpected x.npy")."""
    def shown(found):
        plain = [n if re.fullmatch(r"[A-Za-z0-9_]{1,30}\.npy", n) else schema.inert(n, 30) for n in found[:5]]
        return ", ".join(plain) + (" ..." if len(found) > 5 else "")

    missing = [n for n in wanted if n not in names]
    extra = [n for n in names if n not in wanted]
    twice = sorted({n for n in names if names.count(n) > 1})
    parts = ([f"lacks {shown(missing)}"] * bool(missing) + [f"holds unexpected {shown(extra)}"] * bool(extra)
             + [f"holds {shown(twice)} more than once"] * bool(twice))
    return "; ".join(parts) or "is empty"


def _npz_member(z: zipfile.ZipFile, info: zipfile.ZipInfo, key: str, spec: schema.Array) -> np.ndarray:
    """One array, its data read only once its npy header (a few bytes in) and its declared size match `spec`:
    the memory is the expected array's, whatever the header or the zip declare."""
    if info.flag_bits & 0x1 or info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
        raise schema.Invalid(key, "encrypted or compressed with an unusual method", "stored or deflated")
    with z.open(info) as f:
        version = np.lib.format.read_magic(f)
        read_header = {(1, 0): np.lib.format.read_array_header_1_0,
                       (2, 0): np.lib.format.read_array_header_2_0}.get(version)
        if read_header is None:
            raise schema.Invalid(key, f"an npy file of version {version}", "version 1.0 or 2.0")
        shape, fortran, dtype = read_header(f, max_header_size=schema.NPY_HEADER_BYTES)
        if dtype.str not in spec.dtypes or shape != spec.shape or fortran:
            found = f"{schema.dtype_words(dtype)} of shape {shape}{' (Fortran order)' * fortran}"
            raise schema.Invalid(key, found, spec.describe())
        nbytes = math.prod(shape) * dtype.itemsize
        if info.file_size != f.tell() + nbytes:
            raise schema.Invalid(key, f"declared as {info.file_size:,} bytes uncompressed",
                                 f"{f.tell() + nbytes:,} ({spec.describe()} and its header)")
        raw = f.read(nbytes)
        if len(raw) != nbytes or f.read(1):  # reading to the end also checks the CRC
            raise schema.Invalid(key, "truncated", f"{nbytes:,} bytes of data")
    array = np.frombuffer(raw, dtype).reshape(shape)
    if dtype.kind == "f" and not np.isfinite(array).all():
        raise schema.Invalid(key, "holding NaN or infinite values", "finite numbers")
    if array.size and (array.min() < spec.lo or array.max() > spec.hi):
        raise schema.Invalid(key, f"holding values from {array.min()} to {array.max()}",
                             f"values from {spec.lo:g} to {spec.hi:g}")
    return array


def parse_weights(data: bytes, path: Path, exp: Experiment, fix: str) -> list[DenseLayer]:
    """A run's Dense layers: weights.npz's kernels and biases, with names and activations from `exp`."""
    arrays = parse_npz(data, path, schema.weights_spec(exp), fix)
    return [DenseLayer(name, arrays[f"kernel_{i}"], arrays[f"bias_{i}"], activation)
            for i, (name, activation) in enumerate(zip(schema.layer_names(exp.arch), schema.activations(exp)))]


def weights_limit(exp: Experiment) -> int:
    return schema.npz_limit(schema.weights_spec(exp))


def run_file_limit(exp: Experiment, file: str) -> int:
    """The most bytes a run of `exp` may hold in `file` (`read_bounded` refuses more, unread)."""
    return {"weights.npz": weights_limit, "history.json": schema.history_limit,
            "probes.npz": schema.probes_limit}[file](exp)


def parse_history(data: bytes, path: Path, exp: Experiment, experiment: dict, fix: str) -> dict:
    """A run's record (see `aecompare.training.trainer`), checked against `schema.history_spec`: its epochs are
    1, 2, ... up to what `exp` trained (or to divergence), each with one row per layer of the net."""
    record = parse_json(data, path, fix)
    try:
        schema.check(record, schema.Record({"diverged_epoch": schema.Maybe(schema.Int(1, exp.epochs))}))
        epochs = schema.recorded_epochs(exp, record["diverged_epoch"])
        schema.check(record, schema.history_spec(exp, experiment, epochs))
    except schema.Invalid as e:
        raise ArtifactError(f"{path}: {e}; {fix}") from None
    return record


def parse_probes(data: bytes, path: Path, epochs: int, fix: str) -> dict[str, np.ndarray]:
    """Probe-digit reconstructions before training and after the kept ones of `epochs` epochs (see `encode_images`
    and `schema.probe_epochs_kept`); files without an `epochs` array hold every epoch, and are given one."""
    try:
        every_epoch = "epochs.npy" not in zipfile.ZipFile(io.BytesIO(data)).namelist()
    except NPZ_ERRORS:
        every_epoch = False  # parse_npz reports it
    probes = parse_npz(data, path, schema.probes_spec(epochs, every_epoch), fix)
    if np.any(probes["lo"] > probes["hi"]):
        raise ArtifactError(f"{path}: lo is above hi for some image (lo and hi are each image's lowest and highest "
                            f"value); {fix}")
    if every_epoch:
        probes["epochs"] = np.arange(epochs + 1)
        probes["epochs"].setflags(write=False)  # as every array read from a file: shared by every visitor
    elif probes["epochs"].tolist() != schema.probe_epochs_kept(epochs):
        raise ArtifactError(f"{path}: its epochs are not the kept epochs of a run of {epochs} epochs "
                            f"(0-10, then every 5th and the last); {fix}")
    return probes


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
