import numpy as np
import pytest

from ml import data
from ml.models import RebalancedSoftCrossEntropy, build_model
from tests.ml_support import landscape_root


@pytest.mark.parametrize("family,channels", [("regression", 2), ("classification", 57)])
@pytest.mark.parametrize("height,width", [(8, 8), (40, 72), (152, 96)])
def test_output_is_a_quarter_of_any_multiple_of_eight(family, channels, height, width):
    model = build_model(family=family, filters=4, depth=2, num_bins=57 if family == "classification" else None)
    out = np.asarray(model.predict_on_batch(np.zeros((2, height, width, 1), np.float32)))
    assert out.shape == (2, height // 4, width // 4, channels)
    if family == "regression":
        assert np.abs(out).max() <= 1.0  # tanh range: normalised ab


def test_bad_arguments_raise_value_errors():
    with pytest.raises(ValueError):
        build_model(family="gan")
    with pytest.raises(ValueError):
        build_model(family="classification")  # no bins
    with pytest.raises(ValueError):
        build_model(family="regression", filters=2)


@pytest.mark.parametrize("family", ["regression", "classification"])
def test_a_few_training_steps_lower_the_loss_on_real_photos(family):
    import keras

    from ml.train import class_table

    keras.utils.set_random_seed(0)
    rgb = data.load_training_split(landscape_root(), "train", max_examples=16)
    if family == "classification":
        table = class_table([rgb], [1.0])
        loss = RebalancedSoftCrossEntropy(table["centres"], table["weights"])
        model = build_model(family=family, filters=8, depth=1, num_bins=len(table["centres"]))
    else:
        loss = "mean_squared_error"
        model = build_model(family=family, filters=8, depth=1)
    model.compile(optimizer=keras.optimizers.Adam(3e-3), loss=loss)
    batches = data.make_dataset(rgb, batch_size=16, crop=64, output_stride=4, family=family, train=False)
    x, y = batches[0]
    losses = model.fit(x, y, epochs=25, batch_size=16, verbose=0).history["loss"]
    assert losses[-1] < 0.8 * losses[0]


def test_rebalanced_loss_weights_rare_colours_more():
    centres = np.array([[0.0, 0.0], [60.0, 60.0]], np.float32)
    loss = RebalancedSoftCrossEntropy(centres, [0.5, 4.0])
    logits = np.zeros((1, 1, 2, 2), np.float32)  # uniform prediction at both pixels
    per_pixel = np.asarray(loss.call(np.array([[[[0, 0], [60, 60]]]], np.float32), logits))
    assert per_pixel.shape == (1, 1, 2)
    assert per_pixel[0, 0, 1] == pytest.approx(8 * per_pixel[0, 0, 0], rel=1e-4)
