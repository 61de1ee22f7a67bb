"""Recovery, one mechanism at a time, in this process (tests/test_reliability_faults.py does it with real processes).

Redis down at upload time, the sweep that re-sends lost messages, a pool process lost
mid-photo, a restarted worker taking back its photos, storage that fails mid-write, and a
file the storage lost.  Redis itself is the test one (database 13); where a test needs it
down, the call that would reach it raises what kombu and redis-py raise.
"""

import errno
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import redis
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.urls import reverse
from django.utils import timezone
from kombu.exceptions import OperationalError
from PIL import Image

from gallery import broker, failures, recovery, tasks
from gallery.models import Photo
from gallery.recovery import LOST_WORKER_LIMIT
from gallery.storage import TEMP_PREFIX, AtomicFileSystemStorage
from gallery.tasks import colorize_photo
from tests.site_fixtures import make_photo, upload_file, wait_for

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("media_root")]

REFUSED = "Error 111 connecting to 127.0.0.1:6379. Connection refused."


@pytest.fixture
def sent(monkeypatch):
    """Records the photo ids sent to the workers instead of sending them."""
    ids = []
    monkeypatch.setattr(colorize_photo, "apply_async", lambda args, **options: ids.append(args[0]))
    return ids


@pytest.fixture
def redis_down(monkeypatch):
    """The broker refuses connections, as a stopped Redis does."""

    def refuse(*args, **kwargs):
        raise OperationalError(REFUSED)

    def refuse_redis(*args, **kwargs):
        raise redis.ConnectionError(REFUSED)

    monkeypatch.setattr(colorize_photo, "apply_async", refuse)
    monkeypatch.setattr(broker, "mark_sent", refuse_redis)


@pytest.fixture(autouse=True)
def clean_marks(settings):
    """Each test leaves no keys behind in the test Redis (they start with this run's own queue name)."""
    yield
    client = broker._client(settings.REDIS_URL)
    for key in client.scan_iter(broker.key("*", "*")):
        client.delete(key)


def new_photo(user, name="p.png", size=(48, 32)) -> Photo:
    return Photo.create_from_upload(user, name, Image.fromarray(make_photo(*size)), "PNG", 100)


# -- Redis down while photos are uploaded ---------------------------------------------------------------

# Real commits here (transaction=True): the send runs when the upload's row commits, inside the request,
# as in production, so the view sees whether it went out.


@pytest.mark.django_db(transaction=True)
def test_an_upload_while_redis_is_down_waits_and_the_page_says_so(owner_client, users, image_bytes, redis_down):
    response = owner_client.post(
        reverse("gallery-upload"), {"file": upload_file("old.png", image_bytes())}, follow=True
    )
    photo = Photo.objects.get(owner=users.owner)
    assert response.status_code == 200
    assert photo.status == Photo.QUEUED
    assert default_storage.exists(photo.original.name)
    texts = [str(m) for m in response.context["messages"]]
    assert "1 photo(s) queued for colouring." in texts
    assert any(
        text.startswith("Your photos are saved and waiting: the colouring queue cannot be reached") for text in texts
    )


@pytest.mark.django_db(transaction=True)
def test_an_api_upload_while_redis_is_down_is_201_with_a_notice(owner_client, image_bytes, redis_down):
    response = owner_client.post(reverse("api-photos"), {"file": upload_file("old.png", image_bytes())})
    body = response.json()
    assert response.status_code == 201
    assert body["photos"][0]["status"] == "queued"
    assert "cannot be reached right now" in body["notice"]


@pytest.mark.django_db(transaction=True)
def test_an_upload_when_redis_answers_has_no_notice(owner_client, image_bytes, sent):
    body = owner_client.post(reverse("api-photos"), {"file": upload_file("old.png", image_bytes())}).json()
    assert "notice" not in body
    assert sent == [body["photos"][0]["id"]]


# -- the sweep ----------------------------------------------------------------------------------------------


def test_the_sweep_resends_only_queued_photos_that_were_never_sent(users, sent, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        delivered = new_photo(users.owner, "delivered.png")  # sent, so marked as on its way
    lost = new_photo(users.owner, "lost.png")  # its on-commit send never ran: as if Redis had been down
    running = new_photo(users.owner, "running.png")
    Photo.claim(running.pk, worker="w@h:1")
    assert sent == [str(delivered.pk)]
    tasks.sweep()
    assert sent == [str(delivered.pk), str(lost.pk)]
    tasks.sweep()  # a second sweep within the time limit sends nothing again
    assert sent == [str(delivered.pk), str(lost.pk)]


def test_after_redis_lost_its_data_the_sweep_resends_every_queued_photo(
    users, sent, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        photos = [new_photo(users.owner, f"{i}.png") for i in range(3)]
    for key in broker.client().scan_iter(broker.sent_key("*")):  # what a restart without persistence does
        broker.client().delete(key)
    sent.clear()
    tasks.sweep()
    assert sorted(sent) == sorted(str(p.pk) for p in photos)


def test_a_worker_starting_while_redis_is_down_carries_on(users, monkeypatch, caplog):
    new_photo(users.owner)

    class Refusing:
        def pipeline(self, **kwargs):
            raise redis.ConnectionError(REFUSED)

    monkeypatch.setattr(broker, "client", lambda: Refusing())
    tasks.sweep_on_start(sender=None)  # must not raise: the periodic sweep sends the photo later
    assert "Redis is not answering" in caplog.text


# -- a worker process lost mid-photo --------------------------------------------------------------------------


def test_a_photo_whose_pool_process_died_is_queued_again_at_once(
    users, sent, media_root, django_capture_on_commit_callbacks
):
    photo = new_photo(users.owner)
    Photo.claim(photo.pk, worker="w1@host:4242")
    half = default_storage.save(f"photos/{photo.pk}/result-deadbeef.png", ContentFile(b"half a result"))
    (media_root / "photos" / str(photo.pk) / f"{TEMP_PREFIX}0123").write_bytes(b"partial")
    with django_capture_on_commit_callbacks(execute=True):
        assert recovery.requeue_after_lost_worker(photo.pk, "w1@host") == Photo.QUEUED
    photo.refresh_from_db()
    assert photo.status == Photo.QUEUED
    assert sent == [str(photo.pk)]
    left = sorted(p.name for p in (media_root / "photos" / str(photo.pk)).iterdir())
    assert not default_storage.exists(half)
    assert not any(name.startswith(TEMP_PREFIX) for name in left)
    assert len(left) == 3  # original, preview, thumb: what the row names


def test_another_nodes_photo_is_not_taken(users, sent):
    photo = new_photo(users.owner)
    Photo.claim(photo.pk, worker="w2@host:99")
    assert recovery.requeue_after_lost_worker(photo.pk, "w1@host") is None
    assert Photo.objects.get(pk=photo.pk).status == Photo.RUNNING
    assert not sent


def test_a_photo_that_keeps_killing_its_worker_ends_failed(users, sent, django_capture_on_commit_callbacks):
    photo = new_photo(users.owner)
    for attempt in range(LOST_WORKER_LIMIT):
        assert Photo.claim(photo.pk, worker=f"w1@host:{attempt}") is not None
        with django_capture_on_commit_callbacks(execute=True):
            status = recovery.requeue_after_lost_worker(photo.pk, "w1@host")
    photo.refresh_from_db()
    assert status == Photo.FAILED
    assert photo.status == Photo.FAILED
    assert photo.failure_reason == failures.WORKER_LOST.reason
    assert len(sent) == LOST_WORKER_LIMIT - 1


def test_the_main_process_hears_of_a_lost_pool_process(users, sent, django_capture_on_commit_callbacks):
    """Celery's task_failure signal with WorkerLostError, as the worker's main process sends it."""
    from billiard.exceptions import WorkerLostError

    photo = new_photo(users.owner)
    Photo.claim(photo.pk, worker="w1@host:4242")
    colorize_photo.push_request(hostname="w1@host")
    try:
        with django_capture_on_commit_callbacks(execute=True):
            tasks.take_back_from_lost_process(
                sender=colorize_photo, exception=WorkerLostError("signal 9"), args=[str(photo.pk)]
            )
            tasks.take_back_from_lost_process(
                sender=colorize_photo, exception=ValueError("not lost"), args=[str(photo.pk)]
            )
    finally:
        colorize_photo.pop_request()
    assert Photo.objects.get(pk=photo.pk).status == Photo.QUEUED
    assert sent == [str(photo.pk)]


def test_a_restarted_worker_takes_back_what_it_left_running(users, sent, django_capture_on_commit_callbacks):
    dead, zombie, reused, alive, other = (new_photo(users.owner, f"{i}.png") for i in range(5))
    still_colouring = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)", "celery-worker"])
    exited = subprocess.Popen([sys.executable, "-c", "pass", "celery-worker"])
    wait_for(
        lambda: open(f"/proc/{exited.pid}/stat").read().rsplit(")", 1)[1].split()[0] == "Z",
        timeout=30,
        interval=0.05,
        message="the process to exit",
    )  # not reaped: a zombie, as a killed worker's pool can be
    try:
        Photo.claim(dead.pk, worker="w1@host:999999999")  # no such process
        Photo.claim(zombie.pk, worker=f"w1@host:{exited.pid}")
        Photo.claim(reused.pk, worker=f"w1@host:{os.getpid()}")  # the id now belongs to something else
        Photo.claim(alive.pk, worker=f"w1@host:{still_colouring.pid}")  # still alive: left alone
        Photo.claim(other.pk, worker="w2@host:999999999")  # another node's
        with django_capture_on_commit_callbacks(execute=True):
            assert recovery.requeue_left_by("w1@host") == 3
    finally:
        still_colouring.kill()
        still_colouring.wait()
        exited.wait()
    statuses = dict(Photo.objects.values_list("pk", "status"))
    assert [statuses[p.pk] for p in (dead, zombie, reused, alive, other)] == ["queued"] * 3 + ["running"] * 2
    assert sorted(sent) == sorted(str(p.pk) for p in (dead, zombie, reused))


# -- storage that fails -----------------------------------------------------------------------------------------


class HalfWrite(ContentFile):
    """Content whose second chunk fails, as a full disk does halfway through a file."""

    def chunks(self, chunk_size=None):
        data = self.read()
        yield data[: len(data) // 2]
        raise OSError(errno.ENOSPC, "No space left on device")


def test_a_write_that_fails_halfway_leaves_no_file_at_all(tmp_path):
    storage = AtomicFileSystemStorage(location=tmp_path)
    with pytest.raises(OSError, match="No space left"):
        storage.save("photos/x/result-1.png", HalfWrite(b"0123456789" * 1000))
    assert list((tmp_path / "photos" / "x").iterdir()) == []


def test_a_complete_write_gets_its_name_and_never_replaces_a_file(tmp_path):
    storage = AtomicFileSystemStorage(location=tmp_path)
    first = storage.save("a/b.png", ContentFile(b"first"))
    second = storage.save("a/b.png", ContentFile(b"second"))
    assert first == "a/b.png"
    assert second != first
    assert storage.open(first).read() == b"first"
    assert storage.open(second).read() == b"second"
    assert sorted(p.name for p in (tmp_path / "a").iterdir()) == sorted([first[2:], second[2:]])
    assert oct((tmp_path / first).stat().st_mode & 0o777) == oct(0o666 & ~current_umask())


def current_umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_a_result_the_storage_cut_short_is_never_recorded(users, fake_colorizer, monkeypatch, media_root):
    """A storage that says it saved but kept less: the size check turns it into a storage error."""
    photo = new_photo(users.owner)
    real_save = AtomicFileSystemStorage._save

    def truncating_save(self, name, content):
        return real_save(self, name, ContentFile(content.read()[:100]) if "result-" in name else content)

    monkeypatch.setattr(AtomicFileSystemStorage, "_save", truncating_save)
    with pytest.raises(Exception, match="incomplete"):  # Retry, carrying the storage error
        colorize_photo.apply(args=[str(photo.pk)], throw=True)
    photo.refresh_from_db()
    assert photo.status == Photo.QUEUED
    assert not photo.result
    assert not list((media_root / "photos" / str(photo.pk)).glob("result*"))


def test_storage_failing_on_the_last_try_ends_failed_without_files(users, fake_colorizer, monkeypatch, media_root):
    photo = new_photo(users.owner)
    real_save = AtomicFileSystemStorage._save

    def full_after_first_result_file(self, name, content):
        if "result-thumb" in name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, name, content)

    monkeypatch.setattr(AtomicFileSystemStorage, "_save", full_after_first_result_file)
    colorize_photo.apply(args=[str(photo.pk)], retries=colorize_photo.max_retries)
    photo.refresh_from_db()
    assert photo.status == Photo.FAILED
    assert not photo.result
    assert photo.failure_reason == failures.STORAGE_FAILED.reason
    assert not list((media_root / "photos" / str(photo.pk)).glob("result*"))  # the stored result went too


def test_an_upload_the_storage_cannot_keep_is_refused_and_leaves_nothing(
    owner_client, users, image_bytes, monkeypatch, media_root
):
    real_save = AtomicFileSystemStorage._save

    def full_after_original(self, name, content):
        if "/thumb-" in name:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_save(self, name, content)

    monkeypatch.setattr(AtomicFileSystemStorage, "_save", full_after_original)
    response = owner_client.post(reverse("api-photos"), {"file": upload_file("a.png", image_bytes())})
    assert response.status_code == 400
    assert response.json()["rejected"] == [
        {
            "name": "a.png",
            "error": "the photo could not be saved: the server's storage failed; please send it again later",
        }
    ]
    assert not Photo.objects.exists()
    assert not [p for p in media_root.rglob("*") if p.is_file()]


def test_a_file_the_storage_lost_is_404_not_a_server_error(owner_client, users, fake_colorizer):
    photo = new_photo(users.owner)
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    default_storage.delete(photo.result.name)
    for url in (
        reverse("gallery-photo-file", args=[photo.pk, "result"]),
        reverse("api-photo-download", args=[photo.pk, "result"]),
    ):
        assert owner_client.get(url).status_code == 404


def test_a_coloured_photo_is_logged_once_with_its_worker(users, fake_colorizer, caplog):
    photo = new_photo(users.owner)
    with caplog.at_level("INFO", logger="gallery.tasks"):
        colorize_photo(str(photo.pk))
        colorize_photo(str(photo.pk))
    assert caplog.text.count(f"photo {photo.pk} coloured by") == 1


# -- a broken model ----------------------------------------------------------------------------------------------


def test_a_broken_model_is_explained_to_staff_and_owners(users, client, owner_client, monkeypatch, tmp_path, settings):
    from django.test import Client

    from gallery.models import ModelVersion
    from ml.inference import ModelNotAvailable

    folder = tmp_path / "v7"
    folder.mkdir()
    (folder / "model.json").write_text('{"family": "classification"}')
    (folder / "model.keras").write_bytes(b"not a zip at all")
    ModelVersion.register_folder(folder, label="v7", activate=True)

    def cannot_load(model_dir):
        raise ModelNotAvailable(f"the model file in {model_dir} cannot be loaded (not a zip file)")

    monkeypatch.setattr(tasks, "get_colorizer", cannot_load)
    photo = new_photo(users.owner)
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    assert photo.status == Photo.FAILED
    assert photo.failure_reason == failures.MODEL_UNAVAILABLE.reason

    staff = Client()
    staff.force_login(users.staff)
    for url in (reverse("staff-dashboard"), reverse("gallery-public"), reverse("gallery-upload")):
        page = staff.get(url).content.decode()
        assert (
            f"The active colouring model (v7, {folder}) cannot be used: model.keras is damaged (it is not a "
            "complete Keras file)" in page
        ), url
    for someone in (owner_client, client):  # the owner and the public see no alert and no server path
        assert "cannot be used" not in someone.get(reverse("gallery-public")).content.decode()
    assert str(folder) not in owner_client.get(reverse("api-photo", args=[photo.pk])).content.decode()

    (folder / "model.keras").unlink()
    assert "cannot be used: model.keras is missing" in staff.get(reverse("staff-dashboard")).content.decode()
    # Restored (a newer, whole file): the alert goes without waiting for a worker.
    import zipfile

    with zipfile.ZipFile(folder / "model.keras", "w") as archive:
        archive.writestr("config.json", "{}")
    os.utime(folder / "model.keras", (time.time() + 5, time.time() + 5))
    assert "cannot be used" not in staff.get(reverse("staff-dashboard")).content.decode()


def test_a_model_that_loads_again_clears_the_alert(users, fake_colorizer, tmp_path, settings):
    from gallery import health

    health.report_model_problem(tmp_path, "v8", "the model file cannot be loaded")
    assert health.model_problem().startswith(f"The active colouring model (v8, {tmp_path.resolve()}) cannot be used")
    health.report_model_loaded(tmp_path, "v8")
    assert health.model_problem() is None


# -- transient failures: retried by the sweep, a bounded number of times ---------------------------------------


@pytest.fixture
def storage_fault(settings, tmp_path, monkeypatch):
    """The fault tests' storage (tests/flaky_storage.py) in this process: write a text to the switch to break it."""
    switch = tmp_path / "storage-fault"
    monkeypatch.setenv("COLORSITE_TEST_STORAGE_FAULT", str(switch))
    settings.STORAGES = dict(settings.STORAGES, default={"BACKEND": "tests.flaky_storage.FlakyStorage"})
    return switch


def fail_on_the_last_celery_retry(photo: Photo) -> Photo:
    """Run the colouring task as its last quick (Celery) retry does, and return the photo as it then is."""
    colorize_photo.apply(args=[str(photo.pk)], retries=colorize_photo.max_retries)
    photo.refresh_from_db()
    return photo


def wait_over(photo: Photo) -> None:
    """Move the photo's automatic retry into the past: as if its wait had gone by."""
    Photo.objects.filter(pk=photo.pk).update(retry_after=timezone.now() - timedelta(seconds=1))


def test_photos_failed_by_a_storage_fault_are_retried_by_the_sweep_once_it_is_back(
    users, owner_client, fake_colorizer, storage_fault, sent, django_capture_on_commit_callbacks
):
    photos = [new_photo(users.owner, f"{i}.png") for i in range(2)]
    storage_fault.write_text("/result-")  # results are written halfway, then the disk is "full"
    for photo in photos:
        photo = fail_on_the_last_celery_retry(photo)
        assert photo.status == Photo.FAILED
        assert photo.failure_transient
        assert photo.retry_after is not None
    body = owner_client.get(reverse("api-photo", args=[photos[0].pk])).json()
    assert body["retry"]["message"] == "It will be retried automatically in about 2 minutes (attempt 1 of 5)."
    assert (body["retry"]["attempt"], body["retry"]["of"]) == (1, 5)
    page = owner_client.get(reverse("gallery-photo", args=[photos[0].pk])).content.decode()
    assert "It will be retried automatically in about 2 minutes (attempt 1 of 5)." in page

    with django_capture_on_commit_callbacks(execute=True):
        tasks.sweep()  # not yet due: nothing happens, whether the storage is back or not
    assert sent == []
    storage_fault.unlink()  # the disk has room again
    for photo in photos:
        wait_over(photo)
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sweep()
    with django_capture_on_commit_callbacks(execute=True):
        tasks.sweep()  # a second sweep finds them queued and marked as sent: nothing twice
    assert sorted(sent) == sorted(str(p.pk) for p in photos)
    for photo_id in sent:
        colorize_photo(photo_id)
    done = Photo.objects.filter(pk__in=sent)
    assert sorted(p.status for p in done) == [Photo.DONE, Photo.DONE]
    assert [(p.retry_after, p.auto_retries, p.failure_transient) for p in done] == [(None, 0, False)] * 2
    assert owner_client.get(reverse("api-photo", args=[photos[0].pk])).json()["retry"] is None


def test_automatic_retries_are_bounded_and_each_waits_longer(
    users, owner_client, fake_colorizer, storage_fault, sent, settings, django_capture_on_commit_callbacks
):
    settings.COLORSITE_AUTO_RETRIES, settings.COLORSITE_AUTO_RETRY_DELAY = 3, 60
    storage_fault.write_text("/result-")  # and it never comes back
    photo = new_photo(users.owner)
    waits, attempts = [], []
    while True:
        photo = fail_on_the_last_celery_retry(photo)
        if photo.retry_after is None:
            break
        waits.append(round((photo.retry_after - photo.finished).total_seconds()))
        attempts.append(photo.pending_retry["attempt"])
        wait_over(photo)
        with django_capture_on_commit_callbacks(execute=True):
            assert recovery.retry_transient_failures() == 1
    assert waits == [60, 120, 240]
    assert attempts == [1, 2, 3]
    assert len(sent) == 3
    assert photo.status == Photo.FAILED
    assert photo.failure_transient  # still a transient cause, but the tries are spent: the owner decides
    assert photo.pending_retry is None
    assert recovery.retry_transient_failures() == 0
    # The owner's re-colour starts a fresh set of automatic retries.
    assert (
        owner_client.post(reverse("gallery-photo-recolour", args=[photo.pk]), {"working_size": 256}).status_code == 302
    )
    photo.refresh_from_db()
    assert (photo.status, photo.auto_retries) == (Photo.QUEUED, 0)


def test_an_undecodable_photo_stays_failed(users, fake_colorizer, sent, media_root, django_capture_on_commit_callbacks):
    photo = new_photo(users.owner)
    (media_root / photo.original.name).write_bytes(b"\x89PNG\r\n\x1a\n but nothing a decoder can use")
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    assert photo.status == Photo.FAILED
    assert not photo.failure_transient
    assert photo.retry_after is None
    with django_capture_on_commit_callbacks(execute=True):
        assert recovery.retry_transient_failures() == 0
    assert sent == []
    assert Photo.objects.get(pk=photo.pk).status == Photo.FAILED


@pytest.mark.parametrize("cause", ["model file missing", "broker lost"])
def test_a_missing_model_or_a_lost_broker_is_a_transient_failure(users, fake_colorizer, monkeypatch, cause):
    from gallery import health
    from ml.inference import ModelNotAvailable

    def fault(*args, **kwargs):
        if cause == "broker lost":
            raise redis.ConnectionError(REFUSED)
        raise ModelNotAvailable("the model file in /srv/models/v3 is missing")

    monkeypatch.setattr(tasks, "get_colorizer" if cause == "model file missing" else "active_model", fault)
    monkeypatch.setattr(health, "report_model_problem", lambda *args: None)
    photo = new_photo(users.owner)
    colorize_photo(str(photo.pk))
    photo.refresh_from_db()
    assert photo.status == Photo.FAILED
    assert photo.failure_transient
    assert photo.pending_retry["attempt"] == 1
