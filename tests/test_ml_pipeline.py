"""A tiny end-to-end run of the default architecture: train on both collections -> evaluate both -> colorize."""

import json
import subprocess
import sys

import pytest

from ml.calibrate import CONFIDENCE_GAMMAS
from ml.data import dataset_root, source_of, split_files
from ml.evaluate import evaluate
from ml.train import TrainConfig, stages, train
from tests.ml_support import REPO


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    out = tmp_path_factory.mktemp("lite0")
    config = TrainConfig(
        out=str(out),
        epochs=2,
        frozen_epochs=1,
        steps_per_epoch=2,
        batch_size=4,
        crop=64,
        max_examples=8,
        val_examples=4,
        cache_dir=None,
    )
    return train(config), out


def test_both_collections_are_validated_each_epoch(trained):
    _, out = trained
    log = json.loads((out / "train_log.json").read_text())
    assert {"photos_psnr", "landscape_psnr", "photos_val_loss", "landscape_val_loss"} <= set(log[-1])


def test_the_run_goes_through_a_frozen_then_a_full_stage(trained):
    _, out = trained
    assert [row["stage"] for row in json.loads((out / "train_log.json").read_text())] == ["frozen", "full"]


def test_the_decode_is_calibrated_on_both_val_splits(trained):
    info, _ = trained
    assert info["calibrated_on"] == ["landscape", "photos"]


def test_each_decode_is_judged_on_each_collection(trained):
    info, _ = trained
    row = info["decode_search"][0]
    assert set(row["by_collection"]) == {"landscape", "photos"}


def test_a_decode_is_accepted_by_its_worst_collection(trained):
    info, _ = trained
    row = info["decode_search"][0]
    assert row["delta_colourfulness"] == max(c["delta_colourfulness"] for c in row["by_collection"].values())


def test_a_decode_qualifies_by_each_collections_own_colour_limit(trained):
    info, _ = trained
    row = info["decode_search"][0]
    limits = info["max_delta_colourfulness"]
    excess = max(c["delta_colourfulness"] - limits[name] for name, c in row["by_collection"].items())
    assert row["colour_excess"] == pytest.approx(excess)


def test_the_calibration_records_the_colour_limits_it_used(trained):
    info, _ = trained
    assert info["max_delta_colourfulness"] == {"landscape": 6.0, "photos": 10.0}


def test_the_confidence_power_is_chosen_among_those_searched(trained):
    info, _ = trained
    assert info["confidence_gamma"] in CONFIDENCE_GAMMAS


def test_the_confidence_reference_is_a_probability(trained):
    info, _ = trained
    assert 0.0 < info["confidence_reference"] <= 1.0


def test_each_decode_is_judged_on_each_source_set_of_the_val_photos(trained):
    info, _ = trained
    val_sources = {source_of(f) for f in split_files(dataset_root(None, "photos"), "val", 4)}
    assert set(info["decode_search"][0]["by_collection"]["photos"]["vs_grey_by_source"]) == val_sources


def test_landscape_counts_as_one_source_set(trained):
    info, _ = trained
    assert set(info["decode_search"][0]["by_collection"]["landscape"]["vs_grey_by_source"]) == {"landscape"}


def test_a_decode_is_held_to_the_floor_by_its_worst_source_set(trained):
    info, _ = trained
    row = info["decode_search"][0]
    gains = [g for c in row["by_collection"].values() for g in c["vs_grey_by_source"].values()]
    assert row["worst_source_vs_grey"] == min(gains)


def test_the_model_records_what_inference_needs(trained):
    info, _ = trained
    assert (info["arch"], info["input_multiple"], info["output_stride"]) == ("lite0_unet", 32, 4)


def test_the_pretrained_encoder_was_loaded(trained):
    info, _ = trained
    assert info["encoder"]["layers_loaded"] > 90


def test_evaluation_reports_the_photos_by_source_set(trained):
    _, out = trained
    small = evaluate(out, max_examples=2, collection="photos")
    assert set(small["by_source"]) == {row["source"] for row in small["rows"]}


def test_the_cli_colours_a_photo_with_the_trained_model(trained, tmp_path):
    _, out = trained
    photo = split_files(dataset_root(None, "photos"), "test", 1)[0]
    done = subprocess.run(
        [sys.executable, "-m", "ml", "colorize", str(photo), "--model", str(out), "--out", str(tmp_path)],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert (tmp_path / f"{photo.stem}_color.jpg").is_file()


def test_a_fine_tune_has_no_frozen_stage(tmp_path):
    config = TrainConfig(out=str(tmp_path), epochs=2, frozen_epochs=1, init_from=str(tmp_path))
    assert [name for name, *_ in stages(config)] == ["full"]


def test_a_crop_that_is_no_multiple_of_32_is_refused_for_the_pretrained_net():
    with pytest.raises(ValueError, match="multiple of 32"):
        TrainConfig(crop=72)


def test_a_landscape_share_outside_0_and_1_is_refused():
    with pytest.raises(ValueError, match="mix"):
        TrainConfig(mix=1.5)
