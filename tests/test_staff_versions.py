"""Model versions: registration of the shipped model, one active version, activation and rollback,
workers following the active version, and training runs (with a stand-in engine; the real one
runs in tests/test_staff_real.py)."""

import json
import time
from pathlib import Path

import pytest
from django.core.management import call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from PIL import Image

from gallery import failures, tasks, training_runs
from gallery.models import ModelVersion, Photo
from gallery.staff_forms import FAMILIES, TRAINING_CROPS, TrainingForm
from gallery.staff_progress import progress_report
from tests.site_fixtures import FakeColorizer, make_photo
from tests.staff_fixtures import FAKE_LOG, TINY_RUN, fake_report

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]


def model_folder(folder: Path, *, report: bool = True, log: bool = True) -> Path:
    """A model folder in the shipped format; the network file is a placeholder (nothing loads it here)."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text(
        json.dumps({"family": "classification", "parameters": 98765, "config": {"epochs": 14, "crop": 128, "out": "x"}})
    )
    (folder / "model.keras").write_bytes(b"k" * 1000)
    if log:
        (folder / "train_log.json").write_text(json.dumps(FAKE_LOG))
    if report:
        (folder / "evaluation.json").write_text(json.dumps(fake_report(9)))
    return folder


# -- the shipped model is the first version, with no manual step -------------------------------------


def test_migrate_registers_the_shipped_model_as_the_first_active_version(settings, tmp_path):
    settings.COLORSITE_MODEL_DIR = model_folder(tmp_path / "default")
    ModelVersion.objects.all().delete()
    call_command("migrate", verbosity=0)
    version = ModelVersion.objects.get()
    report = fake_report(9)
    assert (version.number, version.label, version.state, version.is_active) == (1, "default", "ready", True)
    assert version.path == tmp_path / "default"
    assert version.family == "classification"
    assert version.parameter_count == 98765
    assert version.size_bytes == 1000
    assert version.training_parameters == {"epochs": 14, "crop": 128}
    assert version.train_log == FAKE_LOG
    assert version.summary["model"] == pytest.approx(report["summary"]["model"])
    assert version.summary["grey"]["rmse_ab"] == pytest.approx(report["summary"]["grey"]["rmse_ab"])
    assert len(version.evaluation["rows"]) == 9
    assert sum(version.summary["histogram"]["model"]) == 9
    call_command("migrate", verbosity=0)
    assert ModelVersion.objects.count() == 1  # registered once


def test_a_folder_inside_the_checkout_is_stored_relative_to_it(settings):
    from gallery.models.versions import stored_directory

    assert stored_directory(Path(settings.BASE_DIR) / "models" / "default") == "models/default"
    assert stored_directory(Path("/srv/models/x")) == "/srv/models/x"


def test_nothing_is_registered_before_the_model_and_its_report_follows(settings, tmp_path):
    folder = tmp_path / "default"
    settings.COLORSITE_MODEL_DIR = folder
    ModelVersion.objects.all().delete()
    assert ModelVersion.register_default() is None
    model_folder(folder, report=False)
    version = ModelVersion.register_default()
    assert version.is_active
    assert version.summary == {}
    (folder / "evaluation.json").write_text(json.dumps(fake_report(5)))
    ModelVersion.register_default()
    version.refresh_from_db()
    assert version.summary["images"] == 5


def test_a_shipped_model_that_arrives_late_joins_without_taking_over(settings, tmp_path, make_version):
    trained = make_version("v1", active=True)  # trained from the page before the shipped model was there
    settings.COLORSITE_MODEL_DIR = model_folder(tmp_path / "default")
    shipped = ModelVersion.register_default()
    assert shipped.number == 2
    assert shipped.state == ModelVersion.READY
    assert not shipped.is_active
    assert ModelVersion.active() == trained
    assert ModelVersion.register_default() == shipped
    assert ModelVersion.objects.count() == 2


# -- exactly one active version; activation and rollback ---------------------------------------------


def test_the_database_refuses_a_second_active_version(make_version):
    make_version("a", active=True)
    b = make_version("b")
    with pytest.raises(IntegrityError), transaction.atomic():
        ModelVersion.objects.filter(pk=b.pk).update(is_active=True)


def test_activation_and_rollback_walk_back_through_the_versions(make_version):
    a = make_version("a", active=True)
    b, c = make_version("b"), make_version("c")
    assert b.activate()
    assert c.activate()
    assert ModelVersion.active() == c
    assert ModelVersion.objects.filter(is_active=True).count() == 1
    assert ModelVersion.rollback() == b
    assert ModelVersion.active() == b
    assert ModelVersion.rollback() == a
    assert ModelVersion.active() == a
    assert ModelVersion.rollback() is None
    assert ModelVersion.active() == a
    assert c.activate()
    assert ModelVersion.objects.get(pk=c.pk).previous == a  # c now replaces a


def test_only_a_ready_version_can_be_activated(make_version):
    a = make_version("a", active=True)
    for state in (ModelVersion.QUEUED, ModelVersion.TRAINING, ModelVersion.FAILED, ModelVersion.CANCELLED):
        assert not make_version(state, state=state).activate()
    assert ModelVersion.active() == a


# -- workers colour with the active version, from the next photo ------------------------------------


@pytest.fixture
def loaded(monkeypatch):
    """Replaces the model loader: records which folder each photo was coloured with."""
    folders = []

    def load(model_dir):
        folders.append(model_dir)
        return FakeColorizer()

    monkeypatch.setattr(tasks, "get_colorizer", load)
    return folders


def colour_one(users, colour=False) -> Photo:
    photo = Photo.create_from_upload(users.owner, "p.png", Image.fromarray(make_photo(colour=colour)), "PNG", 1)
    tasks.colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    assert photo.status == Photo.DONE, photo.failure_reason
    return photo


def test_each_photo_is_coloured_by_the_active_version_and_records_it(users, make_version, loaded):
    a = make_version("a", active=True)
    b = make_version("b")
    first = colour_one(users)
    assert first.model_version == a
    assert first.model_name == "a (fake)"
    b.activate()  # no restart: the next photo reads the active version
    second = colour_one(users, colour=True)
    assert second.model_version == b
    assert second.model_name == "b (fake)"
    assert loaded == [str(a.path), str(b.path)]
    assert second.rmse_ab is not None
    assert second.rmse_ab > 0  # colour uploads are scored, RMSE_ab included


def test_with_no_version_the_worker_uses_the_model_folder_setting(users, settings, tmp_path, loaded):
    ModelVersion.objects.all().delete()
    settings.COLORSITE_MODEL_DIR = tmp_path / "m"
    photo = colour_one(users)
    assert photo.model_version is None
    assert loaded == [str(tmp_path / "m")]
    assert photo.model_name == "m (fake)"


def test_a_worker_keeps_at_most_two_models_loaded(monkeypatch):
    import ml.inference

    loads = []
    monkeypatch.setattr(ml.inference, "Colorizer", lambda model_dir: loads.append(model_dir) or object())
    tasks.get_colorizer.cache_clear()
    try:
        for folder in ("/a", "/b", "/a", "/c", "/a", "/b"):
            tasks.get_colorizer(folder)
        assert tasks.get_colorizer.cache_info().currsize == 2
    finally:
        tasks.get_colorizer.cache_clear()
    assert loads == ["/a", "/b", "/c", "/b"]  # switching back and forth between two models loads each once


# -- training runs, with a stand-in engine ----------------------------------------------------------


class FakeEngine:
    """Stands in for ml.train.train and ml.evaluate.evaluate: writes the files, reports progress."""

    def __init__(self, epochs=2, fail=None, on_epoch=None):
        self.epochs, self.fail, self.on_epoch = epochs, fail, on_epoch
        self.configs, self.evaluations, self.fractions = [], [], []

    def train(self, config, progress):
        from gallery.models import ModelVersion

        self.configs.append(config)
        out = Path(config.out)
        out.mkdir(parents=True, exist_ok=True)
        version = ModelVersion.objects.get(directory__endswith=out.name)
        progress({"stage": "loading"})
        progress({"stage": "training", "epochs": self.epochs, "batches": 4})
        log = []
        for epoch in range(1, self.epochs + 1):
            progress({"stage": "batch", "epoch": epoch, "epochs": self.epochs, "batch": 1, "batches": 4, "loss": 3.0})
            self.fractions.append(progress_report(ModelVersion.objects.get(pk=version.pk))["fraction"])
            log.append({"epoch": epoch, "loss": 3.0 - epoch / 10, "val_loss": 3.5 - epoch / 20, "seconds": 1.0})
            (out / "train_log.json").write_text(json.dumps(log))
            if self.on_epoch:
                self.on_epoch(epoch, version)
            progress({"stage": "epoch", "epoch": epoch, "epochs": self.epochs, "logs": log[-1]})
            self.fractions.append(progress_report(ModelVersion.objects.get(pk=version.pk))["fraction"])
            if self.fail and epoch == self.fail:
                raise RuntimeError("out of memory")
        (out / "model.keras").write_bytes(b"k" * 321)
        (out / "model.json").write_text(json.dumps({"family": config.family, "parameters": 555}))
        progress({"stage": "validating"})
        return {}

    def evaluate(self, model_dir, *, data=None, collection="landscape", max_examples=None, progress=None):
        from ml.evaluate import REPORT_NAMES

        self.evaluations.append((collection, max_examples, data))
        progress(0, 8)
        version = ModelVersion.objects.get(directory__endswith=Path(model_dir).name)
        self.fractions.append(progress_report(version)["fraction"])
        report = fake_report(8, collection=collection)
        (Path(model_dir) / REPORT_NAMES[collection]).write_text(json.dumps(report))
        return report


@pytest.fixture
def engine(monkeypatch, settings, tmp_path):
    import ml.evaluate
    import ml.train

    settings.COLORSITE_MODELS_ROOT = tmp_path / "models"
    settings.COLORSITE_EVAL_EXAMPLES = 8
    fake = FakeEngine()
    monkeypatch.setattr(ml.train, "train", lambda config, progress: fake.train(config, progress))
    monkeypatch.setattr(ml.evaluate, "evaluate", fake.evaluate)
    return fake


def queue_run(users, django_capture_on_commit_callbacks, **changes) -> ModelVersion:
    with django_capture_on_commit_callbacks() as callbacks:  # not sent to the broker: run by hand below
        version = training_runs.start({**TINY_RUN, **changes}, created_by=users.superuser)
    assert version is not None
    assert len(callbacks) == 1
    return version


def test_a_run_ends_ready_without_touching_the_active_model(
    users, make_version, engine, django_capture_on_commit_callbacks
):
    active = make_version("shipped", active=True)
    version = queue_run(users, django_capture_on_commit_callbacks, epochs=2)
    assert (version.state, version.label, version.created_by) == ("queued", "v2", users.superuser)
    tasks.train_model_version(str(version.pk))
    version.refresh_from_db()
    assert version.state == ModelVersion.READY, version.failure_reason
    config = engine.configs[0]
    assert Path(config.out) == version.path
    assert version.path.parent == engine_root(engine)
    assert (config.epochs, config.crop, config.filters, config.depth, config.max_examples) == (2, 64, 4, 1, 16)
    assert (config.arch, config.mix, config.init_from) == ("scratch", 1.0, None)
    assert config.command.startswith("python -m ml train --family classification --arch scratch --epochs 2 --frozen")
    # both test splits, landscape (the headline) first, each on COLORSITE_EVAL_EXAMPLES photos
    assert engine.evaluations == [("landscape", 8, None), ("photos", 8, None)]
    assert [row["epoch"] for row in version.train_log] == [1, 2]
    assert version.train_log[1]["val_loss"] == 3.4
    assert version.summary["images"] == 8
    assert len(version.evaluation["rows"]) == 8
    assert version.photos_summary["images"] == 8
    assert len(version.photos_evaluation["rows"]) == 8
    assert version.photos_summary["collection"] == "photos"
    assert version.size_bytes == 321
    assert version.parameter_count == 555
    assert version.pictures_state == ModelVersion.PICTURES_QUEUED  # pictures drawn next, by a task
    assert progress_report(version)["fraction"] == 1.0
    assert ModelVersion.active() == active
    assert engine.fractions == sorted(engine.fractions)
    assert 0 < engine.fractions[0] < engine.fractions[-1] < 1
    # the last two are the test splits' evaluations: past training, with a share of the bar of their own
    training_end, landscape, photos = engine.fractions[-3:]
    assert training_end < landscape < photos


def engine_root(engine):
    from django.conf import settings

    return Path(settings.COLORSITE_MODELS_ROOT)


def test_cancelling_a_training_run_stops_it_and_leaves_the_active_model(
    users, make_version, engine, django_capture_on_commit_callbacks
):
    active = make_version("shipped", active=True)
    version = queue_run(users, django_capture_on_commit_callbacks, epochs=5)
    engine.on_epoch = lambda epoch, v: epoch == 2 and training_runs.request_cancel(v)  # the admin clicks during epoch 2
    tasks.train_model_version(str(version.pk))
    version.refresh_from_db()
    assert version.state == ModelVersion.CANCELLED
    assert [row["epoch"] for row in version.train_log] == [1, 2]  # the log so far is kept for the page
    assert not version.path.exists()  # its folder is removed
    assert ModelVersion.active() == active
    assert not version.activate()


def test_cancelling_a_queued_run_cancels_it_before_it_starts(
    users, make_version, engine, django_capture_on_commit_callbacks
):
    make_version("shipped", active=True)
    version = queue_run(users, django_capture_on_commit_callbacks)
    assert training_runs.request_cancel(version)
    tasks.train_model_version(str(version.pk))  # the task arrives later and does nothing
    version.refresh_from_db()
    assert version.state == ModelVersion.CANCELLED
    assert engine.configs == []
    assert not training_runs.request_cancel(version)  # nothing left to cancel


def test_a_failed_run_records_why_and_leaves_the_active_model(
    users, make_version, engine, django_capture_on_commit_callbacks
):
    active = make_version("shipped", active=True)
    engine.fail = 1
    version = queue_run(users, django_capture_on_commit_callbacks)
    tasks.train_model_version(str(version.pk))
    version.refresh_from_db()
    assert version.state == ModelVersion.FAILED
    assert version.failure_reason == failures.TRAINING_FAILED.reason  # the exception went to the log
    assert not version.path.exists()
    assert ModelVersion.active() == active


def test_a_cancel_during_evaluation_still_cancels(
    users, make_version, engine, django_capture_on_commit_callbacks, monkeypatch
):
    active = make_version("shipped", active=True)
    version = queue_run(users, django_capture_on_commit_callbacks)
    evaluate = engine.evaluate

    def evaluate_then_cancel(model_dir, **kwargs):
        report = evaluate(model_dir, **kwargs)
        training_runs.request_cancel(ModelVersion.objects.get(pk=version.pk))
        return report

    import ml.evaluate

    monkeypatch.setattr(ml.evaluate, "evaluate", evaluate_then_cancel)
    tasks.train_model_version(str(version.pk))
    assert ModelVersion.objects.get(pk=version.pk).state == ModelVersion.CANCELLED
    assert ModelVersion.active() == active


def test_one_run_at_a_time(users, make_version, engine, django_capture_on_commit_callbacks, role_clients):
    queue_run(users, django_capture_on_commit_callbacks)
    assert training_runs.start(TINY_RUN, created_by=users.superuser) is None
    response = role_clients["admin"].post(reverse("staff-train"), TINY_RUN, follow=True)
    assert "already queued or in progress" in response.content.decode()
    assert ModelVersion.objects.filter(state__in=ModelVersion.IN_PROGRESS).count() == 1


def test_the_training_task_is_sent_to_the_training_queue(
    users, django_capture_on_commit_callbacks, monkeypatch, settings
):
    sent = []
    monkeypatch.setattr(tasks.train_model_version, "apply_async", lambda args, **options: sent.append(options))
    with django_capture_on_commit_callbacks(execute=True):
        training_runs.start(TINY_RUN, created_by=users.superuser)
    assert sent == [{"queue": settings.COLORSITE_TRAINING_QUEUE}]
    assert settings.COLORSITE_TRAINING_QUEUE != settings.CELERY_TASK_DEFAULT_QUEUE
    assert tasks.train_model_version.acks_late is False  # hours long: see its docstring


def test_a_run_whose_worker_died_is_marked_failed(make_version, settings):
    from datetime import timedelta

    from django.utils import timezone

    stale = timezone.now() - timedelta(seconds=settings.COLORSITE_TRAINING_STALE_AFTER + 5)
    dead = make_version("dead", state=ModelVersion.TRAINING, heartbeat=stale)
    alive = make_version("alive", state=ModelVersion.TRAINING, heartbeat=timezone.now())
    assert training_runs.fail_abandoned() == 1
    assert ModelVersion.objects.get(pk=dead.pk).state == ModelVersion.FAILED
    assert ModelVersion.objects.get(pk=alive.pk).state == ModelVersion.TRAINING


def test_a_run_whose_process_died_is_marked_failed_at_once(make_version, tmp_path):
    from billiard.exceptions import WorkerLostError

    active = make_version("shipped", active=True)
    run = make_version("run", state=ModelVersion.TRAINING, directory=str(tmp_path / "run"))
    (tmp_path / "run").mkdir()
    tasks.fail_run_of_lost_process(
        sender=tasks.train_model_version, exception=WorkerLostError("signal 9"), args=[str(run.pk)]
    )
    run.refresh_from_db()
    assert run.state == ModelVersion.FAILED
    assert run.failure_reason == failures.TRAINING_PROCESS_LOST.reason
    assert not (tmp_path / "run").exists()
    assert ModelVersion.active() == active


def test_progress_shows_epochs_losses_and_time_left(make_version):
    version = make_version("run", state=ModelVersion.TRAINING)
    plan = {"loading": 0, "training": 100, "validating": 0, "evaluating:landscape": 0, "evaluating:photos": 0}
    version.progress = {
        "stage": "batch",
        "epoch": 2,
        "epochs_done": 1,
        "epochs": 4,
        "batch": 2,
        "batches": 4,
        "loss": 2.5,
        "val_loss": 3.1,
        "plan": plan,  # a run that is all training: the bar is the share of its epochs
        "since": time.time() - 60,
    }
    report = progress_report(version)
    assert report["fraction"] == pytest.approx(1.5 / 4, abs=1e-3)
    assert report["eta_seconds"] == pytest.approx(60 * 2.5 / 1.5, abs=2)  # 1.5 of 4 epochs took a minute
    assert report["time_left"] == "about 2 minutes left"
    assert (report["epoch"], report["epochs"], report["loss"], report["val_loss"]) == (2, 4, 2.5, 3.1)


def test_the_progress_endpoint_returns_the_report(role_clients, make_version):
    version = make_version(
        "run", state=ModelVersion.TRAINING, progress={"stage": "epoch", "epoch": 2, "epochs_done": 2, "epochs": 4}
    )
    data = role_clients["staff"].get(reverse("staff-version-progress", args=[version.pk])).json()
    assert data["state"] == "training"
    assert (data["epoch"], data["epochs"]) == (2, 4)
    assert data["fraction"] == pytest.approx(progress_report(version)["fraction"])
    assert 0 < data["fraction"] < 1


# -- the training form ----------------------------------------------------------------------------------


def test_the_form_refuses_fewer_examples_than_a_batch(role_clients):
    response = role_clients["admin"].post(reverse("staff-train"), {**TINY_RUN, "max_examples": 4, "batch_size": 8})
    assert response.status_code == 400
    assert "use at least one batch (8 photos)" in response.content.decode()
    assert not ModelVersion.objects.filter(state=ModelVersion.QUEUED).exists()


def test_every_combination_the_form_accepts_is_one_the_engine_accepts():
    from ml.grid import ARCHITECTURES
    from ml.models import FAMILIES as ENGINE_FAMILIES
    from ml.train import TrainConfig

    assert set(FAMILIES) == set(ENGINE_FAMILIES)
    accepted = 0
    for arch in ARCHITECTURES:
        for crop in TRAINING_CROPS:
            for mix in (0.0, 0.3):
                form = TrainingForm({**TINY_RUN, "arch": arch, "crop": crop, "mix": mix, "frozen_epochs": 0})
                if form.is_valid():
                    accepted += 1
                    p = form.cleaned_data
                    TrainConfig(arch=arch, crop=p["crop"], mix=p["mix"])  # raises ValueError for what it refuses
                    assert p["crop"] <= 150 or p["mix"] == 0  # the landscape photos are 150 px
    assert accepted >= 10
    form = TrainingForm({**TINY_RUN, "max_examples": ""})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["max_examples"] is None
    assert form.cleaned_data["crop"] == 64


def test_the_launcher_starts_a_worker_for_each_queue(settings):
    from colorsite.launch import worker_commands

    commands = worker_commands(settings, "python")
    colour, training = commands["colouring worker"], commands["training worker"]
    assert commands["beat"][-2:] == ["beat", "--loglevel=INFO"]  # the sweep runs beside the workers
    assert colour[colour.index("--queues") + 1] == settings.CELERY_TASK_DEFAULT_QUEUE
    assert training[training.index("--queues") + 1] == settings.COLORSITE_TRAINING_QUEUE
    assert training[training.index("--concurrency") + 1] == "1"
    assert training[training.index("--max-tasks-per-child") + 1] == "1"
    assert colour[colour.index("--hostname") + 1] != training[training.index("--hostname") + 1]


# -- both test splits (issue 8) ---------------------------------------------------------------------------


def test_set_report_stores_each_test_split_in_its_place(make_version):
    version = make_version("v", report=fake_report(9))  # the first engine's landscape report: no collection
    landscape = version.summary.copy()
    photos = fake_report(14, seed=4, collection="photos")
    version.set_report(photos)
    assert version.summary == landscape  # the headline is untouched
    assert version.photos_summary["images"] == 14
    assert version.photos_summary["model"]["psnr"] == pytest.approx(photos["summary"]["model"]["psnr"])
    assert version.photos_summary["beats_grey"] == pytest.approx(
        sum(r["model"]["psnr"] > r["grey"]["psnr"] for r in photos["rows"]) / 14
    )
    assert set(version.photos_summary["by_source"]) == {r["file"].split("-test-")[0] for r in photos["rows"]}
    assert "rows" not in version.photos_summary  # the rows stay in the heavy field
    assert len(version.photos_evaluation["rows"]) == 14
    assert "beats_grey" not in version.summary  # an old report has no share: nothing made up


def test_a_new_landscape_report_keeps_its_share_and_sources(make_version):
    version = make_version("v")
    report = fake_report(10, seed=2, collection="landscape")
    version.store_report(report)
    version.refresh_from_db()
    assert version.summary["beats_grey"] == pytest.approx(report["beats_grey"])
    assert list(version.summary["by_source"]) == ["landscape"]
    assert version.photos_summary == {}


def test_a_report_of_an_unknown_collection_is_refused(make_version):
    version = make_version("v")
    with pytest.raises(ValueError):
        version.set_report({**fake_report(3), "collection": "portraits"})


def test_list_queries_defer_both_per_image_reports():
    assert set(ModelVersion.LIGHT) == {"evaluation", "photos_evaluation"}


def test_the_report_file_names_are_the_engines():
    from ml.evaluate import REPORT_NAMES

    assert {c: names[0] for c, names in ModelVersion.REPORTS.items()} == REPORT_NAMES


def registered_default(settings, tmp_path) -> tuple[Path, ModelVersion]:
    """A fresh site's shipped model: its folder (with a landscape report of 9 photos) and its version."""
    folder = model_folder(tmp_path / "default")
    settings.COLORSITE_MODEL_DIR = folder
    ModelVersion.objects.all().delete()
    return folder, ModelVersion.register_default()


def test_registering_a_folder_reads_both_reports_and_a_late_photos_report_follows(settings, tmp_path):
    folder, version = registered_default(settings, tmp_path)
    assert version.summary["images"] == 9
    assert version.photos_summary == {}
    (folder / "evaluation_photos.json").write_text(json.dumps(fake_report(6, collection="photos")))
    ModelVersion.register_default()
    version.refresh_from_db()
    assert version.photos_summary["images"] == 6
    assert version.summary["images"] == 9  # the landscape report is not read again over it
    fresh = ModelVersion.register_folder(folder, label="again")
    assert (fresh.summary["images"], fresh.photos_summary["images"]) == (9, 6)


def test_a_shipped_models_report_scored_again_replaces_the_stored_one(settings, tmp_path):
    folder, version = registered_default(settings, tmp_path)
    again = fake_report(7, seed=1, collection="landscape")
    again["working_size"] = 160
    (folder / "evaluation.json").write_text(json.dumps(again))
    ModelVersion.register_default()
    version.refresh_from_db()
    assert (version.summary["images"], version.summary["working_size"]) == (7, 160)


def test_an_unchanged_report_is_not_stored_again(settings, tmp_path):
    _, version = registered_default(settings, tmp_path)
    ModelVersion.objects.filter(pk=version.pk).update(evaluation={"kept": True})
    ModelVersion.register_default()
    version.refresh_from_db()
    assert version.evaluation == {"kept": True}


# -- the training form: a fine-tune of the active version or a full run (issue 8, item 6) ---------------


def tiny_folder(folder: Path, **info) -> Path:
    """A model folder like a scratch model's (family, filters, depth); the network file is a placeholder."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "model.json").write_text(json.dumps({"family": "classification", "filters": 4, "depth": 1, **info}))
    (folder / "model.keras").write_bytes(b"k")
    return folder


@pytest.fixture
def active_scratch(make_version, tmp_path):
    return make_version("shipped", active=True, directory=str(tiny_folder(tmp_path / "shipped")))


def test_a_fine_tune_continues_the_active_version_with_its_architecture(active_scratch):
    form = TrainingForm({"kind": "finetune"})
    assert form.is_valid(), form.errors
    p = form.cleaned_data
    assert (p["kind"], p["family"], p["arch"], p["filters"], p["depth"]) == (
        "finetune",
        "classification",
        "scratch",
        4,
        1,
    )
    assert p["init_from"] == active_scratch.directory
    assert (p["epochs"], p["steps_per_epoch"], p["batch_size"], p["learning_rate"]) == (1, 40, 16, 1e-3)
    assert (p["crop"], p["mix"], p["val_examples"], p["max_minutes"]) == (128, 0.3, 100, 10)


def test_a_fine_tune_of_a_pretrained_version_has_no_scratch_shape(make_version, tmp_path):
    make_version("lite", active=True, directory=str(tiny_folder(tmp_path / "lite", arch="lite0_unet")))
    form = TrainingForm({"kind": "finetune", "arch": "scratch", "crop": 48, "epochs": 99})  # full-run fields: ignored
    assert form.is_valid(), form.errors
    assert form.cleaned_data["arch"] == "lite0_unet"
    assert "filters" not in form.cleaned_data
    assert (form.cleaned_data["crop"], form.cleaned_data["epochs"]) == (128, 1)


def test_a_fine_tune_needs_an_active_version(make_version):
    make_version("ready-but-not-active")
    form = TrainingForm({"kind": "finetune"})
    assert not form.is_valid()
    assert form.errors["kind"] == ["There is no active version to fine-tune; start a full run instead."]


def test_a_fine_tune_needs_the_active_versions_model_files(make_version, tmp_path):
    make_version("gone", active=True, directory=str(tmp_path / "gone"))
    form = TrainingForm({"kind": "finetune"})
    assert not form.is_valid()
    assert "has no readable model.json" in form.errors["kind"][0]


def test_a_full_run_of_the_pretrained_network(make_version):
    form = TrainingForm({**TINY_RUN, "arch": "lite0_unet", "crop": 96, "frozen_epochs": 1, "epochs": 3, "mix": 0.3})
    assert form.is_valid(), form.errors
    p = form.cleaned_data
    assert (p["kind"], p["arch"], p["crop"], p["frozen_epochs"], p["mix"]) == ("full", "lite0_unet", 96, 1, 0.3)
    assert "filters" not in p and "depth" not in p  # scratch only


@pytest.mark.parametrize(
    "changes, field, message",
    [
        ({"arch": "lite0_unet", "crop": 48}, "crop", "multiple of 32: 32, 64, 96, 128, 160"),
        ({"arch": "scratch", "crop": 160, "mix": 0.5}, "crop", "needs a landscape share of 0"),
        ({"arch": "lite0_unet", "crop": 64, "epochs": 2, "frozen_epochs": 3}, "frozen_epochs", "at most as many"),
        ({"epochs": ""}, "epochs", "A full run needs this."),
        ({"arch": "scratch", "filters": ""}, "filters", "width and depth"),
        ({"mix": 1.5}, "mix", "less than or equal to 1"),
        ({"arch": "resnet"}, "arch", "Select a valid choice"),
        ({"kind": "both"}, "kind", "Select a valid choice"),
        ({"max_examples": 4, "batch_size": 8}, "max_examples", "use at least one batch (8 photos)"),
    ],
)
def test_the_form_refuses_combinations_the_engine_cannot_run(make_version, changes, field, message):
    form = TrainingForm({**TINY_RUN, **changes})
    assert not form.is_valid()
    assert message in " ".join(form.errors[field])


def test_a_refused_run_is_explained_on_the_page_and_not_queued(role_clients, make_version):
    make_version("a", active=True)
    response = role_clients["admin"].post(reverse("staff-train"), {**TINY_RUN, "arch": "lite0_unet", "crop": 48})
    assert response.status_code == 400
    assert "needs a training crop that is a multiple of 32" in response.content.decode()
    assert not ModelVersion.objects.filter(state=ModelVersion.QUEUED).exists()


def test_the_page_offers_both_kinds_of_run(role_clients, make_version):
    make_version("a", active=True)
    html = role_clients["admin"].get(reverse("staff-dashboard")).content.decode()
    assert 'value="finetune"' in html
    assert 'value="full"' in html
    assert "Training crop" in html
    assert "Working size" not in html


# -- the equivalent command line -----------------------------------------------------------------------


def queued(parameters: dict, directory: str = "var/models/x") -> ModelVersion:
    return ModelVersion(label="x", directory=directory, training_parameters=parameters)


def command_config(command: str):
    """The TrainConfig `python -m ml train …` would run, parsed by the engine's own command line."""
    import shlex

    from ml.cli import parser, train_config

    words = shlex.split(command)
    assert words[:4] == ["python", "-m", "ml", "train"]
    return train_config(parser().parse_args(words[3:]))


SAME = ("family", "arch", "mix", "epochs", "frozen_epochs", "steps_per_epoch", "batch_size", "learning_rate", "crop")
SAME += ("filters", "depth", "max_examples", "val_examples", "max_minutes", "init_from")


def test_the_command_of_a_fine_tune(active_scratch, settings):
    settings.BASE_DIR = Path("/")  # the folders in this test are absolute anyway
    parameters = training_runs.fine_tune_parameters(active_scratch)
    version = queued(parameters)
    command = training_runs.training_command(version)
    assert command == (
        "python -m ml train --family classification --arch scratch --epochs 1 --frozen-epochs 0 --steps-per-epoch 40 "
        f"--batch-size 16 --learning-rate 0.001 --crop 128 --mix 0.3 --filters 4 --depth 1 --val-examples 100 "
        f"--max-minutes 10 --init-from {active_scratch.directory} --out var/models/x"
    )
    parsed, config = command_config(command), training_runs.train_config(version)
    for name in SAME:
        assert getattr(parsed, name) == getattr(config, name), name


def test_the_command_of_a_full_run(make_version, settings, tmp_path):
    settings.COLORSITE_PHOTOS_DATASET = tmp_path / "my photos"
    form = TrainingForm({**TINY_RUN, "arch": "lite0_unet", "crop": 96, "frozen_epochs": 1, "epochs": 3, "mix": 0.3})
    assert form.is_valid(), form.errors
    version = queued({**form.cleaned_data, "steps_per_epoch": 50})
    command = training_runs.training_command(version)
    assert command.startswith(
        "python -m ml train --family classification --arch lite0_unet --epochs 3 --frozen-epochs 1 "
        "--steps-per-epoch 50 --batch-size 8 --learning-rate 0.002 --crop 96 --mix 0.3 --max-examples 16"
    )
    assert "--filters" not in command
    assert f"--photos '{tmp_path / 'my photos'}'" in command  # quoted: the folder has a space
    parsed, config = command_config(command), training_runs.train_config(version)
    for name in SAME:
        assert getattr(parsed, name) == getattr(config, name), name
    assert parsed.photos == config.photos == str(tmp_path / "my photos")


def test_a_run_queued_before_the_new_engine_keeps_its_meaning():
    old = {"family": "regression", "epochs": 2, "learning_rate": 0.002, "crop": 64, "filters": 4, "depth": 1}
    config = training_runs.train_config(queued({**old, "batch_size": 8, "max_examples": 16}))
    assert (config.arch, config.mix, config.frozen_epochs) == ("scratch", 1.0, 0)  # landscape-only scratch, as then


def test_a_fine_tune_run_trains_from_the_active_folder(
    users, active_scratch, engine, django_capture_on_commit_callbacks, role_clients
):
    with django_capture_on_commit_callbacks(execute=False):
        response = role_clients["admin"].post(reverse("staff-train"), {"kind": "finetune"})
    assert response.status_code == 302
    version = ModelVersion.objects.get(state=ModelVersion.QUEUED)
    assert version.training_parameters["init_from_label"] == "shipped"
    tasks.train_model_version(str(version.pk))
    version.refresh_from_db()
    assert version.state == ModelVersion.READY, version.failure_reason
    config = engine.configs[0]
    assert Path(config.init_from) == active_scratch.path
    assert (config.arch, config.filters, config.depth, config.epochs, config.steps_per_epoch) == (
        "scratch",
        4,
        1,
        1,
        40,
    )
    assert "--init-from" in config.command
    assert ModelVersion.active() == active_scratch  # ready, not active: an admin decides
