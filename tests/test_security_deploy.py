"""Production settings: `manage.py check --deploy` is clean, and secrets come only from the environment."""

import os
import re
import secrets
import subprocess
import sys

from colorsite.settings import BASE_DIR

# What docs/deploy.md tells an operator to set, and nothing from the developer's or the tests' environment.
PRODUCTION = {
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "colour.example.org",
    "CSRF_TRUSTED_ORIGINS": "https://colour.example.org",
    "BEHIND_TLS_PROXY": "1",
    "DATABASE_URL": "postgres://colorsite:not-used@db.invalid:5432/colorsite",
    "REDIS_URL": "redis://redis.invalid:6379/0",
    "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
}


def manage(*args, env):
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True, text=True, timeout=120
    )


def test_check_deploy_is_clean_with_production_settings():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues" in result.stdout


def test_production_settings_are_https_only():
    code = (
        "from django.conf import settings as s; print(s.DEBUG, s.SECURE_SSL_REDIRECT, s.SECURE_HSTS_SECONDS, "
        "s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SESSION_COOKIE_HTTPONLY, s.X_FRAME_OPTIONS)"
    )
    result = manage("shell", "--verbosity", "0", "-c", code, env=PRODUCTION)
    assert result.stdout.split() == ["False", "True", "31536000", "True", "True", "True", "DENY"], result.stderr


def test_check_deploy_catches_a_weak_secret_key():
    """The check is a real gate: the same settings with a short key fail it."""
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=dict(PRODUCTION, SECRET_KEY="short"))
    assert result.returncode != 0
    assert "security.W009" in result.stdout + result.stderr


def test_no_secret_is_in_the_repository():
    """SECRET_KEY and credentials come from the environment: no tracked file holds one."""
    tracked = subprocess.run(["git", "ls-files"], cwd=BASE_DIR, capture_output=True, text=True).stdout.split()
    suspicious = re.compile(
        r"-----BEGIN [A-Z ]*PRIVATE KEY-----|AKIA[0-9A-Z]{16}|"
        r"""SECRET_KEY\s*=\s*["'][^"']{20,}["']|postgres://\w+:(?!PASSWORD|not-used)[^@\s]+@"""
    )
    found = []
    for name in tracked:
        path = BASE_DIR / name
        if (
            path.suffix in {".py", ".md", ".txt", ".cfg", ".ini", ".toml", ".yml", ".yaml", ".json", ".env", ""}
            and path.is_file()
            and path.stat().st_size < 1_000_000
        ):
            found += [f"{name}: {m.group(0)[:40]}" for m in suspicious.finditer(path.read_text(errors="replace"))]
    assert not found, found
