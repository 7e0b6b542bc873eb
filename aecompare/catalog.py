"""The trained runs in a models folder, loaded for reading (dashboard, evaluation, tests).

`load_catalog` never raises for a bad artifact: every run that loads is returned, and each
problem (missing file, checksum mismatch, corrupt model, unlisted folder...) becomes one
message naming the file and what to do. Nothing here writes or deletes anything.
"""

from __future__ import annotations

import contextlib
import functools
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .artifacts import (
    MANIFEST,
    RUN_FILES,
    STAGING_PREFIX,
    ArtifactError,
    read_dense_layers,
    read_history,
    read_manifest,
    read_probes,
    sha256_file,
)
from .diagnostics import singular_values
from .losses import READOUTS
from .network import DenseLayer, forward
from .registry import Experiment, model_names

RESULTS_DIR = "results"  # stored results (aecompare.results), not a model
RETRAIN = "retrain it with: python -m aecompare.train --force --only {name}"


@dataclass(frozen=True, eq=False)
class Run:
    """One trained model (a name and a seed) with everything recorded about it."""

    exp: Experiment
    entry: dict
    layers: list[DenseLayer]
    history: dict
    probes: dict

    @property
    def name(self) -> str:
        return self.exp.name

    @property
    def seed(self) -> int:
        return self.exp.seed

    @property
    def scale(self) -> float:
        """Multiply [0, 1] pixels by this to get the model's own input/target scale."""
        return 255.0 if self.exp.scale == "raw" else 1.0

    @functools.cached_property
    def singular_values(self) -> list[np.ndarray]:
        """Each weight matrix's singular values, largest first: computed once per run, however many
        visitors' pages show them."""
        return [singular_values(layer.kernel) for layer in self.layers]

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

    def first_seeds(self) -> list[Run]:
        """One run per model (its lowest seed), in registry order of appearance."""
        return [self.by_name(n)[0] for n in self.names()]


MAX_PATH_CHARS = 512  # a run path is "<name>/seed-<seed>-<stamp>": far shorter than this


def run_dir_of(models_dir: Path, entry: dict) -> Path:
    """The run folder a manifest entry names, refused (ArtifactError) unless it lies inside `models_dir`.

    Checked on the text first, so a NUL byte or an over-long name never reaches the OS.
    """
    name = entry.get("name", "?")
    rel = entry.get("path")
    if (not isinstance(rel, str) or not rel or "\0" in rel or len(rel) > MAX_PATH_CHARS
            or Path(rel).is_absolute() or ".." in Path(rel).parts):
        shown = repr(rel)[:80] + ("..." if len(repr(rel)) > 80 else "")
        raise ArtifactError(f"manifest entry {name!r} has an invalid path {shown}: it must be a folder "
                            f"inside {models_dir}; the entry is ignored")
    root = Path(models_dir).resolve()
    try:
        run_dir = (root / rel).resolve()
    except (OSError, ValueError) as e:
        raise ArtifactError(f"manifest entry {name!r} has an unusable path {rel!r} ({e})") from e
    if root not in run_dir.parents:
        raise ArtifactError(f"manifest entry {name!r} points outside {models_dir}: {rel!r}")
    return run_dir


def load_run(models_dir: Path, entry: dict, verify: bool = True) -> Run:
    """Load one manifest entry; raises ArtifactError naming the file at fault."""
    if not isinstance(entry, dict):
        raise ArtifactError(f"{Path(models_dir) / MANIFEST} holds an entry that is not an object: {entry!r:.80}")
    name = entry.get("name", "?")
    run_dir = run_dir_of(models_dir, entry)
    root = Path(models_dir).resolve()
    files = entry.get("files")
    if not isinstance(files, dict):
        raise ArtifactError(f"manifest entry {name!r} lists no file checksums; " + RETRAIN.format(name=name))
    for f in RUN_FILES:
        path = run_dir / f
        if path.is_symlink() and root not in path.resolve().parents:
            raise ArtifactError(f"{path} is a link to a file outside {models_dir}; it is not read")
        if not path.is_file():
            raise ArtifactError(f"{path} is listed in the manifest but missing; " + RETRAIN.format(name=name))
        expected = files.get(f)
        if verify and sha256_file(path) != expected:
            raise ArtifactError(f"{path} does not match its sha256 in the manifest (changed or damaged); "
                                + RETRAIN.format(name=name))
    try:
        exp = Experiment.from_dict(entry["experiment"])
    except (KeyError, TypeError, ValueError) as e:
        raise ArtifactError(f"manifest entry {name!r} has no valid experiment settings ({e})") from e
    layers = read_dense_layers(run_dir / "model.keras")
    widths = tuple(layer.units for layer in layers[:-1])
    if widths != exp.arch.hidden:
        raise ArtifactError(f"{run_dir / 'model.keras'} has hidden widths {widths}, the manifest says "
                            f"{exp.arch.hidden}; " + RETRAIN.format(name=name))
    return Run(exp, entry, layers, read_history(run_dir / "history.json"), read_probes(run_dir / "probes.npz"))


def registry_order(run: Run) -> tuple:
    """Sort key: the registry's order of models (raw, then normalised, then seed 002's; within each the
    output/loss pairs softmax+BCE, sigmoid+BCE, sigmoid+MSE, linear+MAE), then seed. Models the
    registry does not know (trained from another registry) come last, by name."""
    order = {name: i for i, name in enumerate(model_names())}
    return order.get(run.name, len(order)), run.name, run.seed


def load_catalog(models_dir: Path | str, verify: bool = True) -> Catalog:
    """Every loadable run in `models_dir`, plus one message per problem found."""
    models_dir = Path(models_dir)
    catalog = Catalog(models_dir)
    if not models_dir.is_dir():
        catalog.problems.append(f"{models_dir} does not exist: train models with python -m aecompare.train "
                                f"(or restore them with git checkout models/)")
        return catalog
    manifest_ok = True
    try:
        entries = read_manifest(models_dir)
    except ArtifactError as e:
        # One message: without a manifest every run folder would otherwise be reported as unlisted.
        catalog.problems.append(str(e))
        entries, manifest_ok = [], False
    if not entries and not (models_dir / MANIFEST).exists():
        catalog.problems.append(f"{models_dir / MANIFEST} is missing: no trained models to show; train them "
                                "with python -m aecompare.train")
    for entry in entries:
        try:
            catalog.runs.append(load_run(models_dir, entry, verify))
        except ArtifactError as e:
            catalog.problems.append(str(e))
    catalog.runs.sort(key=registry_order)
    listed = set()
    for entry in entries:
        with contextlib.suppress(ArtifactError, AttributeError):
            listed.add(run_dir_of(models_dir, entry))
    for run_dir in sorted(p for p in models_dir.glob("*/*") if p.is_dir() and manifest_ok
                          and p.parent.name != RESULTS_DIR):
        if run_dir.resolve() not in listed and not run_dir.name.startswith(STAGING_PREFIX):
            catalog.problems.append(f"{run_dir} is on disk but not in {MANIFEST}: it is ignored "
                                    "(delete it, or retrain that model to list it)")
    return catalog
