"""What a valid run folder holds, written as data derived from the run's Experiment.

Every artifact a run folder holds is checked against these specs when it is loaded (`aecompare.store.artifacts`
reads, `aecompare.store.catalog` loads): the manifest entry, `weights.npz`, `history.json` and `probes.npz`.
A spec says what a value must be (type, range, exact keys, exact length); `check` walks a value and its
spec together and raises `Invalid` at the first difference, naming where it is (`epochs[3].val_loss`).
The vocabularies (losses, activations, scales, optimizers) are the code's own tables, not copies, so a
loss added to `losses.LOSSES` is accepted without touching this file.

The limits bound what any file may cost to read, before it is read: a run's files may not be larger
than what its experiment implies (`file_limits`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..data import DATASETS
from ..maths.network import ACTIVATIONS
from ..maths.pixel_losses import LOSSES
from ..registry import OPTIMIZERS, SCALES, Architecture, Experiment

# ---------------------------------------------------------------- limits

NAME_PATTERN = r"[a-z0-9][a-z0-9-]{0,63}"  # every registry name; no markup, no spreadsheet formula
STAMP_PATTERN = r"[0-9]{8}T[0-9]{6}"  # StagedRun's time stamp, %Y%m%dT%H%M%S
SHA256_PATTERN = r"[0-9a-f]{64}"
MAX_RUNS = 256  # manifest entries (the committed models/ holds 57 runs in 58 MB)
MAX_EPOCHS = 1000
MAX_HIDDEN_LAYERS = 16
MAX_WIDTH = 4096
MAX_PARAMETERS = 4_000_000  # 16 MB of float32 weights (the registry's largest net has 0.22 M)
MAX_JSON_DEPTH = 32  # the deepest record written is 6 levels deep
MNIST_TEST_IMAGES = 10_000
PROBES_PER_CLASS = 2
PROBE_BATCH = 1000  # the first test images, on which each epoch's diagnostics are recorded
PROBE_DIGITS = 10 * PROBES_PER_CLASS

MANIFEST_BYTES = 64 * 1024 + MAX_RUNS * 16 * 1024  # a committed entry is ~1.2 KB
HISTORY_BYTES_FIXED = 16 * 1024  # settings, versions, data source, probe index
HISTORY_BYTES_PER_EPOCH = 512  # epoch row ~250 B with indent=1
HISTORY_BYTES_PER_LAYER_ROW = 512  # layer row ~240 B
NPY_HEADER_BYTES = 4096  # numpy writes 128; more is not a file numpy wrote for these arrays
ZIP_BYTES_PER_MEMBER = 512  # local + central header, data descriptor, zip64 extra
ZIP_BYTES_FIXED = 1024


class Invalid(ValueError):
    """A value does not match its spec: `where` it is, what was `found` and what was `expected`."""

    def __init__(self, where, found: str, expected: str):
        where = spell(where) or "the document"
        text = f"{where} is not a field of this record" if found == EXTRA else f"{where} is {found}, not {expected}"
        super().__init__(text)
        self.where, self.found, self.expected = where, found, expected


EXTRA = "an unexpected field"
MISSING = object()


def spell(where) -> str:
    """A location built lazily as nested (parent, key) pairs, spelled `epochs[3].val_loss` (only for messages)."""
    parts = []
    while isinstance(where, tuple):
        where, key = where
        parts.append(f"[{key}]" if isinstance(key, int) else f".{key}")
    text = (where or "") + "".join(reversed(parts))
    return text.lstrip(".")


def brief(value) -> str:
    """A short, inert description of a value for a message: no markup, bounded length."""
    if value is MISSING:
        return "missing"
    if value is None or isinstance(value, bool):
        return {None: "null", True: "true", False: "false"}[value]
    if isinstance(value, (int, float)):
        return repr(value)[:40]
    if isinstance(value, str):
        return inert(value)
    if isinstance(value, list):
        return f"a list of {len(value)} item{'s' * (len(value) != 1)}"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def inert(text: str, limit: int = 60) -> str:
    """`text` quoted, cut to `limit` characters, with every character that could be markup (Markdown,
    HTML) or a control character replaced by '?': safe to show in the dashboard's messages."""
    cut = text[:limit]
    safe = re.sub(r"[^A-Za-z0-9 ._/:,=+@%-]", "?", cut)
    return f"'{safe}'" + ("..." if len(text) > limit else "")


# ---------------------------------------------------------------- specs
# Each spec's `check(value, where)` returns None or raises Invalid; `ok(value)` says whether a scalar
# matches. `where` is a lazily built location (see `spell`): a history has ~5,000 values to check.

_NUMBER = (int, float)


class Spec:
    expected = "?"

    def ok(self, value) -> bool:
        raise NotImplementedError

    def check(self, value, where) -> None:
        if not self.ok(value):
            raise Invalid(where, brief(value), self.expected)


@dataclass(frozen=True)
class Anything(Spec):
    """A value nobody here reads (the manifest's entries are checked one by one, later)."""

    expected = "anything"

    def check(self, value, where):
        pass


@dataclass(frozen=True)
class Int(Spec):
    lo: int = 0
    hi: int = 2**31 - 1

    @property
    def expected(self):
        return f"an integer from {self.lo} to {self.hi}"

    def ok(self, value):
        return type(value) is int and self.lo <= value <= self.hi  # bool is an int: refused

    def check(self, value, where):  # `ok` inlined: the hot path of a history's ~5,000 values
        if not (type(value) is int and self.lo <= value <= self.hi):
            raise Invalid(where, brief(value), self.expected)


@dataclass(frozen=True)
class Real(Spec):
    lo: float = -math.inf
    hi: float = math.inf

    @property
    def expected(self):
        bounds = "" if (self.lo, self.hi) == (-math.inf, math.inf) else f" from {self.lo:g} to {self.hi:g}"
        return f"a finite number{bounds}"

    def ok(self, value):
        return type(value) in _NUMBER and self.lo <= value <= self.hi and math.isfinite(value)

    def check(self, value, where):
        if not (type(value) in _NUMBER and self.lo <= value <= self.hi and math.isfinite(value)):
            raise Invalid(where, brief(value), self.expected)


@dataclass(frozen=True)
class Text(Spec):
    pattern: str
    what: str = ""

    @property
    def expected(self):
        return self.what or f"text matching {self.pattern}"

    def ok(self, value):
        return type(value) is str and re.fullmatch(self.pattern, value) is not None


@dataclass(frozen=True)
class OneOf(Spec):
    vocabulary: Mapping | tuple  # looked up at check time: additions to the code's table count

    @property
    def expected(self):
        return "one of " + ", ".join(sorted(self.vocabulary))

    def ok(self, value):
        return type(value) is str and value in self.vocabulary


@dataclass(frozen=True)
class Const(Spec):
    value: object
    what: str = ""

    @property
    def expected(self):
        return self.what or brief(self.value)

    def ok(self, value):
        return type(value) is type(self.value) and value == self.value


@dataclass(frozen=True)
class Maybe(Spec):
    spec: Spec

    @property
    def expected(self):
        return f"null or {self.spec.expected}"

    def ok(self, value):
        return value is None or self.spec.ok(value)  # of a scalar spec


@dataclass(frozen=True)
class Absent(Spec):
    """A field that may be left out (runs written before it existed); when present it must match `spec`."""

    spec: Spec

    @property
    def expected(self):
        return f"absent or {self.spec.expected}"

    def check(self, value, where):
        if value is not MISSING:
            self.spec.check(value, where)


@dataclass(frozen=True)
class ListOf(Spec):
    item: Spec
    lo: int = 0
    hi: int = 1 << 20

    @property
    def expected(self):
        return f"a list of {self.lo} to {self.hi} items"

    def check(self, value, where):
        if type(value) is not list or not self.lo <= len(value) <= self.hi:
            raise Invalid(where, brief(value), self.expected)
        for i, v in enumerate(value):
            self.item.check(v, (where, i))


@dataclass(frozen=True)
class Items(Spec):
    """A list of exactly these items, in order (a layer row per layer of the net)."""

    items: tuple

    @property
    def expected(self):
        return f"a list of {len(self.items)} item{'s' * (len(self.items) != 1)}"

    def check(self, value, where):
        if type(value) is not list or len(value) != len(self.items):
            raise Invalid(where, brief(value), self.expected)
        for i, (v, spec) in enumerate(zip(value, self.items)):
            spec.check(v, (where, i))


@dataclass(frozen=True)
class Rows(Spec):
    """Exactly `count` records matching `row`, numbered 1, 2, ... in their field `number` (epoch k says k)."""

    row: Spec
    count: int
    number: str

    @property
    def expected(self):
        return f"a list of {self.count} item{'s' * (self.count != 1)}"

    def check(self, value, where):
        if type(value) is not list or len(value) != self.count:
            raise Invalid(where, brief(value), self.expected)
        for i, v in enumerate(value):
            self.row.check(v, (where, i))
            if not (type(v[self.number]) is int and v[self.number] == i + 1):
                raise Invalid(((where, i), self.number), brief(v[self.number]), f"{i + 1} (rows count 1, 2, ...)")


@dataclass(frozen=True)
class Record(Spec):
    """An object with these fields; `exact`: and no others."""

    fields: Mapping
    exact: bool = False

    @property
    def expected(self):
        return "an object with " + ", ".join(self.fields)

    def check(self, value, where):
        if type(value) is not dict:
            raise Invalid(where, brief(value), self.expected)
        get = value.get
        for key, spec in self.fields.items():
            spec.check(get(key, MISSING), (where, key))
        if self.exact and len(value) > sum(key in value for key in self.fields):
            extra = sorted(k for k in value if k not in self.fields)
            raise Invalid((where, extra[0]), EXTRA, "")


def check(value, spec: Spec, where: str = "") -> None:
    """Raise `Invalid` unless `value` matches `spec`."""
    spec.check(value, where)


# ---------------------------------------------------------------- the run's specs

NAME = Text(NAME_PATTERN, "a model name of lowercase letters, digits and hyphens (at most 64)")
SEED = Int(0, 2**31 - 1)
SHA256 = Text(SHA256_PATTERN, "a sha256 (64 hex digits)")
IDENTITY = Record({"name": NAME, "seed": SEED})  # checked first: the path and the messages use them
RUN_PATH = Text(f"{NAME_PATTERN}/seed-[0-9]{{1,10}}-{STAMP_PATTERN}", "NAME/seed-SEED-STAMP")
MANIFEST = Record({"format": Const(1), "models": ListOf(Anything(), 0, MAX_RUNS)})  # other keys: kept, unread


def experiment_spec(name: str, seed: int) -> Record:
    """`Experiment.to_dict()` of run (`name`, `seed`), every setting from the code's vocabularies."""
    return Record({
        "name": Const(name, f"{name!r}, the entry's name"),
        "arch": Record({"family": Text(r"[a-z0-9-]{1,32}"),
                        "hidden": ListOf(Int(1, MAX_WIDTH), 1, MAX_HIDDEN_LAYERS),
                        "hidden_activation": OneOf(ACTIVATIONS)}, exact=True),
        "activation": OneOf(ACTIVATIONS), "loss": OneOf(LOSSES), "scale": OneOf(SCALES),
        "optimizer": Record({"name": OneOf(OPTIMIZERS), "learning_rate": Real(1e-12, 1e6)}, exact=True),
        "epochs": Int(1, MAX_EPOCHS), "batch_size": Int(1, 60_000),
        "seed": Const(seed, f"{seed}, the entry's seed"),
        "dataset": Absent(OneOf(DATASETS)),  # runs from before datasets were named trained on MNIST
    }, exact=True)


def entry_spec(name: str, seed: int, files: tuple[str, ...], optional: tuple[str, ...] = ()) -> Record:
    """A manifest entry of run (`name`, `seed`) listing `files`, and perhaps `optional` ones (the summary fields
    are not read)."""
    return Record({"path": Text(re.escape(f"{name}/seed-{seed}-") + STAMP_PATTERN,
                                f"{name}/seed-{seed}-YYYYmmddTHHMMSS"),
                   "files": Record({f: SHA256 for f in files} | {f: Absent(SHA256) for f in optional}, exact=True),
                   "experiment": experiment_spec(name, seed)})


def parameters(arch: Architecture) -> int:
    return sum(a * b + b for a, b in zip(arch.widths, arch.widths[1:]))


def layer_names(arch: Architecture) -> list[str]:
    """hidden_1 ... code ... hidden_k, output (the names `keras_models.layer_names` gives the layers)."""
    names = [f"hidden_{i + 1}" for i in range(len(arch.hidden))]
    names[arch.code_layer] = "code"
    return [*names, "output"]


def activations(exp: Experiment) -> list[str]:
    return [exp.arch.hidden_activation] * len(exp.arch.hidden) + [exp.activation]


def history_spec(exp: Experiment, entry_experiment: dict, epochs: int) -> Record:
    """history.json of `exp` with `epochs` recorded epochs, each with one row per layer of its net."""
    layer_rows = Items(tuple(
        Record({"layer": Const(name), "units": Const(units), "fro_norm": Real(0), "mean_abs": Real(0),
                "near_zero": Real(0, 1), "dead_units": Int(0, units)})
        for name, units in zip(layer_names(exp.arch), exp.arch.widths[1:])))
    measured = {"val_loss": Real(), "val_mse": Real(0), "layers": layer_rows, "output_spread": Real(0)}
    row = Record({"epoch": Int(1, exp.epochs), "train_loss": Real(), "train_mse": Real(0), "seconds": Real(0),
                  **measured})
    return Record({"experiment": Const(entry_experiment, "the manifest entry's experiment"),
                   "diverged_epoch": Maybe(Int(1, exp.epochs)), "initial": Record(measured),
                   "epochs": Rows(row, epochs, "epoch")})


def recorded_epochs(exp: Experiment, diverged_epoch) -> int:
    """How many epoch rows a run records: all of them, or those before the epoch it diverged at."""
    return exp.epochs if diverged_epoch is None else diverged_epoch - 1


@dataclass(frozen=True)
class Array:
    """An array in an npz: one of `dtypes` (numpy's dtype.str), exactly `shape`, values in [lo, hi]."""

    dtypes: tuple[str, ...]
    shape: tuple[int, ...]
    lo: float = -math.inf
    hi: float = math.inf

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * max(np.dtype(d).itemsize for d in self.dtypes)

    def describe(self) -> str:
        return f"{' or '.join(dtype_words(np.dtype(d)) for d in self.dtypes)} of shape {self.shape}"


def dtype_words(dtype) -> str:
    """float32, int64, object... ("float32 big-endian"): a dtype in words (numpy's '<f4' would read as markup)."""
    return dtype.name + (" big-endian" if dtype.byteorder == ">" else "")


FLOAT32 = ("<f4",)
INTEGERS = ("<i8", "<i4")  # the trainer's np.intp: 64-bit, or 32-bit on some platforms


def weights_spec(exp: Experiment) -> dict[str, Array]:
    """weights.npz: kernel_i (inputs, units) and bias_i (units,) per Dense layer, float32, finite."""
    spec = {}
    for i, (a, b) in enumerate(zip(exp.arch.widths, exp.arch.widths[1:])):
        spec[f"kernel_{i}"] = Array(FLOAT32, (a, b))
        spec[f"bias_{i}"] = Array(FLOAT32, (b,))
    return spec


def probe_epochs_kept(recorded: int) -> list[int]:
    """The epochs whose probe reconstructions a run keeps, of a run that recorded `recorded` epochs (0 = before
    training): every one up to 10, then every 5th, and the last. 29 frames of a 100-epoch run instead of 101:
    what the epoch slider needs, at under a third of the bytes."""
    return sorted({*range(min(recorded, 10) + 1), *range(0, recorded + 1, 5), recorded})


def probes_spec(epochs: int, every_epoch: bool = False) -> dict[str, Array]:
    """probes.npz of a run with `epochs` recorded epochs: the probe digits after each kept epoch
    (`probe_epochs_kept`, listed in `epochs`), or, in files written before frames were thinned, after every one."""
    frames = epochs + 1 if every_epoch else len(probe_epochs_kept(epochs))
    spec = {
        "index": Array(INTEGERS, (PROBE_DIGITS,), 0, MNIST_TEST_IMAGES - 1),
        "labels": Array(("|u1", *INTEGERS), (PROBE_DIGITS,), 0, 9),
        "pixels": Array(("|u1",), (frames, PROBE_DIGITS, 784)),
        "lo": Array(FLOAT32, (frames, PROBE_DIGITS)),
        "hi": Array(FLOAT32, (frames, PROBE_DIGITS)),
    }
    return spec if every_epoch else {**spec, "epochs": Array(INTEGERS, (frames,), 0, epochs)}


def npz_limit(spec: Mapping[str, Array]) -> int:
    """The most bytes an npz of these arrays can take on disk (stored uncompressed, plus zip's overhead)."""
    data = sum(a.nbytes + a.nbytes // 1024 + NPY_HEADER_BYTES // 8 for a in spec.values())
    return data + ZIP_BYTES_PER_MEMBER * len(spec) + ZIP_BYTES_FIXED


def history_limit(exp: Experiment) -> int:
    return HISTORY_BYTES_FIXED + (exp.epochs + 1) * (HISTORY_BYTES_PER_EPOCH
                                                     + HISTORY_BYTES_PER_LAYER_ROW * len(exp.arch.widths[1:]))


def probes_limit(exp: Experiment) -> int:
    return npz_limit(probes_spec(exp.epochs, every_epoch=True))  # the larger of the two layouts
