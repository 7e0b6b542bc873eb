"""Building a registry entry as a Keras model, and its loss as tensor ops.

The losses are written out here rather than taken from `keras.losses`: for a sigmoid output,
Keras' `binary_crossentropy` silently computes the loss from the pre-sigmoid logits (no clipping),
which is unbounded below on raw 0-255 targets and is not the loss of the model's outputs. These
ops mirror `aecompare.maths.pixel_losses` exactly (same clipping, same float32 precision).
"""

from __future__ import annotations

import os
from itertools import groupby

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
from keras import ops  # noqa: E402

from ..maths.pixel_losses import (  # noqa: E402
    CB_LOG_NORM_SERIES,
    CB_LOG_NORM_SWITCH,
    CB_MEAN_SERIES,
    CB_MEAN_SWITCH,
    EPSILON,
    LOG_2,
    horner,
)
from ..registry import Experiment  # noqa: E402


def layer_names(exp: Experiment) -> list[str]:
    """hidden_1 ... code ... hidden_k, output: the code layer is the bottleneck."""
    names = [f"hidden_{i + 1}" for i in range(len(exp.arch.hidden))]
    names[exp.arch.code_layer] = "code"
    return [*names, "output"]


def build_model(exp: Experiment) -> keras.Model:
    """The dense autoencoder of `exp`, with weights seeded by `exp.seed` (layer by layer)."""
    inputs = keras.Input((784,), name="pixels")
    x = inputs
    widths = [*exp.arch.hidden, 784]
    activations = [exp.arch.hidden_activation] * len(exp.arch.hidden) + [exp.activation]
    for i, (units, activation, name) in enumerate(zip(widths, activations, layer_names(exp))):
        x = keras.layers.Dense(units, activation=activation, name=name,
                               kernel_initializer=keras.initializers.GlorotUniform(seed=exp.seed * 1000 + i))(x)
    return keras.Model(inputs, x, name=exp.name.replace("-", "_"))


def make_optimizer(exp: Experiment) -> keras.optimizers.Optimizer:
    kinds = {"adam": keras.optimizers.Adam, "sgd": keras.optimizers.SGD}
    return kinds[exp.optimizer.name](learning_rate=exp.optimizer.learning_rate)


def bce(y, p):
    p = ops.clip(p, EPSILON, 1.0 - EPSILON)
    return -ops.mean(y * ops.log(p) + (1.0 - y) * ops.log(1.0 - p))


def mse(y, p):
    return ops.mean(ops.square(y - p))


def mae(y, p):
    return ops.mean(ops.abs(y - p))


def cb_log_norm(p):
    """log C(λ), element-wise, as `losses.cb_log_norm` (same clipping) but in the tensors' float32.

    Both branches of a `where` are differentiated, so the closed form gets a safe λ (m = 1/4) where
    the series is used: the gradient stays finite at λ = 1/2 exactly, where the closed form is 0/0.
    """
    p = ops.clip(p, EPSILON, 1.0 - EPSILON)
    u = p - 0.5
    near = ops.abs(u) < CB_LOG_NORM_SWITCH
    m = ops.where(near, 0.25, ops.minimum(p, 1.0 - p))
    d = 1.0 - 2.0 * m
    closed = ops.log(ops.log1p(d / m) / d)
    z = u * u
    return ops.where(near, LOG_2 + z * horner(CB_LOG_NORM_SERIES, z), closed)


def cb(y, p):
    """Continuous Bernoulli NLL, BCE − log C (nats per pixel, can be negative), as `losses.cb`."""
    p = ops.clip(p, EPSILON, 1.0 - EPSILON)
    return -ops.mean(y * ops.log(p) + (1.0 - y) * ops.log(1.0 - p) + cb_log_norm(p))


def cb_mean(p):
    """E[x | λ] of a CB model's outputs (its reconstruction), as `losses.cb_mean`: float64 inside.

    The closed form loses about log2(1/|λ − 1/2|) bits to cancellation, too many for float32 near
    the switch, so the op works in float64 and returns the outputs' dtype (not for gradients).
    """
    lam = ops.cast(ops.clip(p, EPSILON, 1.0 - EPSILON), "float64")
    u = lam - 0.5
    near = ops.abs(u) < CB_MEAN_SWITCH
    m = ops.where(near, 0.25, ops.minimum(lam, 1.0 - lam))
    r = (1.0 - 2.0 * m) / m
    mean_of_m = 1.0 / ops.log1p(r) - 1.0 / r
    closed = ops.where(lam > 0.5, 1.0 - mean_of_m, mean_of_m)
    return ops.cast(ops.where(near, 0.5 + u * horner(CB_MEAN_SERIES, u * u), closed), p.dtype)


LOSS_OPS = {"bce": bce, "mse": mse, "mae": mae, "cb": cb}  # as `losses.LOSSES`, on tensors
READOUT_OPS = {"cb": cb_mean}  # as `losses.READOUTS`: the reconstruction of a model trained with that loss


def stack_key(exp: Experiment) -> tuple:
    """Runs of one training group with equal keys train as one `ModelStack`: the same net, optimizer and
    learning rate, and the same inputs (seed, hence shuffle order, and pixel scale)."""
    return (exp.arch, exp.optimizer, exp.seed, exp.scale)


class ModelStack:
    """Autoencoders that see the same batches, of one net and one optimizer, trained as one.

    The first layer of all of them is one matmul, the batch times their kernels side by side (a (784, models,
    units) variable); every later layer is one batched matmul over the models ((models, inputs, units)
    kernels): a few large products instead of many small ones (benchmarks/train_throughput.py measures it).
    Each model keeps its own initial weights (its `build_model`'s), output activation and loss. Adam and SGD
    update element by element and each model's loss depends on its own weights only, so one optimizer
    stepping on the sum of the losses gives each model exactly the update it gets alone, up to the order of
    float sums; a model switched off (`deactivate`) adds nothing to that sum, and its slices change no other.
    """

    def __init__(self, exps: list[Experiment], models: list[keras.Model]):
        import numpy as np

        self.exps = exps
        self.scale = exps[0].pixel_scale
        weights = [m.get_weights() for m in models]
        layers = len(weights[0]) // 2
        self.kernels = [keras.Variable(np.stack([w[0] for w in weights], axis=1), name="kernel_0"),
                        *(keras.Variable(np.stack([w[2 * i] for w in weights]), name=f"kernel_{i}")
                          for i in range(1, layers))]
        self.biases = [keras.Variable(np.stack([w[2 * i + 1] for w in weights]), name=f"bias_{i}")
                       for i in range(layers)]
        self.variables = [*self.kernels, *self.biases]
        self.optimizer = make_optimizer(exps[0])
        self.optimizer.build(self.variables)
        self.active = keras.Variable(np.ones(len(exps), bool), trainable=False, name="active")
        self.hidden_activation = keras.activations.get(exps[0].arch.hidden_activation)
        kinds = [(act, loss, len(list(g))) for (act, loss), g in groupby((e.activation, e.loss) for e in exps)]
        ends = np.cumsum([n for *_, n in kinds])
        self.segments = [(act, loss, end - n, end) for (act, loss, n), end in zip(kinds, ends)]

    def _pre_activations(self, x):
        """The output layer's pre-activations (models, batch, 784) for the batch `x` (batch, 784), input scale."""
        first = self.kernels[0]
        h = ops.matmul(x, ops.reshape(first, (first.shape[0], -1)))
        h = ops.transpose(ops.reshape(h, (x.shape[0], *first.shape[1:])), (1, 0, 2)) + self.biases[0][:, None, :]
        for kernel, bias in zip(self.kernels[1:], self.biases[1:]):
            h = ops.einsum("mbi,mio->mbo", self.hidden_activation(h), kernel) + bias[:, None, :]
        return h

    def losses(self, batch) -> tuple:
        """(own loss, MSE on [0, 1]) of each model, each (models,), for one `batch` (batch, 784) on [0, 1]."""
        x = batch * self.scale
        z = self._pre_activations(x)
        loss, mse = [], []
        for act, name, a, b in self.segments:  # models of one activation and loss
            y = keras.activations.get(act)(z[a:b])
            read = READOUT_OPS.get(name, lambda t: t)
            for k in range(b - a):
                loss.append(LOSS_OPS[name](x, y[k]))
                mse.append(ops.mean(ops.square(batch - read(y[k]) / self.scale)))
        return ops.stack(loss), ops.stack(mse)

    def objective(self, loss):
        """What the optimizer minimises: the active models' losses summed (a switched-off one's gradient is 0)."""
        return ops.sum(ops.where(self.active, loss, ops.zeros_like(loss)))

    def weights(self) -> list[list]:
        """Each model's weights as numpy arrays, in `keras.Model.get_weights` order (kernel, bias per layer)."""
        kernels = [v.numpy() for v in self.kernels]
        kernels[0] = kernels[0].transpose(1, 0, 2)
        biases = [v.numpy() for v in self.biases]
        return [[a[k] for pair in zip(kernels, biases) for a in pair] for k in range(len(self.exps))]

    def deactivate(self, k: int) -> None:
        """Stop training model k (diverged): its slices go on being computed, and never change another's."""
        self.active.assign(ops.where(ops.arange(len(self.exps)) == k, False, self.active))


def load_model(path: str | os.PathLike) -> keras.Model:
    """Load a saved model in Keras safe mode (refuses arbitrary code such as Lambda layers)."""
    return keras.models.load_model(path, compile=False, safe_mode=True)


def weights_of(model: keras.Model) -> dict:
    """A Dense autoencoder's weights as a run's weights.npz holds them: kernel_i (inputs, units) and
    bias_i (units,), float32, layer by layer (the layers' names and activations live in the Experiment)."""
    import numpy as np

    dense = [layer for layer in model.layers if layer.weights]
    out = {}
    for i, layer in enumerate(dense):
        kernel, bias = layer.get_weights()
        out[f"kernel_{i}"] = np.asarray(kernel, np.float32)
        out[f"bias_{i}"] = np.asarray(bias, np.float32)
    return out


def rebuild_model(exp: Experiment, weights) -> keras.Model:
    """The Keras model of a run, from its Experiment and its weights (the arrays of weights.npz, or a
    `Run`'s layers): `build_model(exp)` with the saved weights set. For Keras users, and the tests that
    check the numpy forward pass against Keras."""
    if isinstance(weights, list):  # DenseLayer list, e.g. catalog.Run.layers
        weights = {k: v for i, layer in enumerate(weights)
                   for k, v in ((f"kernel_{i}", layer.kernel), (f"bias_{i}", layer.bias))}
    model = build_model(exp)
    layers = len(exp.arch.hidden) + 1
    model.set_weights([weights[f"{kind}_{i}"] for i in range(layers) for kind in ("kernel", "bias")])
    return model
