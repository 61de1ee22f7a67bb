"""The networks, written with keras.layers / keras.ops only.

Two architectures:

* ``lite0_unet`` (the default): the grey input mapped to RGB, an ImageNet-pretrained
  EfficientNet-Lite0 encoder (:mod:`ml.encoder`) and a light U-Net decoder that
  joins its features at 1/16, 1/8 and 1/4 of the input, with a global-context
  branch at 1/32.  It knows what things are, so it knows their colours.
* ``scratch``: the small network of the first engine, trained from nothing.
  It stays for tiny test and demo runs (seconds on a CPU) and to load old models.

The scratch architecture is one fully convolutional trunk (Zhang-style: strided 3x3 conv blocks
with batch norm, dilated blocks for a wide receptive field, a global-context
branch, one skip connection) that reads normalised L and predicts on a grid
``OUTPUT_STRIDE`` times coarser than the input.  Only ab is predicted there;
inference upsamples it and reattaches the full-resolution L, so the coarse grid
costs no detail.  The heads differ:

* ``regression``: 2 channels, tanh, normalised ab; MSE loss (the student project's approach, which came out washed out).
* ``classification``: logits over the quantised ab bins; rebalanced soft-encoded
  cross-entropy; decoded by the annealed mean (ml.bins).

Any input whose sides are multiples of the architecture's ``input_multiple`` works.
"""

from __future__ import annotations

import keras
import numpy as np
from keras import layers, ops

from . import bins
from .families import FAMILIES  # noqa: F401  (re-exported)
from .grid import ARCHITECTURES, INPUT_MULTIPLE, INPUT_MULTIPLES, OUTPUT_STRIDE  # noqa: F401  (re-exported)

DECODER_WIDTHS = {16: 128, 8: 96, 4: 64}  # lite0_unet's decoder channels by stride


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
    x = layers.Conv2D(
        filters, 3, strides=strides, dilation_rate=dilation, padding="same", use_bias=False, name=f"{name}_conv"
    )(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


@keras.saving.register_keras_serializable(package="colorsite")
class LightnessToRGB(layers.Layer):
    """Normalised L (B, H, W, 1) in [-1, 1] -> the grey RGB the encoder was trained on, normalised.

    A grey pixel has R = G = B ≈ 2.55 L; each channel then gets the ImageNet mean
    and deviation the pretrained weights expect.
    """

    def call(self, l_norm):
        from .encoder import MEAN_RGB, STD_RGB

        grey = (ops.cast(l_norm, "float32") + 1.0) * 127.5
        return (ops.concatenate([grey, grey, grey], axis=-1) - np.asarray(MEAN_RGB, np.float32)) / np.asarray(
            STD_RGB, np.float32
        )


def _head(x, family: str, num_bins: int | None):
    if family == "regression":
        return layers.Conv2D(2, 1, activation="tanh", name="ab", dtype="float32")(x)
    return layers.Conv2D(num_bins, 1, name="ab_logits", dtype="float32")(x)


def _check_family(family: str, num_bins: int | None) -> None:
    if family not in FAMILIES:
        raise ValueError(f"family must be one of {FAMILIES}, got {family!r}")
    if family == "classification" and not num_bins:
        raise ValueError("classification needs num_bins")


def build_colorizer(
    *, family: str, arch: str = "lite0_unet", num_bins: int | None = None, filters: int = 32, depth: int = 4
) -> keras.Model:
    """The network of ``arch`` (see the module docstring); ``filters`` and ``depth`` size ``scratch`` only."""
    if arch == "scratch":
        return build_model(family=family, filters=filters, depth=depth, num_bins=num_bins)
    if arch != "lite0_unet":
        raise ValueError(f"arch must be one of {ARCHITECTURES}, got {arch!r}")
    return build_lite0_unet(family=family, num_bins=num_bins)


def build_lite0_unet(*, family: str, num_bins: int | None = None) -> keras.Model:
    """EfficientNet-Lite0 encoder + U-Net decoder; output on the 1/4 grid like ``scratch``.

    The encoder's weights are random here: :func:`ml.encoder.load_weights` puts
    the ImageNet ones in.  Its batch-norm layers stay frozen (inference mode) even
    when the rest of the encoder is fine-tuned: colour batches are small, and
    re-estimating ImageNet statistics from them only adds noise.
    """
    from . import encoder

    _check_family(family, num_bins)
    inputs = keras.Input((None, None, 1), name="l")
    features = encoder.trunk(LightnessToRGB(name="l_to_rgb")(inputs))
    x = _conv1x1(features[32], 192, name="dec32")
    x = GlobalContext(192, name="global_context")(x)
    for stride, width in DECODER_WIDTHS.items():
        x = layers.UpSampling2D(2, interpolation="nearest", name=f"dec{stride}_up")(x)
        x = layers.Concatenate(name=f"dec{stride}_join")([x, features[stride]])
        x = _conv(x, width, name=f"dec{stride}")
    outputs = _head(x, family, num_bins)
    model = keras.Model(inputs, outputs, name=f"colorizer_{family}_lite0_unet")
    for layer in model.layers:
        if isinstance(layer, layers.BatchNormalization) and encoder.is_encoder_layer(layer.name):
            layer.trainable = False
    return model


def set_encoder_trainable(model: keras.Model, trainable: bool) -> None:
    """Freeze or unfreeze the pretrained encoder's weights (its batch norms stay frozen)."""
    from .encoder import is_encoder_layer

    for layer in model.layers:
        if is_encoder_layer(layer.name) and not isinstance(layer, layers.BatchNormalization):
            layer.trainable = trainable


def _conv1x1(x, filters: int, *, name: str):
    x = layers.Conv2D(filters, 1, use_bias=False, name=f"{name}_conv")(x)
    x = layers.BatchNormalization(name=f"{name}_bn")(x)
    return layers.ReLU(name=f"{name}_relu")(x)


def build_model(*, family: str, filters: int = 32, depth: int = 4, num_bins: int | None = None) -> keras.Model:
    """The ``scratch`` colorization network for ``family``.

    filters: width of the first block; later blocks use 2x and 4x.
    depth: number of dilated blocks at 1/8 resolution (dilations 1, 2, 4, 8, ...).
    num_bins: number of ab classes (classification only).

    Input (batch, H, W, 1) normalised L; output (batch, H/4, W/4, 2) normalised
    ab for regression or (batch, H/4, W/4, num_bins) logits for classification.
    """
    _check_family(family, num_bins)
    if filters < 4 or depth < 1:
        raise ValueError(f"need filters >= 4 and depth >= 1, got filters={filters}, depth={depth}")

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
    return keras.Model(inputs, _head(x, family, num_bins), name=f"colorizer_{family}")


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
