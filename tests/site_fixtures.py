"""Fixtures for the site's tests (tests/test_site_*.py), loaded by tests/conftest.py.

* ``users``: named users (owner, other, staff, superuser) and logged-in clients.
* ``media_root``: MEDIA_ROOT in a temporary folder.
* ``image_bytes``: small generated photos in any format.
* ``fake_colorizer``: a stand-in for ml.inference.Colorizer for unit tests (no Keras).
* ``real_workers``: two real Celery worker processes on the real Redis (database 13, a queue
  of this run's own) with the shipped model, sharing the test database and a media folder.
* ``messages_stay_in_process`` (every test): a test without real workers sends its messages to a
  queue no worker reads, so the session's real workers never take its photos.
"""

from __future__ import annotations

import io
import os
import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from ml import color

BASE_DIR = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery staple"


# -- users --------------------------------------------------------------------------------------------


@dataclass
class Users:
    owner: object
    other: object
    staff: object
    superuser: object


@pytest.fixture
def users(django_user_model) -> Users:
    make = django_user_model.objects.create_user
    return Users(
        owner=make("alice", password=PASSWORD),
        other=make("bob", password=PASSWORD),
        staff=make("carol", password=PASSWORD, is_staff=True),
        superuser=django_user_model.objects.create_superuser("root", password=PASSWORD),
    )


@pytest.fixture
def owner_client(client, users):
    client.force_login(users.owner)
    return client


@pytest.fixture
def other_client(users):
    from django.test import Client

    c = Client()
    c.force_login(users.other)
    return c


# -- media and images ---------------------------------------------------------------------------------


@pytest.fixture
def media_root(tmp_path, settings) -> Path:
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


def make_photo(width: int = 96, height: int = 64, *, colour: bool = False, seed: int = 0) -> np.ndarray:
    """A uint8 RGB test photo: smooth gradients plus some shapes, in grey or in colour."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:height, 0:width].astype(np.float32)
    base = 40 + 160 * (x / max(width - 1, 1)) * 0.6 + 160 * (y / max(height - 1, 1)) * 0.4
    base += rng.normal(0, 4, base.shape)
    rgb = np.repeat(np.clip(base, 0, 255)[..., None], 3, axis=-1)
    if colour:
        rgb[: height // 2, : width // 2] *= (1.0, 0.55, 0.35)  # an orange quarter
        rgb[height // 2 :, width // 2 :] *= (0.4, 0.7, 1.0)  # a blue quarter
    return np.clip(rgb, 0, 255).astype(np.uint8)


def encode_image(rgb: np.ndarray, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image = Image.fromarray(rgb)
    if fmt == "GIF":
        image = image.convert("P")
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


@pytest.fixture
def image_bytes():
    """image_bytes(fmt="PNG", width=96, height=64, colour=False) -> encoded bytes of a test photo."""

    def make(fmt: str = "PNG", width: int = 96, height: int = 64, colour: bool = False, **options) -> bytes:
        return encode_image(make_photo(width, height, colour=colour), fmt, **options)

    return make


def upload_file(name: str, data: bytes, content_type: str = "application/octet-stream"):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile(name, data, content_type=content_type)


# -- a stand-in colorizer -----------------------------------------------------------------------------


class FakeColorizer:
    """Keeps the input's L and paints a fixed warm ab everywhere: the real thing's contract, no Keras."""

    family = "fake"
    AB = (18.0, 30.0)
    saturation = 0.9  # "the model's calibrated saturation": the colour strength multiplies it

    def __init__(self):
        self.calls = []
        self.saturations = []  # the saturation each call asked for (None: the model's own)

    def colorize_array(self, pixels, *, working_size=None, temperature=None, saturation=None):
        self.calls.append((pixels.shape, working_size))
        self.saturations.append(saturation)
        l = color.fast_rgb_to_l(np.asarray(pixels, np.uint8))
        scale = self.saturation if saturation is None else saturation
        ab = np.broadcast_to(np.asarray(self.AB, np.float32) * np.float32(scale), l.shape + (2,))
        return color.fast_merge_l_ab(l, ab)


@pytest.fixture
def fake_colorizer(monkeypatch):
    from gallery import tasks

    fake = FakeColorizer()
    monkeypatch.setattr(tasks, "get_colorizer", lambda model_dir: fake)
    return fake


# -- which queue this process sends to -------------------------------------------------------------------


def delete_queue_keys(redis_url: str, queue: str) -> None:
    """Delete every Redis key naming ``queue``: its messages, bindings, unacked duplicates and sent marks."""
    import redis

    broker = redis.Redis.from_url(redis_url)
    leftovers = broker.keys(f"*{queue}*")
    if leftovers:
        broker.delete(*leftovers)


@pytest.fixture(scope="session")
def unread_queue():
    """A queue of this run's own that no worker reads; emptied when the session ends."""
    from django.conf import settings

    name = f"{settings.CELERY_TASK_DEFAULT_QUEUE}-unread"
    yield name
    import redis

    try:
        delete_queue_keys(settings.REDIS_URL, name)
    except redis.RedisError:
        pass  # Redis is gone (a test stopped its own): the queue's name is this run's only, nothing reuses it


@pytest.fixture(autouse=True)
def messages_stay_in_process(request, settings, unread_queue):
    """Send this test's colouring and training messages where no worker takes them, unless it uses real workers.

    The real workers (``real_workers``, ``training_worker``) live for the whole session once a test
    starts them, and they share the test database.  A test that colours in this process (``fake_colorizer``)
    or watches a photo stay queued would race them for its own photos: a worker could claim a photo
    first and colour it with the real model from a media folder where it is not.  gallery.enqueue
    names the queue from the settings when it sends, so changing the settings here is enough.
    """
    if "real_workers" in request.fixturenames:
        return
    settings.CELERY_TASK_DEFAULT_QUEUE = unread_queue
    settings.COLORSITE_TRAINING_QUEUE = f"{unread_queue}-training"


# -- real workers ---------------------------------------------------------------------------------------


def database_url() -> str:
    """A DATABASE_URL naming the test database this process uses, for worker processes to share."""
    from django.db import connection

    s = connection.settings_dict
    if s["ENGINE"] == "django.db.backends.sqlite3":
        return f"sqlite:///{s['NAME']}"
    auth = s["USER"] + (f":{s['PASSWORD']}" if s["PASSWORD"] else "")
    return f"postgres://{auth}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


class Workers:
    """Celery worker processes started for a test session; each logs to its own file."""

    def __init__(self, env: dict, log_dir: Path):
        self.env, self.log_dir, self.processes = env, log_dir, {}
        self.queue = env["COLORSITE_QUEUE"]  # unique to this test run (tests/site_settings.py)
        self.started_at = {}  # name -> where its log stood when it was last started

    def start(self, name: str, queues: str | None = None, extra: tuple[str, ...] = (), env: dict | None = None) -> None:
        """Start worker ``name``; by default it reads this run's queue and a queue of its own.

        Starting a name again (after a crash) keeps the same node name and appends to the same log.
        ``env`` is added to the shared environment for this worker only (a host of its own: its
        own MEDIA_ROOT and model cache, tests/test_storage_s3_real.py).
        """
        path = self.log_dir / f"{name}.log"
        self.started_at[name] = path.stat().st_size if path.exists() else 0
        log = open(path, "ab")
        self.processes[name] = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "colorsite",
                "worker",
                "--loglevel=INFO",
                "--pool=prefork",
                "--concurrency=1",
                f"--hostname={name}@%h",
                "--without-gossip",
                "--without-mingle",
                "--without-heartbeat",
                f"--queues={queues or f'{self.queue},{self.queue}-{name}'}",
                *extra,
            ],
            cwd=BASE_DIR,
            env=dict(self.env, **(env or {})),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    def log(self, name: str, since_start: bool = False) -> str:
        """The worker's log, every run of it (or only since it was last started)."""
        with open(self.log_dir / f"{name}.log", "rb") as file:
            file.seek(self.started_at.get(name, 0) if since_start else 0)
            return file.read().decode(errors="replace")

    def wait_ready(self, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        for name, process in self.processes.items():
            while "ready." not in self.log(name, since_start=True):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker {name} did not start:\n{self.log(name)[-3000:]}")
                time.sleep(0.2)

    def warm_up(self, timeout: float = 300) -> None:
        """Have every worker load the model now (each also reads a queue of its own).

        Sent through the workers' own broker, which need not be the one this process's Celery app uses.
        """
        from colorsite.celery import app
        from gallery.tasks import warm_up

        with app.connection_for_write(self.env["REDIS_URL"]) as connection:
            for name in self.processes:
                warm_up.apply_async(queue=f"{self.queue}-{name}", connection=connection)
        deadline = time.monotonic() + timeout
        for name, process in self.processes.items():
            while not re.search(r"gallery\.tasks\.warm_up\[[^\]]+\] succeeded", self.log(name, since_start=True)):
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"worker {name} did not load the model:\n{self.log(name)[-3000:]}")
                time.sleep(0.2)

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes.values():
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


def shipped_model_dir() -> Path:
    from django.conf import settings

    model_dir = Path(settings.COLORSITE_MODEL_DIR)
    if not (model_dir / "model.json").exists() or not (model_dir / "model.keras").exists():
        pytest.fail(
            f"the shipped model is missing: {model_dir} needs model.json and model.keras "
            "(COLORSITE_MODEL_DIR chooses another folder)"
        )
    return model_dir


@pytest.fixture(scope="session")
def real_workers(django_db_setup, django_db_blocker, tmp_path_factory):
    """Two real worker processes, sharing the test database, a media folder and this run's queue.

    They read the same queue, so tests see whichever takes a task; the scale-out test relies on
    there being two.  The queue is new to this run (tests/site_settings.py), so no earlier run's
    task is waiting in it.
    """
    from django.conf import settings

    from colorsite.launch import ensure_redis, stop

    model_dir = shipped_model_dir()
    redis_server = ensure_redis(settings.REDIS_URL, tmp_path_factory.mktemp("redis"))  # None: one answers
    media = tmp_path_factory.mktemp("real-media")
    with django_db_blocker.unblock():
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="tests.site_settings",
            DATABASE_URL=database_url(),
            MEDIA_ROOT=str(media),
            COLORSITE_MODEL_DIR=str(model_dir),
            REDIS_URL=settings.REDIS_URL,
            COLORSITE_QUEUE=settings.CELERY_TASK_DEFAULT_QUEUE,
            PYTHONUNBUFFERED="1",
            TF_CPP_MIN_LOG_LEVEL="2",
        )
    workers = Workers(env, tmp_path_factory.mktemp("worker-logs"))
    workers.media = media
    try:
        workers.start("w1")
        workers.start("w2")
        workers.wait_ready()
        workers.warm_up()
        yield workers
    finally:
        workers.stop()
        delete_queue_keys(settings.REDIS_URL, workers.queue)
        if redis_server:
            stop([redis_server])


@pytest.fixture
def real_media(real_workers, settings) -> Path:
    """This test process writes where the real workers read."""
    settings.MEDIA_ROOT = real_workers.media
    return real_workers.media


def wait_for(predicate, timeout: float, interval: float = 0.25, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f} s waiting for {message}")
