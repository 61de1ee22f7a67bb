"""A real S3-compatible server for the object-storage tests: moto's standalone server in a process of its own.

Why moto: it installs from PyPI like the rest of the dev requirements (`moto[server]`), runs as a
plain HTTP server on 127.0.0.1 with no container or binary download, and speaks the S3 REST API
that boto3 and django-storages use (object ACLs, HEAD, LIST, multipart) — the site talks to it
exactly as it would to AWS, MinIO or Ceph.  What it lacks is persistence (its objects live in its
memory), so an outage is made with ``S3Server.go_down``: a gate in front of it (a TCP relay in
this process, the address every site process is given) stops accepting and cuts every open
connection — to the site exactly what a stopped server looks like (connection refused) — while
moto keeps the objects for when the gate opens again (``come_back``).

Fixtures (loaded by tests/conftest.py):
* ``s3_server``: the session's server; ``s3_server.env(bucket)`` is the environment a site process needs.
* ``s3_media``: this test process's media storage switched to a new, empty bucket of that server.
"""

from __future__ import annotations

import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.site_fixtures import BASE_DIR

KEY_ID, SECRET, REGION = "test-key-id", "test-secret-key", "us-east-1"


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Gate:
    """A TCP relay 127.0.0.1:port -> the server, which can refuse connections and cut those it carries."""

    def __init__(self, target_port: int):
        self.target_port, self.port = target_port, _free_port()
        self.listener: socket.socket | None = None
        self.connections: set[socket.socket] = set()
        self.lock = threading.Lock()

    def open(self) -> None:
        if self.listener is not None:
            return
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        threading.Thread(target=self._accept, args=(listener,), daemon=True).start()

    def close(self) -> None:
        listener, self.listener = self.listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)  # wakes the thread blocked in accept(); close alone would not
            except OSError:
                pass
            listener.close()
        with self.lock:
            for conn in self.connections:
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
                conn.close()
            self.connections.clear()

    def _accept(self, listener: socket.socket) -> None:
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # closed
            try:
                upstream = socket.create_connection(("127.0.0.1", self.target_port))
            except OSError:
                client.close()
                continue
            with self.lock:
                self.connections |= {client, upstream}
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, source: socket.socket, sink: socket.socket) -> None:
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for conn in (source, sink):
                try:
                    conn.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


class S3Server:
    def __init__(self, log_dir: Path):
        self.server_port = _free_port()
        self.log = open(log_dir / "moto.log", "ab")
        self.process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.server_port)],
            cwd=BASE_DIR,
            stdout=self.log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        self.gate = Gate(self.server_port)
        self.gate.open()
        self.endpoint = f"http://127.0.0.1:{self.gate.port}"
        self.direct_endpoint = f"http://127.0.0.1:{self.server_port}"  # for bench/site.py: no relay to pay for
        self._wait_ready()

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.client().list_buckets()
                return
            except Exception:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"moto did not start: {(Path(self.log.name)).read_text()[-2000:]}") from None
                time.sleep(0.2)

    def client(self):
        import boto3
        from botocore.config import Config

        return boto3.client(
            "s3",
            endpoint_url=self.endpoint,
            aws_access_key_id=KEY_ID,
            aws_secret_access_key=SECRET,
            region_name=REGION,
            config=Config(s3={"addressing_style": "path"}, retries={"max_attempts": 1}),
        )

    def new_bucket(self) -> str:
        name = f"colorsite-{uuid.uuid4().hex[:12]}"
        self.client().create_bucket(Bucket=name)
        return name

    def keys(self, bucket: str, prefix: str = "") -> list[str]:
        pages = self.client().get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        return sorted(item["Key"] for page in pages for item in page.get("Contents", ()))

    def go_down(self) -> None:
        self.gate.close()

    def come_back(self) -> None:
        self.gate.open()

    def env(self, bucket: str) -> dict:
        """The environment that points a site process (web or worker) at ``bucket`` on this server."""
        return {
            "COLORSITE_S3_BUCKET": bucket,
            "AWS_S3_ENDPOINT_URL": self.endpoint,
            "AWS_S3_REGION_NAME": REGION,
            "AWS_ACCESS_KEY_ID": KEY_ID,
            "AWS_SECRET_ACCESS_KEY": SECRET,
            "COLORSITE_S3_TIMEOUT": "2",
        }

    def stop(self) -> None:
        self.gate.close()
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        self.log.close()


def storage_settings(server: S3Server, bucket: str) -> dict:
    """STORAGES["default"] as colorsite.settings builds it from ``server.env(bucket)``, for this process."""
    from botocore.config import Config

    return {
        "BACKEND": "gallery.storage.S3MediaStorage",
        "OPTIONS": {
            "bucket_name": bucket,
            "endpoint_url": server.endpoint,
            "region_name": REGION,
            "access_key": KEY_ID,
            "secret_key": SECRET,
            "addressing_style": "path",
            "signature_version": "s3v4",
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": 300,
            "file_overwrite": False,
            "client_config": Config(connect_timeout=2, read_timeout=6, retries={"max_attempts": 2, "mode": "standard"}),
        },
    }


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory):
    server = S3Server(tmp_path_factory.mktemp("s3-server"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def s3_media(s3_server, settings, tmp_path):
    """This process's media in a new, empty bucket (and an empty model cache); MEDIA_ROOT an empty folder."""
    bucket = s3_server.new_bucket()
    settings.MEDIA_ROOT = tmp_path / "media-unused"
    settings.COLORSITE_S3_BUCKET = bucket
    settings.COLORSITE_MODELS_IN_STORAGE = True
    settings.COLORSITE_MODEL_CACHE = tmp_path / "model-cache"
    settings.STORAGES = dict(settings.STORAGES, default=storage_settings(s3_server, bucket))
    s3_server.bucket = bucket
    yield s3_server
    s3_server.come_back()  # a test that took it down leaves it up for the next
