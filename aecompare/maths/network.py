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


def forward(layers: list[DenseLayer], x: np.ndarray, keep: bool | tuple[int, ...] = False,
            scale: float = 1.0, batch: int = 2048):
    """Run `x` (n, 784) through `layers`, the inputs multiplied by `scale` first (255 for raw models).

    Returns the output (n, 784) float32; with `keep=True`, a list of every layer's activations; with
    `keep` a tuple of layer indices (negative ones count from the end), a list of those layers'.
    Works in batches and writes into arrays of the final size, so that for the full test set the
    memory is the results plus one batch: no scaled copy of `x`, no layer that is not asked for.
    """
    x = np.asarray(x).reshape(len(x), -1)
    wanted = range(len(layers)) if keep is True else keep or (-1,)
    wanted = [k % len(layers) for k in wanted]
    results = {k: np.empty((len(x), layers[k].units), np.float32) for k in wanted}
    with np.errstate(over="ignore"):  # exp overflow in sigmoid saturates to 0/1, as in TensorFlow
        for start in range(0, len(x), batch):
            a = x[start:start + batch].astype(np.float32)
            if scale != 1:
                a *= np.float32(scale)
            for k, layer in enumerate(layers[:max(wanted) + 1]):
                a = ACTIVATIONS[layer.activation](a @ layer.kernel + layer.bias).astype(np.float32)
                if k in results:
                    results[k][start:start + len(a)] = a
    if keep is False:
        return results[wanted[0]]
    return [results[k] for k in wanted]
