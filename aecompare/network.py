"""The dense autoencoder's forward pass in plain numpy.

The dashboard and evaluation run models this way instead of importing TensorFlow (2-5 s and
~670 MB); a test proves it equals Keras on every committed model to 1e-5.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def relu(z):
    return np.maximum(z, 0)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def softmax(z):
    e = np.exp(z - z.max(axis=-1, keepdims=True))
    return e / e.sum(axis=-1, keepdims=True)


def linear(z):
    return z


ACTIVATIONS = {"relu": relu, "sigmoid": sigmoid, "softmax": softmax, "linear": linear}


@dataclass(frozen=True)
class DenseLayer:
    name: str
    kernel: np.ndarray  # (inputs, units) float32
    bias: np.ndarray  # (units,) float32
    activation: str

    @property
    def units(self) -> int:
        return self.kernel.shape[1]


def forward(layers: list[DenseLayer], x: np.ndarray, keep: bool = False, batch: int = 2048):
    """Run `x` (n, 784) float32 through `layers`.

    Returns the output (n, 784); with `keep=True`, a list of every layer's activations instead.
    Works in batches so memory stays flat for the full test set.
    """
    x = np.asarray(x, np.float32).reshape(len(x), -1)
    chunks = []
    with np.errstate(over="ignore"):  # exp overflow in sigmoid saturates to 0/1, as in TensorFlow
        for start in range(0, len(x), batch):
            a = x[start:start + batch]
            acts = []
            for layer in layers:
                a = ACTIVATIONS[layer.activation](a @ layer.kernel + layer.bias).astype(np.float32)
                acts.append(a)
            chunks.append(acts)
    if keep:
        return [np.concatenate([c[i] for c in chunks]) for i in range(len(layers))]
    return np.concatenate([c[-1] for c in chunks])
