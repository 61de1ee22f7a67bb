import json

import numpy as np
import pytest

from ml.calibrate import CONFIDENCE_GAMMAS, CORRECTIONS, SATURATIONS, TEMPERATURES
from ml.inference import Colorizer
from ml.train import TrainConfig, TrainingCancelled, train, training_mixture


def config(out, **overrides):
    base = dict(
        family="classification",
        arch="scratch",  # the tiny network: these tests are about the training loop, not the encoder
        out=str(out),
        epochs=2,
        batch_size=8,
        crop=64,
        filters=4,
        depth=1,
        max_examples=16,
        cache_dir=None,
        patience=5,
    )
    return TrainConfig(**{**base, **overrides})


def test_training_writes_a_usable_model_folder_with_its_log(tmp_path):
    events = []
    info = train(config(tmp_path), progress=events.append)
    log = json.loads((tmp_path / "train_log.json").read_text())
    assert [row["epoch"] for row in log] == [1, 2]
    assert all("loss" in row and "val_loss" in row for row in log)
    saved = json.loads((tmp_path / "model.json").read_text())
    assert saved["temperature"] in TEMPERATURES
    assert saved["correction"] in CORRECTIONS
    assert saved["saturation"] in SATURATIONS
    assert saved["confidence_gamma"] in CONFIDENCE_GAMMAS
    searched = len(TEMPERATURES) * len(CORRECTIONS) * len(SATURATIONS) * len(CONFIDENCE_GAMMAS)
    assert len(saved["decode_search"]) == searched
    assert saved == json.loads(json.dumps(info))
    assert {"rmse_ab", "psnr", "delta_colourfulness"} <= set(saved["validation"])
    assert [e["epoch"] for e in events if e["stage"] == "epoch"] == [1, 2]
    assert Colorizer(tmp_path).colorize_array(__import__("numpy").zeros((20, 30, 3), "uint8")).shape == (20, 30, 3)


def test_cancelling_stops_before_a_model_is_written_and_a_rerun_resumes(tmp_path):
    def cancel_in_second_epoch(event):
        if event["stage"] == "batch" and event["epoch"] == 2:
            raise TrainingCancelled

    with pytest.raises(TrainingCancelled):
        train(config(tmp_path, family="regression"), progress=cancel_in_second_epoch)
    assert not (tmp_path / "model.keras").exists()
    assert [row["epoch"] for row in json.loads((tmp_path / "train_log.json").read_text())] == [1]

    events = []
    train(config(tmp_path, family="regression"), progress=events.append)
    assert [e["epoch"] for e in events if e["stage"] == "epoch"] == [2]  # epoch 1 was restored, not rerun
    assert [row["epoch"] for row in json.loads((tmp_path / "train_log.json").read_text())] == [1, 2]
    assert (tmp_path / "model.keras").exists()


def test_bad_configuration_is_refused():
    with pytest.raises(ValueError):
        TrainConfig(family="gan")
    with pytest.raises(ValueError):
        TrainConfig(crop=100)
    with pytest.raises(ValueError):
        TrainConfig(ema_momentum=1.0)


def test_the_cli_records_the_exact_training_command(monkeypatch):
    from ml.cli import parser, train_config

    argv = ["train", "--family", "regression", "--epochs", "3", "--out", "models/x"]
    monkeypatch.setattr("sys.argv", ["/repo/ml/__main__.py", *argv])
    config = train_config(parser().parse_args(argv))
    assert config.command == "python -m ml train --family regression --epochs 3 --out models/x"
    assert config.epochs == 3
    assert config.batch_size == 32  # flags left out keep the defaults


def test_a_stopped_run_finished_with_no_time_left_trains_no_further_epoch(tmp_path):
    def cancel_in_second_epoch(event):
        if event["stage"] == "batch" and event["epoch"] == 2:
            raise TrainingCancelled

    with pytest.raises(TrainingCancelled):
        train(config(tmp_path, epochs=3), progress=cancel_in_second_epoch)
    events = []
    train(config(tmp_path, epochs=3, max_minutes=0), progress=events.append)
    assert [e for e in events if e["stage"] == "epoch"] == []


def test_a_run_finished_with_no_time_left_still_writes_its_model(tmp_path):
    train(config(tmp_path, epochs=1))
    (tmp_path / "model.keras").unlink()
    train(config(tmp_path, epochs=1, max_minutes=0))
    assert (tmp_path / "model.keras").is_file()


def photos_train_placeholder() -> np.ndarray:
    """One tiny stand-in row per real photos train file, in split order (only the file names matter here)."""
    from ml import data

    return np.zeros((len(data.split_files(data.dataset_root(None, "photos"), "train")), 1, 1, 3), np.uint8)


def test_without_balancing_each_collection_is_one_array_at_its_share(tmp_path):
    sets = {"landscape": np.zeros((4, 1, 1, 3), np.uint8), "photos": photos_train_placeholder()}
    _, weights = training_mixture(config(tmp_path, mix=0.3, max_examples=None), sets)
    assert weights == [0.3, 0.7]


def test_balanced_sources_split_the_photos_share_equally_between_source_sets(tmp_path):
    sets = {"landscape": np.zeros((4, 1, 1, 3), np.uint8), "photos": photos_train_placeholder()}
    arrays, weights = training_mixture(config(tmp_path, mix=0.5, max_examples=None, balance_sources=True), sets)
    assert len(arrays) == 11  # landscape + the ten source sets of the photos train split
    assert weights[1:] == pytest.approx([0.05] * 10)


def test_balanced_sources_keep_every_photo(tmp_path):
    sets = {"photos": photos_train_placeholder()}
    arrays, _ = training_mixture(config(tmp_path, mix=0.0, max_examples=None, balance_sources=True), sets)
    assert sum(len(a) for a in arrays) == len(sets["photos"])


def test_the_class_prior_weighs_each_array_by_its_share_not_its_size():
    from ml import color
    from ml.train import class_table

    red = np.tile(np.array([200, 30, 30], np.uint8), (1, 8, 8, 1))  # one photo
    blue = np.tile(np.array([30, 30, 200], np.uint8), (9, 8, 8, 1))  # nine photos
    table = class_table([red, blue], [0.5, 0.5])
    centres, prior = np.array(table["centres"]), np.array(table["prior"])

    def mass_near(rgb):
        ab = color.fast_rgb_to_lab(rgb[:1, :1, :1])[0, 0, 0, 1:]
        return prior[np.linalg.norm(centres - ab, axis=1) < 15].sum()

    assert mass_near(red) == pytest.approx(mass_near(blue), rel=0.2)


def _val_losses(folder):
    return [row["val_loss"] for row in json.loads((folder / "train_log.json").read_text())]


def test_with_averaged_weights_the_averaged_network_is_validated(tmp_path):
    train(config(tmp_path / "last", learning_rate=0.02, calibrate=False))
    train(config(tmp_path / "averaged", learning_rate=0.02, ema_momentum=0.9, calibrate=False))
    # Same seed, same batches, same steps: only the weights that were judged can differ.
    assert _val_losses(tmp_path / "averaged") != _val_losses(tmp_path / "last")


def test_with_averaged_weights_the_saved_best_epoch_is_the_network_its_val_loss_measured(tmp_path):
    from ml.train import _datasets, build_network, load_collections

    cfg = config(tmp_path, learning_rate=0.02, ema_momentum=0.9, calibrate=False)  # steps big enough to tell
    train(cfg)
    train_sets, val_sets = load_collections(cfg)
    mixture = training_mixture(cfg, train_sets)
    model, loss, _, _ = build_network(cfg, train_sets, mixture)
    model.load_weights(str(tmp_path / "best.weights.h5"))
    model.compile(loss=loss)
    joined = _datasets(cfg, mixture, val_sets)[2]
    assert model.evaluate(joined, verbose=0) == pytest.approx(min(_val_losses(tmp_path)), rel=1e-4)
