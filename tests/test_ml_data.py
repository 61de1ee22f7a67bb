import json

import numpy as np
import pytest

from ml import data
from tests.ml_support import landscape_root


def test_splits_are_disjoint_and_cover_the_dataset():
    splits = json.loads((landscape_root() / "splits.json").read_text())
    names = [set(splits[s]) for s in data.SPLITS]
    assert all(not (a & b) for i, a in enumerate(names) for b in names[i + 1 :])
    assert len(data.split_files(landscape_root(), "test")) == 809


def test_training_never_reads_the_test_split(tmp_path):
    with pytest.raises(ValueError, match="training may only read"):
        data.load_training_split(landscape_root(), "test", max_examples=2)


def test_max_examples_and_cache(tmp_path):
    first = data.load_training_split(landscape_root(), "val", max_examples=5, cache_dir=tmp_path)
    assert first.shape == (5, 150, 150, 3)
    assert first.dtype == np.uint8
    assert list(tmp_path.glob("val-150-5.npy"))
    assert np.array_equal(data.load_training_split(landscape_root(), "val", max_examples=5, cache_dir=tmp_path), first)


def test_dataset_path_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("COLORSITE_DATASET", str(tmp_path))
    with pytest.raises(FileNotFoundError, match="splits.json"):
        data.dataset_root()


def test_batches_match_the_model_grid_and_augment_only_the_input():
    rgb = data.load_training_split(landscape_root(), "train", max_examples=8)
    batches = data.make_dataset(
        rgb, batch_size=4, crop=64, output_stride=4, family="classification", train=True, age_probability=1.0
    )
    x, y = batches[0]
    assert x.shape == (4, 64, 64, 1)
    assert y.shape == (4, 16, 16, 2)
    assert np.abs(x).max() <= 1.0
    assert np.abs(y).max() > 5  # classification targets are in Lab units
    assert len(batches) == 2


def test_ageing_keeps_lightness_in_range_and_changes_it():
    l = np.tile(np.linspace(0, 100, 64, dtype=np.float32), (64, 1))
    aged = data.age_lightness(l, np.random.default_rng(5))
    assert aged.shape == l.shape
    assert aged.min() >= 0
    assert aged.max() <= 100
    assert not np.allclose(aged, l)


def test_photos_files_are_found_under_their_split_folder():
    root = data.dataset_root(None, "photos")
    first = data.split_files(root, "test", 1)[0]
    assert first.parent == root / "test"
    assert first.is_file()


def test_the_source_set_is_the_file_name_prefix():
    assert data.source_of("test/pets_homes-test-00003.jpg") == "pets_homes"


def test_landscape_photos_have_the_landscape_source():
    assert data.source_of("color/0042.jpg") == "landscape"


def test_an_unknown_collection_is_refused():
    with pytest.raises(ValueError, match="unknown dataset"):
        data.dataset_root(None, "faces")


def test_photos_load_at_their_own_160_px_size():
    rgb = data.load_training_split(data.dataset_root(None, "photos"), "val", max_examples=2)
    assert rgb.shape == (2, 160, 160, 3)


def solid(value: int, n: int = 8, side: int = 64) -> np.ndarray:
    return np.full((n, side, side, 3), value, np.uint8)


def batch_lightness(batches, index=0) -> set[int]:
    x, _ = batches[index]
    return {round(float(v), 1) for v in np.unique(x)}


def test_a_zero_share_keeps_a_collection_out_of_the_batches():
    batches = data.make_dataset(
        [solid(0), solid(255)],
        weights=[1.0, 0.0],
        batch_size=8,
        crop=32,
        output_stride=4,
        family="regression",
        train=True,
    )
    assert batch_lightness(batches) == {-1.0}


def test_a_mixed_batch_draws_from_both_collections():
    batches = data.make_dataset(
        [solid(0), solid(255)],
        weights=[0.5, 0.5],
        batch_size=16,
        crop=32,
        output_stride=4,
        family="regression",
        train=True,
    )
    assert batch_lightness(batches) == {-1.0, 1.0}


def test_validation_batches_walk_every_photo_of_every_collection_once():
    batches = data.make_dataset(
        [solid(0, n=3), solid(255, n=2)], batch_size=4, crop=32, output_stride=4, family="regression", train=False
    )
    seen = np.concatenate([batches[i][0][:, 0, 0, 0] for i in range(len(batches))])
    assert sorted(np.round(seen, 1).tolist()) == [-1.0, -1.0, -1.0, 1.0, 1.0]


def test_collections_of_different_sides_mix_in_one_batch():
    batches = data.make_dataset(
        [solid(0, side=150), solid(255, side=160)],
        batch_size=8,
        crop=128,
        output_stride=4,
        family="classification",
        train=True,
    )
    assert batches[0][0].shape == (8, 128, 128, 1)


def test_a_crop_larger_than_a_collection_is_refused():
    with pytest.raises(ValueError, match="larger than"):
        data.make_dataset([solid(0, side=64)], batch_size=4, crop=96, output_stride=4, family="regression", train=True)


def test_fast_lab_agrees_with_scikit_image():
    from ml import color

    rgb = np.random.default_rng(3).integers(0, 256, (40, 40, 3), dtype=np.uint8)
    assert np.abs(color.fast_rgb_to_lab(rgb) - color.rgb_to_lab(rgb)).max() < 0.1


def test_photos_grouped_by_source_keep_their_own_rows():
    paths = [
        "train/pets_homes-train-00000.jpg",
        "train/ccp_streetpeople-train-00000.jpg",
        "train/pets_homes-train-00001.jpg",
    ]
    rgb = np.arange(3, dtype=np.uint8).reshape(3, 1, 1, 1)
    groups = data.split_by_source(rgb, paths)
    assert groups["pets_homes"].ravel().tolist() == [0, 2]
    assert groups["ccp_streetpeople"].ravel().tolist() == [1]


def test_grouping_by_source_refuses_a_name_list_of_another_length():
    with pytest.raises(ValueError, match="file names"):
        data.split_by_source(np.zeros((2, 1, 1, 3), np.uint8), ["train/pets_homes-train-00000.jpg"])
