import numpy as np
import pytest

from ml import color


@pytest.fixture
def rgb():
    return np.random.default_rng(3).integers(0, 256, (64, 80, 3), dtype=np.uint8)


def test_rgb_lab_round_trip_is_exact(rgb):
    assert np.array_equal(color.lab_to_rgb(color.rgb_to_lab(rgb)), rgb)


def test_every_srgb_colour_lies_inside_the_normalised_ranges():
    cube = np.stack(np.meshgrid(*[np.arange(0, 256, 15, dtype=np.uint8)] * 3, indexing="ij"), -1).reshape(1, -1, 3)
    lab = color.rgb_to_lab(cube)
    assert np.abs(color.normalize_l(lab[..., 0])).max() <= 1.0 + 1e-6
    assert np.abs(color.normalize_ab(lab[..., 1:])).max() < 1.0


def test_normalisation_pairs_invert_each_other():
    x = np.linspace(-1, 1, 11, dtype=np.float32)
    assert np.allclose(color.normalize_l(color.denormalize_l(x)), x)
    assert np.allclose(color.normalize_ab(color.denormalize_ab(x)), x)
    assert color.normalize_l(np.float32(50.0)) == 0.0


def test_rgb_to_lab_refuses_floats():
    with pytest.raises(ValueError):
        color.rgb_to_lab(np.zeros((2, 2, 3), np.float32))


def test_fast_lightness_agrees_with_scikit_image(rgb):
    assert np.abs(color.fast_rgb_to_l(rgb) - color.rgb_to_l(rgb)).max() < 0.02


def test_fast_merge_agrees_with_scikit_image_within_one_level(rgb):
    lab = color.rgb_to_lab(rgb)
    ab = lab[..., 1:] * 1.4  # push some colours out of gamut, where clipping must match too
    fast = color.fast_merge_l_ab(lab[..., 0], ab).astype(int)
    assert np.abs(fast - color.merge_l_ab(lab[..., 0], ab)).max() <= 1
    assert np.array_equal(color.fast_merge_l_ab(lab[..., 0], lab[..., 1:]), rgb)


def test_fast_paths_split_large_images_without_seams():
    big = np.random.default_rng(4).integers(0, 256, (1500, 800, 3), dtype=np.uint8)
    l = color.fast_rgb_to_l(big)
    assert np.array_equal(color.fast_merge_l_ab(l, color.rgb_to_lab(big)[..., 1:]), big)


def test_grey_baseline_has_no_chroma_and_keeps_lightness(rgb):
    grey = color.grey_rgb(rgb)
    lab = color.rgb_to_lab(grey)
    assert np.abs(lab[..., 1:]).max() < 1.0
    assert np.abs(lab[..., 0] - color.rgb_to_l(rgb)).max() < 0.5
