"""The training progress bar's arithmetic: phases weighted by their expected seconds, the clock inside silent
phases, the time left in words, and what the worker records for it (gallery/staff_progress.py,
gallery.training_runs.report_progress and plan)."""

import pytest

from gallery import training_runs
from gallery.models import ModelVersion
from gallery.staff_progress import (
    PHASE_CAP,
    RATES,
    fraction_and_eta,
    plan_seconds,
    progress_report,
    time_left_words,
    training_seconds,
)
from tests.staff_fixtures import TINY_RUN

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

NOW = 1_000_000.0
# A plan of 100 expected seconds: loading 5, training 20, choosing the decode 15, each test split 30.
PLAN = {"loading": 5.0, "training": 20.0, "validating": 15.0, "evaluating:landscape": 30.0, "evaluating:photos": 30.0}


def run_at(progress: dict, state: str = ModelVersion.TRAINING) -> ModelVersion:
    """An unsaved version with this progress row (the arithmetic needs no database row)."""
    return ModelVersion(label="v9", state=state, progress={"plan": PLAN, **progress})


def fraction(progress: dict, now: float = NOW) -> float:
    return fraction_and_eta(run_at(progress), now)[0]


# -- the bar's shares follow the phases' expected seconds -------------------------------------------


def test_each_phase_starts_where_the_expected_seconds_before_it_end():
    assert fraction({"stage": "loading", "stage_since": NOW}) == 0.0
    assert fraction({"stage": "training", "epochs": 2, "batches": 4}) == pytest.approx(0.05)
    assert fraction({"stage": "validating", "stage_since": NOW}) == pytest.approx(0.25)
    assert fraction({"stage": "evaluating", "collection": "landscape", "stage_since": NOW}) == pytest.approx(0.40)
    assert fraction({"stage": "evaluating", "collection": "photos", "stage_since": NOW}) == pytest.approx(0.70)


def test_training_fills_its_share_by_batches_and_epochs():
    halfway = {"stage": "batch", "epochs": 2, "epochs_done": 1, "batch": 0, "batches": 4}
    assert fraction(halfway) == pytest.approx(0.05 + 0.20 / 2)
    assert fraction({**halfway, "batch": 2}) == pytest.approx(0.05 + 0.20 * 1.5 / 2)


def test_evaluation_fills_its_share_by_photos_evaluated():
    p = {"stage": "evaluating", "collection": "photos", "done": 25, "total": 50, "stage_since": NOW}
    assert fraction(p) == pytest.approx(0.70 + 0.30 / 2)


def test_a_phase_the_engine_is_silent_about_follows_the_clock_up_to_its_cap():
    validating = {"stage": "validating", "stage_since": NOW - 6}  # 6 of its 15 expected seconds
    assert fraction(validating) == pytest.approx(0.25 + 0.15 * 6 / 15)
    long_after = {"stage": "validating", "stage_since": NOW - 600}
    assert fraction(long_after) == pytest.approx(0.25 + 0.15 * PHASE_CAP)
    # before the first count of a split comes in, the clock moves the bar; a count ahead of the clock wins
    first = {"stage": "evaluating", "collection": "landscape", "done": 0, "total": None, "stage_since": NOW - 3}
    assert fraction(first) == pytest.approx(0.40 + 0.30 * 3 / 30)
    ahead = {**first, "done": 40, "total": 50}
    assert fraction(ahead) == pytest.approx(0.40 + 0.30 * 0.8)


def test_the_clock_keeps_the_pace_the_run_has_shown():
    # the phases before took twice their plan (50 s for 25 expected), so choosing the decode should too
    p = {"stage": "validating", "since": NOW - 62, "stage_since": NOW - 12}
    assert fraction(p) == pytest.approx(0.25 + 0.15 * 12 / 30)


def test_ready_is_full_and_a_failed_run_has_no_bar():
    assert fraction_and_eta(run_at({"stage": "done"}, ModelVersion.READY)) == (1.0, None)
    assert fraction_and_eta(run_at({"stage": "failed"}, ModelVersion.FAILED)) == (None, None)


def test_a_run_without_a_plan_still_gives_most_of_a_fine_tunes_bar_to_what_follows_training():
    row = ModelVersion(state=ModelVersion.TRAINING, progress={"stage": "validating"})
    start = fraction_and_eta(row, NOW)[0]
    assert start < 0.5  # a fine-tune spends most of its time choosing the decode and evaluating


# -- the plan: expected seconds from the run's work ------------------------------------------------


def test_a_fine_tunes_training_is_a_small_part_of_its_plan():
    """Its minute of training is followed by the decode search on 200 val photos and both whole test splits."""
    plan = training_runs.plan(ModelVersion(training_parameters={"arch": "lite0_unet", **training_runs.FINE_TUNE}))
    assert plan["training"] < sum(plan.values()) / 10
    assert plan["training"] == pytest.approx(
        training_seconds({"arch": "lite0_unet", **training_runs.FINE_TUNE}, epochs=1, batches=40)
    )


def test_the_plan_grows_with_the_work():
    rates = RATES["lite0_unet"]
    p = {"arch": "lite0_unet", "epochs": 2, "batch_size": 16, "crop": 128}
    small = plan_seconds(p, batches=10, val_photos=100, test_photos={"landscape": 100, "photos": 0})
    big = plan_seconds(p, batches=20, val_photos=200, test_photos={"landscape": 300, "photos": 10})
    assert big["training"] - small["training"] == pytest.approx(2 * 10 * 16 * rates["train"])
    assert big["validating"] - small["validating"] == pytest.approx(100 * rates["validate"])
    assert big["evaluating:landscape"] - small["evaluating:landscape"] == pytest.approx(
        200 * rates["evaluate"]["landscape"]
    )
    assert small["evaluating:photos"] == 0.0  # a split with no photos takes no share of the bar
    half_crop = plan_seconds({**p, "crop": 64}, batches=10, val_photos=100, test_photos={})
    assert half_crop["training"] - rates["train_once"] - 2 * rates["epoch_once"] == pytest.approx(
        (small["training"] - rates["train_once"] - 2 * rates["epoch_once"]) / 4
    )


def test_the_worker_plans_from_the_splits_it_will_read(settings):
    settings.COLORSITE_EVAL_EXAMPLES = 8
    tiny = ModelVersion(training_parameters=TINY_RUN)  # 16 landscape photos, batches of 8, one epoch
    assert training_runs.plan(tiny) == plan_seconds(
        TINY_RUN, batches=2, val_photos=16, test_photos={"landscape": 8, "photos": 8}
    )


# -- the time left ---------------------------------------------------------------------------------------


def test_the_time_left_is_the_rest_of_the_plan_at_the_pace_so_far():
    # 60 % of the plan done in 120 s: 40 % more takes 80 s
    p = {
        "stage": "evaluating",
        "collection": "landscape",
        "done": 20,
        "total": 30,
        "since": NOW - 120,
        "stage_since": NOW - 1,
    }
    fraction_done, eta = fraction_and_eta(run_at(p), NOW)
    assert fraction_done == pytest.approx(0.6)
    assert eta == pytest.approx(80)
    assert progress_report(run_at(p), NOW)["time_left"] == "about a minute left"


def test_early_on_the_time_left_is_the_plan_itself():
    p = {"stage": "loading", "since": NOW - 2, "stage_since": NOW - 2}
    assert fraction_and_eta(run_at(p), NOW)[1] == pytest.approx(100 - 2)


@pytest.mark.parametrize(
    "seconds, words",
    [
        (None, ""),
        (10, "less than a minute left"),
        (70, "about a minute left"),
        (185, "about 3 minutes left"),
        (3600, "about 1 hour left"),
        (3600 + 20 * 60, "about 1 hour 20 minutes left"),
        (2 * 3600 + 60, "about 2 hours 1 minute left"),
    ],
)
def test_the_time_left_in_words(seconds, words):
    assert time_left_words(seconds) == words


# -- what the worker records -----------------------------------------------------------------------------


@pytest.fixture
def claimed(make_version, users, django_capture_on_commit_callbacks):
    make_version("shipped", active=True)
    with django_capture_on_commit_callbacks():
        queued = training_runs.start(dict(TINY_RUN), created_by=users.superuser)
    version = training_runs.claim(queued.pk)
    assert version.progress["stage_since"] == version.progress["since"]
    return version


def test_the_worker_records_the_plan_and_refines_training_when_the_engine_counts_batches(claimed):
    training_runs.report_progress(claimed, {"stage": "loading", "plan": PLAN})
    assert ModelVersion.objects.get(pk=claimed.pk).progress["plan"] == PLAN
    training_runs.report_progress(claimed, {"stage": "training", "epochs": 3, "batches": 7})
    plan = ModelVersion.objects.get(pk=claimed.pk).progress["plan"]
    assert plan["training"] == pytest.approx(training_seconds(TINY_RUN, epochs=3, batches=7))
    assert plan["validating"] == PLAN["validating"]


def test_each_new_phase_restarts_the_phase_clock(claimed):
    stamps = []
    for event in (
        {"stage": "training", "epochs": 1, "batches": 2},
        {"stage": "epoch", "epoch": 1, "epochs": 1, "logs": {"epoch": 1, "loss": 3.0}},
        {"stage": "validating"},
        {"stage": "evaluating", "collection": "landscape", "done": 0, "total": None},
        {"stage": "evaluating", "collection": "landscape", "done": 25, "total": 50},
        {"stage": "evaluating", "collection": "photos", "done": 0, "total": None},
    ):
        training_runs.report_progress(claimed, event)
        stamps.append(ModelVersion.objects.get(pk=claimed.pk).progress["stage_since"])
    training, epoch, validating, landscape, landscape_later, photos = stamps
    assert epoch == training  # the same phase
    assert landscape_later == landscape
    assert training < validating < landscape < photos


def test_a_second_training_stage_goes_on_counting_epochs(claimed):
    training_runs.report_progress(claimed, {"stage": "training", "epochs": 3, "batches": 4, "step": "frozen"})
    training_runs.report_progress(claimed, {"stage": "epoch", "epoch": 1, "epochs": 3, "logs": {"epoch": 1}})
    before = ModelVersion.objects.get(pk=claimed.pk).progress
    training_runs.report_progress(claimed, {"stage": "training", "epochs": 3, "batches": 4, "step": "full"})
    after = ModelVersion.objects.get(pk=claimed.pk).progress
    assert after["epochs_done"] == 1
    assert after["training_since"] == before["training_since"]


def test_the_report_carries_the_state_for_the_versions_table(claimed):
    assert progress_report(ModelVersion.objects.get(pk=claimed.pk))["state_label"] == "training"
