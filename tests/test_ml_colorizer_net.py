"""The pretrained colouriser (lite0_unet): shapes for any size, frozen encoder batch norms, L -> RGB."""

import numpy as np
import pytest

from ml import bins, encoder
from ml.inference import Colorizer
from ml.models import build_colorizer, set_encoder_trainable


@pytest.fixture(scope="module")
def table():
    rng = np.random.default_rng(0)
    centres, prior = bins.fit_bins(bins.grid_histogram(rng.normal(0, 25, (5000, 2))))
    return {"centres": centres.tolist(), "weights": bins.rebalance_weights(centres, prior).tolist()}


@pytest.fixture(scope="module")
def colorizer(table):
    model = build_colorizer(family="classification", num_bins=len(table["centres"]))
    info = {"family": "classification", "arch": "lite0_unet", "input_multiple": 32, "output_stride": 4, "bins": table}
    return Colorizer.in_memory(model, info)


@pytest.mark.parametrize("shape", [(1, 1), (37, 53), (150, 150), (33, 200), (288, 191)])
def test_any_photo_size_comes_back_at_its_size(colorizer, shape):
    rgb = np.random.default_rng(1).integers(0, 256, shape + (3,), dtype=np.uint8)
    assert colorizer.colorize_array(rgb).shape == shape + (3,)


@pytest.mark.parametrize("shape", [(37, 53), (64, 96)])
def test_the_grid_has_one_cell_per_four_pixels(colorizer, table, shape):
    grid = colorizer.predict_grid(np.full(shape, 50.0, np.float32))
    assert grid.shape == (-(-shape[0] // 4), -(-shape[1] // 4), len(table["centres"]))


def test_encoder_batch_norms_stay_frozen_when_the_encoder_is_unfrozen(table):
    model = build_colorizer(family="regression")
    set_encoder_trainable(model, True)
    frozen = [layer.name for layer in model.layers if encoder.is_encoder_layer(layer.name) and not layer.trainable]
    assert frozen
    assert all("bn" in name for name in frozen)


def test_freezing_the_encoder_leaves_the_decoder_trainable():
    model = build_colorizer(family="regression")
    set_encoder_trainable(model, False)
    assert model.get_layer("dec4_conv").trainable


def test_grey_input_reaches_the_encoder_as_normalised_grey_rgb():
    import keras

    from ml.models import LightnessToRGB

    l_norm = np.array([[[[-1.0], [1.0]]]], np.float32)  # black and white
    rgb = keras.ops.convert_to_numpy(LightnessToRGB()(l_norm))[0, 0]
    assert np.allclose(rgb[0], encoder.normalise_rgb(np.zeros(3)), atol=1e-4)
    assert np.allclose(rgb[1], encoder.normalise_rgb(np.full(3, 255.0)), atol=1e-4)


def test_an_unknown_architecture_is_refused():
    with pytest.raises(ValueError, match="arch"):
        build_colorizer(family="regression", arch="resnet")
