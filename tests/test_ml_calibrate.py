"""The rule that picks the decode from the val table (ml.calibrate.pick), on made-up rows."""

from ml.calibrate import MAX_DELTA_CF, MAX_DELTA_CF_LANDSCAPE, SOURCE_FLOOR, colour_limits, pick


def row(name: str, psnr: float, beats_grey: float, delta_cf: float, worst_source_vs_grey: float = 0.0) -> dict:
    """A table row whose worst collection has the colour gap ``delta_cf`` against a limit of 10."""
    return {
        "name": name,
        "psnr": psnr,
        "beats_grey": beats_grey,
        "colour_excess": delta_cf - 10,
        "worst_source_vs_grey": worst_source_vs_grey,
    }


def test_a_decode_too_grey_on_some_collection_is_not_chosen_however_accurate():
    rows = [row("grey-ish", 26.0, 0.9, 12.0), row("coloured", 25.0, 0.6, 8.0)]
    assert pick(rows, psnr_tolerance=0.25)["name"] == "coloured"


def test_near_the_best_psnr_the_decode_that_makes_fewer_photos_worse_wins():
    rows = [row("best psnr", 25.0, 0.66, 9.0), row("close, fewer worse", 24.8, 0.73, 8.0)]
    assert pick(rows, psnr_tolerance=0.25)["name"] == "close, fewer worse"


def test_a_decode_further_below_the_best_psnr_than_the_tolerance_is_not_chosen():
    rows = [row("best psnr", 25.0, 0.66, 9.0), row("far, fewer worse", 24.5, 0.80, 8.0)]
    assert pick(rows, psnr_tolerance=0.25)["name"] == "best psnr"


def test_with_no_tolerance_the_best_psnr_wins():
    rows = [row("best psnr", 25.0, 0.66, 9.0), row("close, fewer worse", 24.9, 0.73, 8.0)]
    assert pick(rows, psnr_tolerance=0.0)["name"] == "best psnr"


def test_when_no_decode_is_colourful_enough_the_smallest_gap_wins():
    rows = [row("grey", 26.0, 0.9, 20.0), row("least grey", 24.0, 0.5, 14.0)]
    assert pick(rows, psnr_tolerance=0.25)["name"] == "least grey"


def test_near_the_best_psnr_a_decode_keeping_every_source_set_near_grey_wins():
    rows = [
        row("more photos better, one source set worse", 25.0, 0.76, 8.0, worst_source_vs_grey=-0.26),
        row("every source set held", 24.9, 0.75, 8.0, worst_source_vs_grey=0.10),
    ]
    assert pick(rows, psnr_tolerance=0.25)["name"] == "every source set held"


def test_a_source_set_at_the_floor_itself_holds_it():
    rows = [
        row("at the floor", 24.9, 0.75, 8.0, worst_source_vs_grey=SOURCE_FLOOR),
        row("above, fewer better", 24.9, 0.70, 8.0, worst_source_vs_grey=0.5),
    ]
    assert pick(rows, psnr_tolerance=0.25)["name"] == "at the floor"


def test_the_source_floor_does_not_reach_outside_the_psnr_band():
    rows = [
        row("best psnr, one source set worse", 25.0, 0.70, 8.0, worst_source_vs_grey=-0.5),
        row("far, every source set held", 24.5, 0.80, 8.0, worst_source_vs_grey=0.2),
    ]
    assert pick(rows, psnr_tolerance=0.25)["name"] == "best psnr, one source set worse"


def test_when_no_decode_in_the_band_holds_the_floor_the_most_photos_better_than_grey_wins():
    rows = [
        row("more photos better", 25.0, 0.76, 8.0, worst_source_vs_grey=-0.3),
        row("fewer", 24.9, 0.72, 8.0, worst_source_vs_grey=-0.2),
    ]
    assert pick(rows, psnr_tolerance=0.25)["name"] == "more photos better"


def test_landscape_is_held_to_the_bars_colour_gap():
    assert colour_limits(("landscape", "photos"))["landscape"] == MAX_DELTA_CF_LANDSCAPE == 6.0


def test_everyday_photos_keep_the_wider_colour_gap():
    assert colour_limits(("landscape", "photos"))["photos"] == MAX_DELTA_CF == 10.0


def test_the_colour_limits_follow_the_collections_calibrated_on():
    assert colour_limits(("photos",), max_delta_cf=12.0) == {"photos": 12.0}
