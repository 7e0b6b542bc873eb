"""The experiment grid, as data.

Every trained model is one `Experiment` in `MODELS`, trained once per seed of `SEEDS`: `REGISTRY`
holds every (model, seed). Training, evaluation, the dashboard and the command line all read it;
adding a model, or a seed of every model, is one line.
A run is identified by `(name, seed)` and lives in `models/<name>/seed-<seed>-<stamp>/`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace


@dataclass(frozen=True)
class Architecture:
    """A dense 784-...-784 autoencoder: the hidden widths, with the code layer in the middle."""

    family: str
    hidden: tuple[int, ...]
    hidden_activation: str

    @property
    def code_layer(self) -> int:
        """Index (into `hidden`) of the bottleneck layer."""
        return len(self.hidden) // 2

    @property
    def widths(self) -> tuple[int, ...]:
        return (784, *self.hidden, 784)

    @property
    def label(self) -> str:
        return "-".join(str(w) for w in self.widths)


@dataclass(frozen=True)
class Optimizer:
    name: str
    learning_rate: float


OPTIMIZERS = ("adam", "sgd")  # what `keras_models.make_optimizer` builds
SCALES = {"raw": 255.0, "norm": 1.0}  # a scale's factor: [0, 1] pixels times this are the model's inputs


@dataclass(frozen=True)
class Experiment:
    """One autoencoder to train.

    `scale` is the pixel scale of inputs and targets: "raw" (0-255) or "norm" (divided by 255).
    `loss` names a function of `aecompare.maths.pixel_losses.LOSSES` ("bce", "mse", "mae", "cb": the continuous
    Bernoulli), computed on the model's own outputs at that scale. `dataset` names the images it is
    trained and evaluated on (`aecompare.data`).
    """

    name: str
    arch: Architecture
    activation: str
    loss: str
    scale: str
    optimizer: Optimizer
    epochs: int
    batch_size: int
    seed: int = 0
    dataset: str = "mnist"

    @property
    def run_id(self) -> str:
        return f"{self.name}/seed-{self.seed}"

    @property
    def pixel_scale(self) -> float:
        """Multiply [0, 1] pixels by this to get the model's inputs and targets (255 for raw models)."""
        return SCALES[self.scale]

    @property
    def pair(self) -> str:
        """The output-activation/loss pair, e.g. "sigmoid+bce"."""
        return f"{self.activation}+{self.loss}"

    def settings(self) -> dict:
        """Flat, JSON-ready description (used in records, tables and CSV exports)."""
        return {
            "name": self.name,
            "seed": self.seed,
            "family": self.arch.family,
            "arch": self.arch.label,
            "hidden_activation": self.arch.hidden_activation,
            "activation": self.activation,
            "loss": self.loss,
            "scale": self.scale,
            "optimizer": self.optimizer.name,
            "learning_rate": self.optimizer.learning_rate,
            "epochs": self.epochs,
            "batch_size": self.batch_size,
            "dataset": self.dataset,
        }

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> Experiment:
        arch = d["arch"]
        return cls(
            **{**d, "arch": Architecture(arch["family"], tuple(arch["hidden"]), arch["hidden_activation"]),
               "optimizer": Optimizer(**d["optimizer"])}
        )


def group_key(exp: Experiment) -> tuple:
    """Runs with equal keys train in one graph (`aecompare.training.trainer`): their batches have the same shape and
    count. Here rather than in the trainer so that planning Ray tasks needs no TensorFlow."""
    return (exp.dataset, exp.batch_size, exp.epochs)


# Q1's net (the question in seeds/000): 784-128-64-28-64-128-784, ReLU hidden layers, Adam, batch 100.
Q1_NET = Architecture("q1", (128, 64, 28, 64, 128), "relu")
# Q3's net (the question in seeds/002): 784-100-50-100-784, sigmoid everywhere, inputs in [0,1], plain SGD.
Q3_NET = Architecture("q3", (100, 50, 100), "sigmoid")

ADAM = Optimizer("adam", 1e-3)
SGD = Optimizer("sgd", 0.1)

# At 30 epochs the normalised sigmoid models still improved ~5% over their last 5 epochs;
# 100 lets them settle (README, "Choosing the number of epochs", gives the measured curves).
EPOCHS = 100

MODELS: tuple[Experiment, ...] = (
    Experiment("raw-softmax-bce", Q1_NET, "softmax", "bce", "raw", ADAM, EPOCHS, 100),
    Experiment("raw-sigmoid-bce", Q1_NET, "sigmoid", "bce", "raw", ADAM, EPOCHS, 100),
    Experiment("raw-sigmoid-mse", Q1_NET, "sigmoid", "mse", "raw", ADAM, EPOCHS, 100),
    Experiment("raw-linear-mae", Q1_NET, "linear", "mae", "raw", ADAM, EPOCHS, 100),
    Experiment("norm-softmax-bce", Q1_NET, "softmax", "bce", "norm", ADAM, EPOCHS, 100),
    Experiment("norm-sigmoid-bce", Q1_NET, "sigmoid", "bce", "norm", ADAM, EPOCHS, 100),
    Experiment("norm-sigmoid-mse", Q1_NET, "sigmoid", "mse", "norm", ADAM, EPOCHS, 100),
    Experiment("norm-linear-mae", Q1_NET, "linear", "mae", "norm", ADAM, EPOCHS, 100),
    Experiment("q3-sigmoid-bce", Q3_NET, "sigmoid", "bce", "norm", SGD, EPOCHS, 100),
    Experiment("q3-sigmoid-mse", Q3_NET, "sigmoid", "mse", "norm", SGD, EPOCHS, 100),
    # The same net and losses with Adam: separates the optimizer's part in Q3's blob from the loss's.
    Experiment("q3-sigmoid-bce-adam", Q3_NET, "sigmoid", "bce", "norm", ADAM, EPOCHS, 100),
    Experiment("q3-sigmoid-mse-adam", Q3_NET, "sigmoid", "mse", "norm", ADAM, EPOCHS, 100),
    # The continuous Bernoulli: BCE with its missing normaliser, the proper likelihood of grey targets.
    Experiment("norm-sigmoid-cb", Q1_NET, "sigmoid", "cb", "norm", ADAM, EPOCHS, 100),
    Experiment("q3-sigmoid-cb-adam", Q3_NET, "sigmoid", "cb", "norm", ADAM, EPOCHS, 100),
    # Fashion-MNIST, where grey pixels are the rule.
    *(Experiment(f"fashion-norm-sigmoid-{loss}", Q1_NET, "sigmoid", loss, "norm", ADAM, EPOCHS, 100,
                 dataset="fashion-mnist") for loss in ("bce", "mse", "cb")),
    Experiment("fashion-norm-linear-mae", Q1_NET, "linear", "mae", "norm", ADAM, EPOCHS, 100,
               dataset="fashion-mnist"),
    Experiment("fashion-norm-softmax-bce", Q1_NET, "softmax", "bce", "norm", ADAM, EPOCHS, 100,
               dataset="fashion-mnist"),
)

# Names models had before the questions were called Q1-Q3 everywhere: `python -m aecompare.train --upgrade` renames
# such runs, and links naming them still open.
FORMER_NAMES = {f"s002-{rest}": f"q3-{rest}" for rest in ("sigmoid-bce", "sigmoid-mse", "sigmoid-bce-adam",
                                                           "sigmoid-mse-adam", "sigmoid-cb-adam")}
FORMER_FAMILIES = {"000": "q1", "002": "q3"}

# Every model is trained with each seed: the tables' ± and the curves' bands are their spread.
SEEDS = (0, 1, 2)

REGISTRY: tuple[Experiment, ...] = tuple(replace(e, seed=seed) for e in MODELS for seed in SEEDS)


def model_names() -> list[str]:
    """Registry names, in registry order, without repeats (several seeds share a name)."""
    return list(dict.fromkeys(e.name for e in REGISTRY))


_NAME_PLACES = {name: i for i, name in enumerate(model_names())}  # the registry is fixed: counted once


def name_order(name: str) -> tuple[int, str]:
    """Sort key of a model name: its place in the registry (raw, then normalised, then Q3's net; within each the
    output/loss pairs softmax+BCE, sigmoid+BCE, sigmoid+MSE, linear+MAE); names the registry does not know (trained
    from another registry) after them, by name."""
    return _NAME_PLACES.get(name, len(_NAME_PLACES)), name


def select(names: list[str] | None = None, seeds: list[int] | None = None,
           epochs: int | None = None) -> list[Experiment]:
    """The registry entries to run: filtered by name, optionally re-seeded or shortened.

    Raises KeyError naming any unknown model.
    """
    known = set(model_names())
    unknown = [n for n in names or [] if n not in known]
    if unknown:
        raise KeyError(f"unknown model(s) {', '.join(unknown)}; known: {', '.join(model_names())}")
    chosen = [e for e in REGISTRY if not names or e.name in names]
    if seeds is not None:
        bases = list({e.name: e for e in chosen}.values())
        chosen = [replace(e, seed=s) for e in bases for s in seeds]
    if epochs is not None:
        chosen = [replace(e, epochs=epochs) for e in chosen]
    return chosen
