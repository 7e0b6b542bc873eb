"""Stored results: what `analysis.analyse` derives, written next to the models and read back instantly.

As TensorBoard reads event files, the dashboard reads these instead of recomputing them. Layout:
`models/results/<stamp>/` holds
- `evaluation.csv`, `seed_summary.csv`, `per_class.csv`, `outputs.csv` (how outputs follow inputs,
  `diagnostics.output_statistics`): the tables;
- `per_image.npz` (per-image MSE), `error_maps.npz` (per-pixel mean squared/absolute error),
  `latent.npz` (2-D projections of the codes, the test labels, the t-SNE subsample),
  `singular_values.npz`: arrays keyed "<name>/seed-<k>/<what>".
The manifest's "results" entry lists the folder, each file's sha256 and a fingerprint of the inputs:
each run's files (their sha256), the test and training images' sha256 and `METRICS_VERSION`. A
retrained model, other data or a changed metric therefore reads as stale, never as fresh.
Written like a run: a staging folder, renamed into place, then the manifest, then the old folder goes.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from ..maths.metrics import METRICS_VERSION
from ..store import artifacts
from .columns import TABLE_DTYPES

if TYPE_CHECKING:
    from .analysis import Results

RESULTS_DIR = artifacts.RESULTS_DIR
TABLES = {"evaluation.csv": "table", "per_class.csv": "per_class", "outputs.csv": "outputs"}
SUMMARY_FILE = "seed_summary.csv"
ARRAY_FILES = {  # file -> the array names ("<what>" suffixes, or shared keys) it holds
    "per_image.npz": ("per_image_mse",),
    "error_maps.npz": ("squared_map", "absolute_map"),
    "latent.npz": ("latent_pca", "latent_tsne", "test_labels", "tsne_index"),
    "singular_values.npz": ("singular_values_",),
}
MAX_FILE_BYTES = 32 << 20  # far above what the registry's runs need (a few MB): refuse anything bigger unread
REBUILD = "python -m aecompare.evaluate --write"


class ResultsError(RuntimeError):
    """Stored results are missing, stale or unreadable; the message names the file and the command."""


def run_digest(entry: dict) -> str:
    """sha256 of a manifest entry's file checksums: changes whenever any file of the run does."""
    return hashlib.sha256(json.dumps(entry.get("files", {}), sort_keys=True).encode()).hexdigest()


def fingerprint(runs, test_sha256: dict[str, str], train_sha256: dict[str, str] | None = None) -> dict:
    """What results computed now from `runs` (a Catalog, or manifest entries) and these images (dataset name ->
    `data.arrays_sha256` of its test or training images and labels) would be computed from."""
    entries = [r.entry for r in runs.runs] if hasattr(runs, "runs") else list(runs)
    return {"metrics_version": METRICS_VERSION, "test_images_sha256": test_sha256,
            "train_images_sha256": train_sha256,
            "runs": {f"{e['name']}/seed-{e['seed']}": run_digest(e) for e in entries}}


def _file_of(key: str) -> str:
    what = key.rsplit("/", 1)[-1]
    return next(f for f, names in ARRAY_FILES.items() if any(what.startswith(n) for n in names))


def _files(results: Results) -> dict[str, bytes]:
    """The results as file contents."""
    out = {name: getattr(results, attr).to_csv(index=False).encode() for name, attr in TABLES.items()}
    out[SUMMARY_FILE] = results.seed_summary.to_csv(index=False).encode()
    grouped: dict[str, dict[str, np.ndarray]] = {f: {} for f in ARRAY_FILES}
    for key, value in results.arrays.items():
        grouped[_file_of(key)][key] = value
    out.update({f: artifacts.npz_bytes(**arrays) for f, arrays in grouped.items()})
    return out


def _read_document(models_dir: Path) -> dict:
    path = Path(models_dir) / artifacts.MANIFEST
    try:
        doc = json.loads(path.read_text()) if path.exists() else {"format": 1, "models": []}
    except (OSError, ValueError, RecursionError) as e:
        raise ResultsError(f"{path} is not readable ({e})") from e
    if not isinstance(doc, dict):
        raise ResultsError(f"{path} is not a manifest (not a JSON object)")
    return doc


def write(models_dir: Path, results: Results, fp: dict) -> Path:
    """Publish `results` computed from inputs `fp` under models_dir; returns the new folder."""
    models_dir = Path(models_dir)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    final = models_dir / RESULTS_DIR / stamp
    stage = models_dir / RESULTS_DIR / f"{artifacts.STAGING_PREFIX}{stamp}"
    stage.mkdir(parents=True, exist_ok=False)
    try:
        files = _files(results)
        for name, data in files.items():
            (stage / name).write_bytes(data)
        doc = _read_document(models_dir)
        old = doc.get("results") if isinstance(doc.get("results"), dict) else None
        doc["results"] = {"path": f"{RESULTS_DIR}/{stamp}",
                          "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
                          "files": {n: hashlib.sha256(d).hexdigest() for n, d in files.items()}, "fingerprint": fp}
        manifest = models_dir / artifacts.MANIFEST
        tmp = artifacts.write_temp_beside(manifest, (json.dumps(doc, indent=1, allow_nan=False) + "\n").encode())
        os.replace(stage, final)
        os.replace(tmp, manifest)
    except BaseException:
        shutil.rmtree(stage, ignore_errors=True)
        raise
    if old and old.get("path") != doc["results"]["path"]:
        superseded = models_dir / str(old.get("path", ""))
        if superseded.parent == final.parent and superseded.is_dir() and not superseded.is_symlink():
            shutil.rmtree(superseded, ignore_errors=True)
    return final


@dataclass(frozen=True)
class Stored:
    """Results read from disk, with the fingerprint they were computed from and where they live."""

    results: Results
    fingerprint: dict
    path: Path

    def stale_reasons(self, current: dict) -> list[str]:
        return stale_reasons(self.fingerprint, current)


def stale_reasons(stored: dict, current: dict) -> list[str]:
    """Why results computed from inputs `stored` (see `fingerprint`) no longer describe `current` ones; [] if fresh.

    Runs that the stored results hold but the catalog could not load are no reason: their rows are
    simply not shown. A run the catalog holds whose files changed, or that is missing, is.
    """
    reasons = []
    if stored.get("metrics_version") != current["metrics_version"]:
        reasons.append(f"they were computed by metric code version {stored.get('metrics_version')}, "
                       f"this is version {current['metrics_version']}")
    stored_tests = stored.get("test_images_sha256")
    stored_tests = stored_tests if isinstance(stored_tests, dict) else {}
    other = [d for d, sha in current["test_images_sha256"].items() if stored_tests.get(d) != sha]
    if other:
        reasons.append(f"they were computed on other {', '.join(other)} test images")
    stored_runs = stored.get("runs") or {}
    changed = [r for r, d in current["runs"].items() if r in stored_runs and stored_runs[r] != d]
    missing = [r for r in current["runs"] if r not in stored_runs]
    if changed:
        reasons.append(f"{', '.join(changed)} changed since (retrained?)")
    if missing:
        reasons.append(f"{', '.join(missing)} {'is' if len(missing) == 1 else 'are'} not in them")
    return reasons


def _checked_bytes(path: Path, expected: str | None) -> bytes:
    if path.is_symlink() or not path.is_file():
        raise ResultsError(f"{path} is missing (or a link); rebuild the results with {REBUILD}")
    if path.stat().st_size > MAX_FILE_BYTES:
        raise ResultsError(f"{path} is {path.stat().st_size / 1e6:.0f} MB, over the {MAX_FILE_BYTES >> 20} MB "
                           f"limit; it is not read. Rebuild the results with {REBUILD}")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != expected:
        raise ResultsError(f"{path} does not match its sha256 in the manifest; rebuild the results with {REBUILD}")
    return data


def _entry(models_dir: Path) -> dict | None:
    """The manifest's "results" entry, its shape and path checked; None if there is none."""
    entry = _read_document(models_dir).get("results")
    if entry is None:
        return None
    if not isinstance(entry, dict) or not isinstance(entry.get("files"), dict):
        raise ResultsError(f"{models_dir / artifacts.MANIFEST}: its 'results' entry is malformed; "
                           f"rebuild with {REBUILD}")
    rel = entry.get("path")
    if not isinstance(rel, str) or Path(rel).parts[:1] != (RESULTS_DIR,) or ".." in Path(rel).parts:
        raise ResultsError(f"{models_dir / artifacts.MANIFEST}: results path {str(rel)[:80]!r} is not inside "
                           f"{RESULTS_DIR}/; rebuild with {REBUILD}")
    return entry


def _fingerprint_of(entry: dict) -> dict:
    return entry.get("fingerprint") if isinstance(entry.get("fingerprint"), dict) else {}


def read_file(models_dir: Path, name: str) -> tuple[bytes, dict] | None:
    """One stored file's bytes, checked against its sha256, and the fingerprint of the results; None if there
    are no stored results. Needs neither pandas nor the other files (the command line's quick table)."""
    models_dir = Path(models_dir)
    entry = _entry(models_dir)
    if entry is None:
        return None
    return _checked_bytes(models_dir / entry["path"] / name, entry["files"].get(name)), _fingerprint_of(entry)


def read(models_dir: Path) -> Stored | None:
    """The stored results listed in the manifest, checked against their sha256; None if there are none.

    Raises ResultsError (naming the file) if they are listed but unusable.
    """
    import pandas as pd

    from .analysis import Results

    models_dir = Path(models_dir)
    entry = _entry(models_dir)
    if entry is None:
        return None
    folder = models_dir / entry["path"]
    data = {name: _checked_bytes(folder / name, entry["files"].get(name))
            for name in (*TABLES, *ARRAY_FILES)}
    try:
        dtypes = {"table": TABLE_DTYPES, "outputs": {"name": "str"}, "per_class": {"name": "str"}}
        tables = {attr: pd.read_csv(io.BytesIO(data[name]), dtype=dtypes[attr])
                  for name, attr in TABLES.items()}
        arrays = {}
        for name in ARRAY_FILES:
            with np.load(io.BytesIO(data[name]), allow_pickle=False) as f:
                arrays.update({k: f[k] for k in f.files})
    except (ValueError, OSError, KeyError, EOFError, pd.errors.ParserError) as e:
        raise ResultsError(f"{folder} holds unreadable results ({e}); rebuild them with {REBUILD}") from e
    return Stored(Results(tables["table"], tables["per_class"], tables["outputs"], arrays), _fingerprint_of(entry),
                  folder)


def relative(path: Path, models_dir: Path) -> str:
    """`path` named from the models folder's parent (e.g. models/results/...), never as an absolute path."""
    with contextlib.suppress(ValueError):
        return str(Path(models_dir).name / Path(path).relative_to(models_dir))
    return Path(path).name
