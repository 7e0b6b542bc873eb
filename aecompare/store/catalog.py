"""The trained runs in a models folder, loaded for reading (dashboard, evaluation, tests).

`load_catalog` never raises for a bad artifact: every run that loads is returned, and each
problem (missing file, checksum mismatch, a file that does not match `aecompare.store.schema`, an unlisted
folder, a link, a duplicate entry...) becomes one message naming the file and what to do. Nothing
here writes or deletes anything, follows a link, reads a file outside the models folder, or reads
any file larger than its run's settings allow.
"""

from __future__ import annotations

import functools
import hashlib
import os
import re
import stat
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..maths.network import DenseLayer, forward
from ..maths.pixel_losses import READOUTS
from ..registry import Experiment, name_order
from . import artifacts, schema
from .artifacts import (
    MANIFEST,
    OLD_RUN_FILES,
    PROBES_SEED,
    RETRAIN,
    RUN_FILES,
    UPGRADE,
    ArtifactError,
    parse_history,
    parse_probes,
    parse_weights,
    read_bounded,
    read_manifest,
    run_file_limit,
    run_files,
)


class Deferred:
    """Parsed file contents, parsed when the catalog loads or, if deferred, on first use (the files are read and
    checked against the manifest's sha256 when the catalog loads, and again when parsed): the dashboard draws one
    seed per model and never parses the other seeds' weights, nor their records until a chart needs them."""

    def __init__(self, parse: Callable[[], object], deferred: bool):
        self._parse = parse
        self._lock = threading.Lock()
        self._value = None if deferred else parse()

    def get(self):
        """The contents (arrays read-only); ArtifactError if a deferred file no longer reads as it did."""
        with self._lock:
            if self._value is None:
                self._value = self._parse()
            return self._value


@dataclass(frozen=True, eq=False)
class Run:
    """One trained model (a name and a seed) with everything recorded about it."""

    exp: Experiment
    entry: dict
    weights: Deferred  # weights.npz: list[DenseLayer]
    record: Deferred  # history.json and probes.npz: (history, probes)

    @property
    def layers(self) -> list[DenseLayer]:
        return self.weights.get()

    @property
    def history(self) -> dict:
        """The training record (`aecompare.training.trainer`): per epoch losses, diagnostics, seconds."""
        return self.record.get()[0]

    @property
    def probes(self) -> dict | None:
        """The probe digits' reconstructions per kept epoch; None for seeds other than artifacts.PROBES_SEED (they
        keep no probe images)."""
        return self.record.get()[1]

    @property
    def name(self) -> str:
        return self.exp.name

    @property
    def seed(self) -> int:
        return self.exp.seed

    @property
    def scale(self) -> float:
        """Multiply [0, 1] pixels by this to get the model's own input/target scale."""
        return self.exp.pixel_scale

    @property
    def reads_mean(self) -> bool:
        """True when the model's output is a distribution's parameter and its reconstruction that
        distribution's mean (the continuous Bernoulli: λ -> E[x | λ]; `losses.READOUTS`)."""
        return self.exp.loss in READOUTS

    def reconstruct(self, x_unit: np.ndarray, raw_output: bool = False) -> np.ndarray:
        """Reconstructions of images (n, 784) on [0, 1], on the [0, 1] scale (raw outputs / 255); for a
        CB model its mean E[x | λ], or λ itself with `raw_output`."""
        return self._read(self.own_outputs(x_unit), raw_output)

    def own_outputs(self, x_unit: np.ndarray) -> np.ndarray:
        """Outputs on the model's own scale (what its loss was computed on)."""
        return forward(self.layers, x_unit, scale=self.scale)

    def codes(self, x_unit: np.ndarray) -> np.ndarray:
        """Bottleneck activations (n, code size) for images on [0, 1]."""
        return forward(self.layers, x_unit, keep=(self.exp.arch.code_layer,), scale=self.scale)[0]

    def codes_and_reconstruction(self, x_unit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """`codes` and `reconstruct` of the same images from one forward pass."""
        codes, out = forward(self.layers, x_unit, keep=(self.exp.arch.code_layer, -1), scale=self.scale)
        return codes, self._read(out, raw_output=False)

    def _read(self, outputs: np.ndarray, raw_output: bool) -> np.ndarray:
        outputs /= np.float32(self.scale)
        return outputs if raw_output or not self.reads_mean else READOUTS[self.exp.loss](outputs)


@dataclass
class Catalog:
    models_dir: Path
    runs: list[Run] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)

    def names(self) -> list[str]:
        """Model names in registry order (the runs are kept in that order; see `registry_order`)."""
        return list(dict.fromkeys(r.name for r in self.runs))

    def by_name(self, name: str) -> list[Run]:
        """Every seed of one model, lowest seed first."""
        return sorted((r for r in self.runs if r.name == name), key=lambda r: r.seed)

    def first_seeds(self, names=None) -> list[Run]:
        """The run the views draw of each model (its lowest seed): of every model in registry order, or of
        `names` in their order (a name with no run is left out)."""
        return [runs[0] for runs in map(self.by_name, self.names() if names is None else names) if runs]


def check_entry(models_dir: Path, entry) -> tuple[Experiment, Path]:
    """`entry_settings` of a run in the current format. A run in the old format (model.keras) gets one message
    saying how to convert it; its model.keras is never opened."""
    exp, run_dir, old = entry_settings(models_dir, entry)
    if old:
        raise ArtifactError(f"{run_dir / 'model.keras'} is a run in the old format (a Keras file, which the app "
                            f"no longer reads); {UPGRADE.format(models_dir=models_dir)}")
    return exp, run_dir


def entry_settings(models_dir: Path, entry) -> tuple[Experiment, Path, bool]:
    """A manifest entry's settings, run folder and whether it is in the old format (lists model.keras), refused
    (ArtifactError naming the manifest) unless the entry matches `schema.entry_spec`: a safe name, path
    `<name>/seed-<seed>-<stamp>`, a sha256 per run file and an experiment from the code's vocabularies."""
    manifest = Path(models_dir) / MANIFEST
    if not isinstance(entry, dict):
        raise ArtifactError(f"{manifest} holds an entry that is not an object ({schema.brief(entry)}); delete it")
    try:
        schema.check(entry, schema.IDENTITY)
    except schema.Invalid as e:
        name = f" {entry['name']}" if schema.NAME.ok(entry.get("name")) else ""  # else the message shows it, inert
        raise ArtifactError(f"{manifest}: manifest entry{name} {_invalid(e)}; the entry is ignored "
                            "(fix or delete it)") from None
    name, seed = entry["name"], entry["seed"]
    old = isinstance(entry.get("files"), dict) and "model.keras" in entry["files"]
    try:
        files = OLD_RUN_FILES if old else run_files(seed)
        schema.check(entry, schema.entry_spec(name, seed, files, tuple(f for f in RUN_FILES if f not in files)))
    except schema.Invalid as e:
        raise ArtifactError(f"{manifest}: manifest entry {name} seed {seed} {_invalid(e)}; the entry is ignored "
                            f"({RETRAIN.format(name=name)})") from None
    exp = Experiment.from_dict(entry["experiment"])
    if schema.parameters(exp.arch) > schema.MAX_PARAMETERS:
        raise ArtifactError(f"{manifest}: manifest entry {name} seed {seed} describes a net of "
                            f"{schema.parameters(exp.arch):,} weights, more than the {schema.MAX_PARAMETERS:,} "
                            "allowed; the entry is ignored")
    return exp, run_folder(models_dir, entry["path"], RETRAIN.format(name=name)), old


def _invalid(e: schema.Invalid) -> str:
    if e.found == schema.EXTRA:
        return f"has an unexpected field {e.where}"
    return f"has an invalid {e.where}: {e.found}, expected {e.expected}"


def run_folder(models_dir: Path, rel: str, fix: str) -> Path:
    """`models_dir / rel` (a checked `<name>/seed-...` path), each part a real folder: links are not followed."""
    path = Path(models_dir)
    for part in rel.split("/"):
        path = path / part
        if not stat.S_ISDIR(artifacts.lstat_listed(path, fix, "folder").st_mode):
            raise ArtifactError(f"{path} is not a folder; {fix}")
    return path


def read_run_file(run_dir: Path, file: str, exp: Experiment, entry: dict, fix: str, verify: bool = True) -> bytes:
    """A run file's bytes (bounded by `run_file_limit`), refused if they do not match the manifest's sha256."""
    path = run_dir / file
    data = read_bounded(path, run_file_limit(exp, file), fix)
    if verify and hashlib.sha256(data).hexdigest() != entry["files"][file]:
        raise ArtifactError(f"{path} does not match its sha256 in the manifest (changed or damaged); {fix}")
    return data


def load_run(models_dir: Path, entry: dict, verify: bool = True, defer: bool = False) -> Run:
    """Load one manifest entry, every file checked (`aecompare.store.schema`); raises ArtifactError naming the file.

    `defer`: the files are read and their sha256 checked now, but parsed (and checked) on first use (`Deferred`)."""
    exp, run_dir = check_entry(models_dir, entry)
    fix = RETRAIN.format(name=exp.name)
    read = functools.partial(read_run_file, run_dir, exp=exp, entry=entry, fix=fix, verify=verify)

    def parse_layers() -> list[DenseLayer]:
        return parse_weights(read("weights.npz"), run_dir / "weights.npz", exp, fix)

    def parse_record() -> tuple[dict, dict | None]:
        history = parse_history(read("history.json"), run_dir / "history.json", exp, entry["experiment"], fix)
        probes = (parse_probes(read("probes.npz"), run_dir / "probes.npz", len(history["epochs"]), fix)
                  if "probes.npz" in entry["files"] else None)
        return history, probes

    if defer:
        for file in entry["files"]:
            read(file)
    return Run(exp, entry, Deferred(parse_layers, defer), Deferred(parse_record, defer))


def hashed_entries(models_dir: Path) -> list[dict] | None:
    """The manifest's entries if every one is valid and its files match their sha256 (read bounded and hashed,
    not parsed: a quick check that stored results still describe these files); None otherwise."""
    try:
        entries = artifacts.read_manifest(models_dir)
        for entry in entries:
            exp, run_dir = check_entry(models_dir, entry)
            for file in entry["files"]:
                read_run_file(run_dir, file, exp, entry, fix="")
    except ArtifactError:
        return None
    return entries


def is_up_to_date(models_dir: Path, exp: Experiment) -> bool:
    """True if the manifest holds this exact experiment and its files match their sha256."""
    try:
        entry = artifacts.find_entry(artifacts.read_manifest(models_dir), exp.name, exp.seed)
    except artifacts.ArtifactError:
        return False
    try:
        if not entry or Experiment.from_dict(entry["experiment"]) != exp:
            return False
    except (KeyError, TypeError, ValueError):
        return False
    # Up to date means the catalog would load it: a run whose files match their sha256 but are
    # unusable (a committed NaN history, a foreign model) is retrained without --force.
    try:
        load_run(Path(models_dir), entry)
    except artifacts.ArtifactError:
        return False
    return True


def registry_order(run: Run) -> tuple:
    """Sort key: the registry's order of models (`registry.name_order`), then seed."""
    return *name_order(run.name), run.seed


def load_catalog(models_dir: Path | str, verify: bool = True, defer_seeds: bool = False) -> Catalog:
    """Every loadable run in `models_dir`, plus one message per problem found (never raises for a bad file).

    `defer_seeds` (the dashboard): the files of seeds other than `PROBES_SEED`, which the views draw only as the
    seeds' spread (from their records and the stored results), are checked against their sha256 now and parsed
    only when used (`Deferred`)."""
    models_dir = Path(models_dir)
    catalog = Catalog(models_dir)
    if not models_dir.is_dir():
        catalog.problems.append(f"{models_dir} does not exist: train models with python -m aecompare.train "
                                f"(or restore them with git checkout models/)")
        return catalog
    try:
        entries = read_manifest(models_dir)
    except ArtifactError as e:
        # One message: without a manifest every run folder would otherwise be reported as unlisted.
        catalog.problems.append(str(e))
        return catalog
    if not entries and not os.path.lexists(models_dir / MANIFEST):
        catalog.problems.append(f"{models_dir / MANIFEST} is missing: no trained models to show; train them "
                                "with python -m aecompare.train")
    seen, listed = set(), set()
    for entry in entries:
        try:
            identity = _listed_as(entry, listed)
            if identity is not None and identity in seen:
                raise ArtifactError(f"{models_dir / MANIFEST} lists {identity[0]} seed {identity[1]} more than once: "
                                    "the first entry is used; delete the other")
            seen.add(identity)
            defer = defer_seeds and _field(entry, "seed") != PROBES_SEED
            catalog.runs.append(load_run(models_dir, entry, verify, defer))
        except ArtifactError as e:
            catalog.problems.append(str(e))
        except Exception as e:  # a case no check foresaw: still one message, and the other runs still show
            catalog.problems.append(f"{models_dir / MANIFEST}: the run of entry {schema.brief(_field(entry, 'path'))} "
                                    f"could not be loaded ({type(e).__name__}: {schema.inert(str(e), 120)})")
    catalog.runs.sort(key=registry_order)
    catalog.problems += unlisted_on_disk(models_dir, listed)
    return catalog


def _field(entry, key):
    return entry.get(key) if isinstance(entry, dict) else None


def _listed_as(entry, listed: set[str]) -> tuple | None:
    """An entry's (name, seed) when both are valid; its path is added to `listed` when it has the form of one."""
    if not isinstance(entry, dict):
        return None
    if schema.RUN_PATH.ok(entry.get("path")):  # a bad entry whose folder is there: one message (the entry's)
        listed.add(entry["path"])
    if not schema.NAME.ok(entry.get("name")) or not schema.SEED.ok(entry.get("seed")):
        return None
    return entry["name"], entry["seed"]


def _shown(models_dir: Path, *parts: str) -> str:
    """A path under `models_dir` for a message: names from the disk that are not plain are shown inert."""
    return str(Path(models_dir, *(p if re.fullmatch(r"[A-Za-z0-9._-]{1,100}", p) else schema.inert(p, 40)
                                  for p in parts)))


def unlisted_on_disk(models_dir: Path, listed: set[str]) -> list[str]:
    """One message per run folder (`<name>/<run>`) on disk that no entry lists, and per link found there
    (never followed: a link to /etc is one message, not a listing of /etc). Hidden entries (staging) are skipped."""
    problems = []
    listed_names = {p.split("/")[0] for p in listed}
    for top in _scan(models_dir):
        if top.name == artifacts.RESULTS_DIR and top.is_dir(follow_symlinks=False):
            continue
        if top.is_symlink():
            if top.name not in listed_names:  # a listed one is reported by load_run
                problems.append(f"{_shown(models_dir, top.name)} is a symbolic link, and links in a models folder "
                                "are never followed: it is ignored (delete it)")
        elif top.is_dir(follow_symlinks=False):
            for run in _scan(top.path):
                if f"{top.name}/{run.name}" in listed or not (run.is_symlink() or run.is_dir(follow_symlinks=False)):
                    continue
                kind = "a symbolic link (never followed)" if run.is_symlink() else f"on disk but not in {MANIFEST}"
                problems.append(f"{_shown(models_dir, top.name, run.name)} is {kind}: it is ignored "
                                "(delete it, or retrain that model to list it)")
    return problems


def _scan(folder) -> list[os.DirEntry]:
    """The entries of `folder` not hidden, by name; [] if it cannot be listed."""
    try:
        with os.scandir(folder) as it:
            return sorted((e for e in it if not e.name.startswith(".")), key=lambda e: e.name)
    except OSError:
        return []
