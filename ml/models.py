"""The two model families, written with keras.layers / keras.ops only.

Both share one fully convolutional trunk (Zhang-style: strided 3x3 conv blocks
with batch norm, dilated blocks for a wide receptive field, a global-context
branch, one skip connection) that reads normalised L and predicts on a grid
``OUTPUT_STRIDE`` times coarser than the input.  Only ab is predicted there;
inference upsamples it and reattaches the full-resolution L, so the coarse grid
costs no detail.  The heads differ:

* ``regression``: 2 channels, tanh, normalised ab; MSE loss (the seed's approach).
* ``classification``: logits over the quantised ab bins; rebalanced soft-encoded
  cross-entropy; decoded by the annealed mean (ml.bins).

Any input whose sides are multiples of ``INPUT_MULTIPLE`` works.
"""
from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from . import bins
from .families import FAMILIES  # noqa: F401  (re-exported)
from .grid import INPUT_MULTIPLE, OUTPUT_STRIDE  # noqa: F401  (re-exported)



@keras.saving.register_keras_serializable(package="colorsite")
class GlobalContext(layers.Layer):
    """Adds a per-image summary (global average, projected) to every position.

    Whether a scene is a sunset or a snowfield decides the colours everywhere,
    and a small network cannot see that far with convolutions alone.
    """

    def __init__(self, channels: int, **kwargs):
        super().__init__(**kwargs)
        self.channels = channels
        self.project = layers.Dense(channels, activation="relu")

    def build(self, input_shape):
        self.project.build((input_shape[0], input_shape[-1]))

    def call(self, x):
        summary = self.project(ops.mean(x, axis=(1, 2)))  # (batch, channels)
        return x + summary[:, None, None, :]

    def get_config(self):
        return {**super().get_config(), "channels": self.channels}


def _conv(x, filters: int, *, strides: int = 1, dilation: int = 1, name: str):
    x = layers.Conv2D(filters, 3, strides=strides, dilation_rate=dilation, padding="same",
                      use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_model(*, family: str, filters: int = 32, depth: int = 4, num_bins: int | None = None) -> keras.Model:
    """The colorization network for ``family``.

    filters: width of the first block; later blocks use 2x and 4x.
    depth: number of dilated blocks at 1/8 resolution (dilations 1, 2, 4, 8, ...).
    num_bins: number of ab classes (classification only).

    Input (batch, H, W, 1) normalised L; output (batch, H/4, W/4, 2) normalised
    ab for regression or (batch, H/4, W/4, num_bins) logits for classification.
    """
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if filters < 4 or depth < 1:
        raise ValueError(f"need filters >= 4 and depth >= 1, got filters={filters}, depth={depth}")
    if family == "classification" and not num_bins:
        raise ValueError("classification needs num_bins")

    inputs = keras.Input((None, None, 1), name="l")
    # encoder: 1/2, 1/4, 1/8
    x = _conv(inputs, filters, strides=2, name="enc1")
    x = _conv(x, 2 * filters, strides=2, name="enc2a")
    skip = _conv(x, 2 * filters, name="enc2b")
    x = _conv(skip, 4 * filters, strides=2, name="enc3")
    # context at 1/8: dilated residual blocks and a global summary
    for i in range(depth):
        x = layers.Add(name=f"ctx{i}_add")([x, _conv(x, 4 * filters, dilation=2 ** (i % 4), name=f"ctx{i}")])
    x = GlobalContext(4 * filters, name="global_context")(x)
    # decoder: back to 1/4 and join the skip
    x = layers.Conv2D(2 * filters, 1, name="dec_reduce")(x)
    x = layers.UpSampling2D(2, interpolation="nearest", name="dec_up")(x)
    x = layers.Add(name="dec_skip")([x, skip])
    x = _conv(x, 2 * filters, name="dec")
    if family == "regression":
        outputs = layers.Conv2D(2, 1, activation="tanh", name="ab")(x)
    else:
        outputs = layers.Conv2D(num_bins, 1, name="ab_logits", dtype="float32")(x)
    return keras.Model(inputs, outputs, name=f"colorizer_{family}")


@keras.saving.register_keras_serializable(package="colorsite")
class RebalancedSoftCrossEntropy(keras.losses.Loss):
    """Zhang et al.'s loss: cross-entropy against soft-encoded ab, weighted per pixel.

    y_true: ab in Lab units on the output grid (batch, h, w, 2).
    y_pred: logits (batch, h, w, Q).
    Each pixel is weighted by the rebalancing weight of its nearest bin, so
    rare, saturated colours are not drowned by the common greys and browns.
    """

    def __init__(self, centres, weights, name="rebalanced_soft_ce", **kwargs):
        super().__init__(name=name, **kwargs)
        self.centres = np.asarray(centres, np.float32)
        self.weights = np.asarray(weights, np.float32)

    def call(self, y_true, y_pred):
        y_true = ops.cast(y_true, "float32")
        target = bins.soft_encode_ops(y_true, self.centres)  # (batch, h, w, Q)
        pixel_weight = ops.take(self.weights, ops.argmax(target, axis=-1))  # (batch, h, w)
        log_probs = ops.log_softmax(ops.cast(y_pred, "float32"), axis=-1)
        return -ops.sum(target * log_probs, axis=-1) * pixel_weight

    def get_config(self):
        return {**super().get_config(), "centres": self.centres.tolist(), "weights": self.weights.tolist()}


def parameter_count(model: keras.Model) -> int:
    return int(sum(np.prod(w.shape) for w in model.weights if w.trainable))
