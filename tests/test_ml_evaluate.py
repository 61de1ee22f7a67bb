import json

import numpy as np
import pytest
from PIL import Image
from skimage import color as skcolor
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from ml import metrics
from ml.data import split_files
from ml.evaluate import evaluate, format_table
from tests.ml_support import SHIPPED_MODEL, landscape_root, write_tiny_model


@pytest.fixture(scope="module")
def tiny_report(tmp_path_factory):
    model = write_tiny_model(tmp_path_factory.mktemp("tiny"))
    return evaluate(model, max_examples=6), model


def independent_grey_scores(path):
    """The grey baseline's metrics, computed here from the definitions, not with ml/."""
    rgb = np.asarray(Image.open(path).convert("RGB"))
    lab = skcolor.rgb2lab(rgb)
    grey_lab = np.concatenate([lab[..., :1], np.zeros_like(lab[..., 1:])], axis=-1)
    grey = np.clip(np.rint(skcolor.lab2rgb(grey_lab) * 255), 0, 255).astype(np.uint8)
    ab_true = lab[..., 1:]
    ab_grey = skcolor.rgb2lab(grey)[..., 1:]
    err = np.sqrt(((ab_grey - ab_true) ** 2).sum(-1))

    def cf(x):
        x = x.astype(float)
        rg, yb = x[..., 0] - x[..., 1], (x[..., 0] + x[..., 1]) / 2 - x[..., 2]
        return np.sqrt(rg.var() + yb.var()) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)

    return {
        "rmse_ab": np.sqrt(((ab_grey - ab_true) ** 2).mean()),
        "psnr": peak_signal_noise_ratio(rgb, grey, data_range=255),
        "ssim": structural_similarity(rgb, grey, channel_axis=2, data_range=255),
        "auc": np.mean([(err <= t).mean() for t in range(151)]),
        "colourfulness": cf(grey),
        "colourfulness_true": cf(rgb),
    }


def test_grey_baseline_matches_an_independent_computation(tiny_report):
    report, _ = tiny_report
    paths = split_files(landscape_root(), "test", 6)
    expected = [independent_grey_scores(p) for p in paths]
    for key in expected[0]:
        assert report["summary"]["grey"][key] == pytest.approx(np.mean([e[key] for e in expected]), rel=1e-3, abs=1e-3)
    assert report["summary"]["grey"]["colourfulness"] < 1.0


def test_report_keeps_per_image_rows_and_is_written_beside_the_model(tiny_report):
    report, model = tiny_report
    assert report["images"] == 6
    assert len(report["rows"]) == 6
    assert report["rows"][0]["file"] == split_files(landscape_root(), "test", 1)[0].name
    assert set(report["rows"][0]) == {"file", "source", "model", "grey"}
    on_disk = json.loads((model / "evaluation.json").read_text())
    assert on_disk["summary"] == report["summary"]
    s = report["summary"]["model"]
    assert s["delta_colourfulness"] == pytest.approx(abs(s["colourfulness"] - s["colourfulness_true"]))
    table = format_table(report)
    assert "| grey |" in table
    assert "| model |" in table
    assert "ΔCF" in table


def test_shipped_model_beats_the_grey_baseline_on_held_out_photos(tmp_path):
    report = evaluate(SHIPPED_MODEL, max_examples=60, out=tmp_path / "report.json")
    model, grey = report["summary"]["model"], report["summary"]["grey"]
    assert model["psnr"] > grey["psnr"]
    assert model["auc"] > grey["auc"]
    assert model["colourfulness"] > 10 * grey["colourfulness"] + 10  # it really colours


def test_shipped_model_folder_is_complete():
    info = json.loads((SHIPPED_MODEL / "model.json").read_text())
    assert info["family"] in ("regression", "classification")
    assert info["config"]["command"].startswith("python -m ml train")
    report = json.loads((SHIPPED_MODEL / "evaluation.json").read_text())
    assert report["split"] == "test"
    assert report["images"] == 809
    photos = json.loads((SHIPPED_MODEL / "evaluation_photos.json").read_text())
    assert photos["images"] == 842
    assert sum(f.stat().st_size for f in SHIPPED_MODEL.iterdir()) < 25 * 2**20


def test_leaderboard_follows_the_stored_scores_and_draws_triptychs(tiny_report, tmp_path):
    from ml.leaderboard import rank, render_triptychs

    report, model = tiny_report
    best, worst = rank(report["rows"], "rmse_ab", n=3)
    scores = sorted(r["model"]["rmse_ab"] for r in report["rows"])
    assert [r["model"]["rmse_ab"] for r in best] == scores[:3]
    assert [r["model"]["rmse_ab"] for r in worst] == scores[::-1][:3]
    best_psnr, _ = rank(report["rows"], "psnr", n=1)
    assert best_psnr[0]["model"]["psnr"] == max(r["model"]["psnr"] for r in report["rows"])
    with pytest.raises(ValueError):
        rank(report["rows"], "beauty")
    paths = render_triptychs(model, [best[0]["file"]], tmp_path)
    with Image.open(paths[best[0]["file"]]) as im:
        assert im.size == (3 * 150 + 8, 150)


def row(source, model_psnr, grey_psnr):
    scores = {"rmse_ab": 1.0, "ssim": 1.0, "auc": 1.0, "colourfulness": 10.0, "colourfulness_true": 12.0}
    return {"source": source, "model": {**scores, "psnr": model_psnr}, "grey": {**scores, "psnr": grey_psnr}}


def test_the_share_beating_grey_counts_strictly_higher_psnr():
    from ml.evaluate import compare_with_grey

    rows = [row("a", 25, 24), row("a", 24, 24), row("b", 20, 22), row("b", 30, 29)]
    assert compare_with_grey(rows)["beats_grey"] == 0.5


def test_the_breakdown_has_one_entry_per_source_set():
    from ml.evaluate import by_source

    rows = [row("a", 25, 24), row("b", 20, 22), row("b", 30, 29)]
    assert sorted(by_source(rows)) == ["a", "b"]


def test_each_source_sets_means_are_its_own_photos():
    from ml.evaluate import by_source

    rows = [row("a", 25, 24), row("b", 20, 22), row("b", 30, 29)]
    assert by_source(rows)["b"]["summary"]["model"]["psnr"] == 25.0


def test_each_source_set_counts_its_photos():
    from ml.evaluate import by_source

    rows = [row("a", 25, 24), row("b", 20, 22), row("b", 30, 29)]
    assert by_source(rows)["b"]["images"] == 2


def test_each_source_set_has_its_share_beating_grey():
    from ml.evaluate import by_source

    rows = [row("a", 25, 24), row("b", 20, 22), row("b", 30, 29)]
    assert by_source(rows)["b"]["beats_grey"] == 0.5


def test_each_source_sets_gain_is_the_mean_of_its_photos_differences_from_grey():
    from ml.evaluate import by_source

    rows = [row("a", 25, 24), row("b", 20, 22), row("b", 30, 29)]
    assert by_source(rows)["b"]["psnr_vs_grey"] == -0.5


def test_the_gains_standard_error_is_the_sample_deviation_over_the_root_of_the_count():
    from ml.evaluate import by_source

    rows = [row("a", 25, 24), row("b", 20, 22), row("b", 30, 29)]  # b: -2 and +1, sd 2.121
    assert by_source(rows)["b"]["psnr_vs_grey_se"] == pytest.approx(1.5)


def test_a_single_photo_has_a_gain_but_no_standard_error():
    from ml.evaluate import by_source

    assert by_source([row("a", 25, 24)])["a"]["psnr_vs_grey_se"] is None


def test_a_photo_that_is_already_grey_is_left_out_of_the_gain():
    from ml.evaluate import compare_with_grey

    rows = [row("a", 25, 24), row("a", 30, float("inf")), row("a", 27, 24)]
    assert compare_with_grey(rows)["psnr_vs_grey"] == 2.0


def test_the_table_shows_each_source_sets_gain_with_its_standard_error(tmp_path):
    from ml.evaluate import by_source

    model = write_tiny_model(tmp_path / "m")
    report = evaluate(model, max_examples=3, collection="photos")
    report["by_source"] = by_source([row("a", 25, 24), row("b", 20, 22), row("b", 30, 29)])
    assert "| b | 2 | 25.00 | 25.50 | -0.50 ± 1.50 |" in format_table(report)


def test_the_photos_report_is_written_beside_the_landscape_one(tmp_path):
    model = write_tiny_model(tmp_path / "m")
    report = evaluate(model, max_examples=3, collection="photos")
    assert report["collection"] == "photos"
    assert (model / "evaluation_photos.json").is_file()


def test_the_table_lists_the_source_sets_of_a_photos_report(tmp_path):
    model = write_tiny_model(tmp_path / "m")
    report = evaluate(model, max_examples=3, collection="photos")
    report["by_source"]["another_set"] = report["by_source"][next(iter(report["by_source"]))]
    assert "| another_set |" in format_table(report)


def test_shipped_model_beats_grey_on_the_everyday_photos_it_was_scored_on():
    report = json.loads((SHIPPED_MODEL / "evaluation_photos.json").read_text())
    assert report["summary"]["model"]["psnr"] > report["summary"]["grey"]["psnr"]


def test_shipped_model_beats_grey_on_most_everyday_photos():
    report = json.loads((SHIPPED_MODEL / "evaluation_photos.json").read_text())
    assert report["beats_grey"] > 0.5


def test_shipped_model_clears_issue_8s_photo_psnr_bar():
    report = json.loads((SHIPPED_MODEL / "evaluation_photos.json").read_text())
    assert report["summary"]["model"]["psnr"] >= report["summary"]["grey"]["psnr"] + 0.8


def test_shipped_model_clears_issue_8s_landscape_psnr_bar():
    report = json.loads((SHIPPED_MODEL / "evaluation.json").read_text())
    assert report["summary"]["model"]["psnr"] >= 25.3


def test_shipped_model_clears_issue_8s_share_of_photos_beating_grey():
    report = json.loads((SHIPPED_MODEL / "evaluation_photos.json").read_text())
    assert report["beats_grey"] >= 0.65


@pytest.mark.parametrize("dtype", [np.uint8, np.float64])
def test_psnr_agrees_with_scikit_image(dtype):
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 256, (37, 41, 3)).astype(dtype)
    pred = np.clip(truth + rng.integers(-40, 41, truth.shape), 0, 255).astype(dtype)
    assert metrics.psnr(pred, truth) == pytest.approx(peak_signal_noise_ratio(truth, pred, data_range=255), abs=1e-9)


def test_psnr_of_identical_images_is_infinite():
    same = np.full((4, 4, 3), 7, np.uint8)
    assert metrics.psnr(same, same) == float("inf")
