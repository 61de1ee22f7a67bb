"""A whole site in real processes, for the fault tests (tests/test_reliability_faults.py) and bench/load.py.

LiveSite runs a redis-server of its own on a free port (so a test may stop and restart it
without touching anybody else's Redis), gunicorn serving colorsite.wsgi, and Celery workers
(tests.site_fixtures.Workers), all sharing the environment it is given: one database, one media
folder, one queue.  Clients talk to it over HTTP on 127.0.0.1 only, like a browser or a script.
"""

from __future__ import annotations

import http.client
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import urlencode

import psutil

from colorsite.launch import ensure_redis, redis_answers, stop
from tests.site_fixtures import BASE_DIR, Workers


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class LiveSite:
    def __init__(self, env: dict, log_dir: Path):
        self.log_dir = log_dir
        self.redis_url = f"redis://127.0.0.1:{free_port()}/0"
        # tests.site_settings reads COLORSITE_TEST_REDIS_URL, colorsite.settings reads REDIS_URL: set both.
        self.env = dict(env, REDIS_URL=self.redis_url, COLORSITE_TEST_REDIS_URL=self.redis_url)
        self.workers = Workers(self.env, log_dir)
        self.redis = self.web = None
        self.port = free_port()
        self.starts = 0

    # -- processes -------------------------------------------------------------------------------------------

    def start_redis(self) -> None:
        """A fresh, empty redis-server (no persistence): what a Redis restart without its data looks like."""
        self.redis = ensure_redis(self.redis_url, self.log_dir / "redis")
        assert self.redis is not None, f"something else answers at {self.redis_url}"

    def stop_redis(self) -> None:
        stop([self.redis])
        self.redis = None
        assert not redis_answers(self.redis_url)

    def start_worker(
        self, name: str, *, beat: bool = False, queues: str | None = None, env: dict | None = None
    ) -> None:
        """A worker on the site's queue; with ``beat`` it also runs the periodic sweep (as `make run`'s does).

        ``env`` makes it a host of its own (tests/test_storage_s3_real.py: its own media folder and model cache).
        """
        self.starts += 1
        extra = ("--beat", f"--schedule={self.log_dir / f'beat-{self.starts}'}") if beat else ()
        self.workers.start(name, queues=queues, extra=extra, env=env)

    def start_web(self, workers: int = 2, threads: int = 4, timeout: float = 60, env: dict | None = None) -> None:
        log = open(self.log_dir / "web.log", "ab")
        self.web = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "gunicorn",
                "colorsite.wsgi",
                f"--bind=127.0.0.1:{self.port}",
                f"--workers={workers}",
                f"--threads={threads}",
                "--timeout=120",
                "--graceful-timeout=5",
            ],
            cwd=BASE_DIR,
            env=dict(self.env, **(env or {})),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        deadline = time.monotonic() + timeout
        while True:
            try:
                if self.request("GET", "/accounts/login/")[0] == 200:
                    return
            except OSError:
                pass
            if self.web.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"the web server did not start:\n{(self.log_dir / 'web.log').read_text()[-3000:]}")
            time.sleep(0.2)

    def worker_pool_pids(self, name: str) -> list[int]:
        """The pool processes (the ones that colour) of worker ``name``."""
        return [child.pid for child in psutil.Process(self.workers.processes[name].pid).children()]

    def kill_worker(self, name: str) -> None:
        """SIGKILL the whole worker, its main process and its pool, as the kernel's OOM killer or a power cut would."""
        process = self.workers.processes[name]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=30)

    def stop(self) -> None:
        self.workers.stop()
        if self.web is not None and self.web.poll() is None:
            os.killpg(self.web.pid, signal.SIGTERM)
            try:
                self.web.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.web.pid, signal.SIGKILL)
                self.web.wait()
        if self.redis is not None:
            stop([self.redis])

    # -- HTTP, as a script would use the site ---------------------------------------------------------------------

    def request(
        self,
        method: str,
        path: str,
        *,
        token: str | None = None,
        body: bytes | None = None,
        content_type: str | None = None,
        cookies: dict | None = None,
        timeout: float = 60,
    ) -> tuple[int, dict | bytes, float]:
        """(status, JSON body or bytes, seconds) of one request on a connection of its own.

        ``cookies`` (a dict) is sent, and updated from the answer, as a browser keeps its cookies.
        """
        headers = {"Host": "127.0.0.1"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if content_type:
            headers["Content-Type"] = content_type
        if cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in cookies.items())
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        started = time.perf_counter()
        try:
            connection.request(method, path, body=body, headers=headers)
            response = connection.getresponse()
            data = response.read()
            elapsed = time.perf_counter() - started
        finally:
            connection.close()
        if cookies is not None:
            for header in response.headers.get_all("Set-Cookie") or []:
                name, _, value = header.split(";", 1)[0].partition("=")
                cookies[name.strip()] = value.strip()
        if response.getheader("Content-Type", "").startswith("application/json"):
            return response.status, json.loads(data), elapsed
        return response.status, data, elapsed

    def log_in(self, username: str, password: str) -> dict:
        """A browser's cookies after logging in through the login form (CSRF token included)."""
        cookies = {}
        self.request("GET", "/accounts/login/", cookies=cookies)
        status, _, _ = self.post_form("/accounts/login/", {"username": username, "password": password}, cookies)
        assert status == 302, f"logging in as {username} failed ({status})"
        assert "sessionid" in cookies, f"logging in as {username} failed ({status})"
        return cookies

    def post_form(self, path: str, fields: dict, cookies: dict) -> tuple[int, dict | bytes, float]:
        """POST a form as a browser does, with the CSRF token its cookie holds."""
        body = urlencode(dict(fields, csrfmiddlewaretoken=cookies["csrftoken"])).encode()
        return self.request("POST", path, body=body, content_type="application/x-www-form-urlencoded", cookies=cookies)

    def upload(self, token: str, name: str, data: bytes) -> tuple[int, dict, float]:
        """POST one file to /api/photos/ as multipart form data."""
        body, content_type = multipart({"file": (name, data)})
        return self.request("POST", "/api/photos/", token=token, body=body, content_type=content_type)


def multipart(files: dict[str, tuple[str, bytes]] | list[tuple[str, tuple[str, bytes]]]) -> tuple[bytes, str]:
    """A multipart body and its content type; a list of (field, (name, data)) may repeat a field (several files)."""
    boundary = uuid.uuid4().hex
    parts = []
    for field, (name, data) in files.items() if isinstance(files, dict) else files:
        parts.append(
            f'--{boundary}\r\nContent-Disposition: form-data; name="{field}"; filename="{name}"\r\n'
            f"Content-Type: application/octet-stream\r\n\r\n".encode()
            + data
            + b"\r\n"
        )
    return b"".join(parts) + f"--{boundary}--\r\n".encode(), f"multipart/form-data; boundary={boundary}"
