"""`manage.py` from a fresh clone (issue 11): createsuperuser works exactly as the README says.

The commands run in subprocesses with a clean environment (no SECRET_KEY, no DEBUG: what a person
has after cloning), except DATABASE_URL, which points at a throw-away SQLite file so the test never
writes to a developer's var/db.sqlite3.  The interactive prompts run on a real pseudo-terminal,
as when a person types the answers.
"""

import os
import pty
import re
import select
import sqlite3
import subprocess
import sys
import time

import pytest

from tests.site_fixtures import BASE_DIR

COMMAND = ".venv/bin/python manage.py createsuperuser"


@pytest.fixture
def fresh_env(tmp_path) -> dict:
    return {"PATH": "/usr/bin:/bin", "HOME": str(tmp_path), "DATABASE_URL": f"sqlite:///{tmp_path}/db.sqlite3"}


def manage(*args: str, env: dict) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=300
    )


def converse(args: list[str], env: dict, script: list[tuple[str, str]], timeout: float = 120) -> tuple[int, str]:
    """Run ``args`` on a new pseudo-terminal, answering each prompt (a regex) with its reply in turn;
    return the exit status and everything the terminal showed."""
    pid, fd = pty.fork()
    if pid == 0:  # the child: becomes the command, with the terminal as its controlling tty
        os.chdir(BASE_DIR)
        os.execve(args[0], args, env)
    shown, deadline, steps = "", time.monotonic() + timeout, list(script)
    try:
        while True:
            if time.monotonic() > deadline:
                os.kill(pid, 9)
                break
            if steps and re.search(steps[0][0], shown):  # the prompt waits at the end of the output
                os.write(fd, (steps.pop(0)[1] + "\n").encode())
            if select.select([fd], [], [], 0.5)[0]:
                try:
                    chunk = os.read(fd, 4096)
                except OSError:  # the command ended and its terminal closed
                    break
                if not chunk:
                    break
                shown += chunk.decode(errors="replace")
    finally:
        os.close(fd)
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), shown


def test_the_readme_gives_the_exact_command():
    assert f"`{COMMAND}`" in (BASE_DIR / "README.md").read_text()


def test_createsuperuser_works_from_a_fresh_clone(fresh_env, tmp_path):
    migrated = manage("migrate", "--verbosity", "0", env=fresh_env)
    assert migrated.returncode == 0, migrated.stderr
    python = str(BASE_DIR / ".venv" / "bin" / "python")
    code, shown = converse(
        [python, "manage.py", "createsuperuser"],
        fresh_env,
        [
            (r"Username.*: $", "boss"),
            (r"Email address: $", "boss@example.org"),
            (r"Password: $", "a long and unusual passphrase"),
            (r"Password \(again\): $", "a long and unusual passphrase"),
        ],
    )
    assert code == 0, shown
    assert "Superuser created successfully." in shown
    with sqlite3.connect(tmp_path / "db.sqlite3") as db:
        rows = db.execute("SELECT username, email, is_superuser, is_staff FROM auth_user").fetchall()
    assert rows == [("boss", "boss@example.org", 1, 1)]


def test_without_a_secret_key_manage_py_uses_development_settings(fresh_env):
    result = manage(
        "shell", "--verbosity", "0", "-c", "from django.conf import settings; print(settings.DEBUG)", env=fresh_env
    )
    assert result.stdout.strip() == "True", result.stderr


def test_with_a_secret_key_manage_py_assumes_nothing(fresh_env):
    env = dict(fresh_env, SECRET_KEY="x" * 50)
    result = manage(
        "shell", "--verbosity", "0", "-c", "from django.conf import settings; print(settings.DEBUG)", env=env
    )
    assert result.stdout.strip() == "False", result.stderr


def test_debug_off_without_a_secret_key_still_refuses(fresh_env):
    result = manage("check", env=dict(fresh_env, DEBUG="0"))
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr
