"""The full-size ECCV16 colorization network (Zhang et al. 2016), random weights, for speed comparison only.

Conv blocks 64-128-256-512-512(dilated)-512(dilated)-512-256 with batch norm,
313 output classes, about 32 M parameters.
"""

import keras
from keras import layers


def build_eccv16(num_bins: int = 313) -> keras.Model:
    inputs = keras.Input((None, None, 1))
    x = inputs
    blocks = [  # (filters, convs, stride of the last conv, dilation)
        (64, 2, 2, 1),
        (128, 2, 2, 1),
        (256, 3, 2, 1),
        (512, 3, 1, 1),
        (512, 3, 1, 2),
        (512, 3, 1, 2),
        (512, 3, 1, 1),
    ]
    for filters, convs, stride, dilation in blocks:
        for i in range(convs):
            x = layers.Conv2D(
                filters,
                3,
                padding="same",
                activation="relu",
                dilation_rate=dilation,
                strides=stride if i == convs - 1 else 1,
            )(x)
        x = layers.BatchNormalization()(x)
    x = layers.Conv2DTranspose(256, 4, strides=2, padding="same", activation="relu")(x)
    x = layers.Conv2D(256, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(256, 3, padding="same", activation="relu")(x)
    outputs = layers.Conv2D(num_bins, 1)(x)
    return keras.Model(inputs, outputs, name="eccv16")
