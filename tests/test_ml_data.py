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
