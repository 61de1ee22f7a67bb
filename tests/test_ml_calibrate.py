"""The rule that picks the decode from the val table (ml.calibrate.pick), on made-up rows."""

from ml.calibrate import pick


def row(name: str, psnr: float, beats_grey: float, delta_cf: float) -> dict:
    return {"name": name, "psnr": psnr, "beats_grey": beats_grey, "delta_colourfulness": delta_cf}


def test_a_decode_too_grey_on_some_collection_is_not_chosen_however_accurate():
    rows = [row("grey-ish", 26.0, 0.9, 12.0), row("coloured", 25.0, 0.6, 8.0)]
    assert pick(rows, max_delta_cf=10, psnr_tolerance=0.25)["name"] == "coloured"


def test_near_the_best_psnr_the_decode_that_makes_fewer_photos_worse_wins():
    rows = [row("best psnr", 25.0, 0.66, 9.0), row("close, fewer worse", 24.8, 0.73, 8.0)]
    assert pick(rows, max_delta_cf=10, psnr_tolerance=0.25)["name"] == "close, fewer worse"


def test_a_decode_further_below_the_best_psnr_than_the_tolerance_is_not_chosen():
    rows = [row("best psnr", 25.0, 0.66, 9.0), row("far, fewer worse", 24.5, 0.80, 8.0)]
    assert pick(rows, max_delta_cf=10, psnr_tolerance=0.25)["name"] == "best psnr"


def test_with_no_tolerance_the_best_psnr_wins():
    rows = [row("best psnr", 25.0, 0.66, 9.0), row("close, fewer worse", 24.9, 0.73, 8.0)]
    assert pick(rows, max_delta_cf=10, psnr_tolerance=0.0)["name"] == "best psnr"


def test_when_no_decode_is_colourful_enough_the_smallest_gap_wins():
    rows = [row("grey", 26.0, 0.9, 20.0), row("least grey", 24.0, 0.5, 14.0)]
    assert pick(rows, max_delta_cf=10, psnr_tolerance=0.25)["name"] == "least grey"
