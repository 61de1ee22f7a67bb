"""The settings helpers turn bad environment values into ImproperlyConfigured at start-up."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from colorsite.settings import env_bool, env_int, env_list, env_str


def test_env_bool_reads_common_spellings(monkeypatch):
    for value, expected in [("1", True), ("yes", True), ("On", True), ("0", False), ("false", False), ("", False)]:
        monkeypatch.setenv("X_FLAG", value)
        assert env_bool("X_FLAG", not expected) is expected


def test_env_bool_refuses_anything_else(monkeypatch):
    monkeypatch.setenv("X_FLAG", "maybe")
    with pytest.raises(ImproperlyConfigured, match="X_FLAG='maybe' is not a boolean"):
        env_bool("X_FLAG", False)


def test_env_int_parses_and_checks_the_minimum(monkeypatch):
    monkeypatch.setenv("X_NUMBER", "12")
    assert env_int("X_NUMBER", 1) == 12
    monkeypatch.setenv("X_NUMBER", "twelve")
    with pytest.raises(ImproperlyConfigured, match="not an integer"):
        env_int("X_NUMBER", 1)
    monkeypatch.setenv("X_NUMBER", "0")
    with pytest.raises(ImproperlyConfigured, match="below its minimum 1"):
        env_int("X_NUMBER", 5, minimum=1)


def test_defaults_apply_when_unset(monkeypatch):
    monkeypatch.delenv("X_UNSET", raising=False)
    assert env_int("X_UNSET", 7) == 7
    assert env_bool("X_UNSET", True) is True
    assert env_list("X_UNSET", ["a"]) == ["a"]
    assert env_str("X_UNSET", "d") == "d"


def test_a_required_string_must_be_set(monkeypatch):
    monkeypatch.delenv("X_UNSET", raising=False)
    with pytest.raises(ImproperlyConfigured, match="X_UNSET must be set"):
        env_str("X_UNSET")


def test_settings_follow_the_issue(settings):
    assert settings.COLORSITE_MAX_UPLOAD_BYTES == 25 * 1024 * 1024
    assert settings.COLORSITE_MAX_PIXELS == 50_000_000
    assert settings.CELERY_TASK_ACKS_LATE
    assert settings.CELERY_WORKER_PREFETCH_MULTIPLIER == 1
    assert settings.CELERY_TASK_IGNORE_RESULT
    assert settings.CELERY_TASK_TIME_LIMIT >= 1.2 * settings.CELERY_TASK_SOFT_TIME_LIMIT
    assert settings.CELERY_BROKER_TRANSPORT_OPTIONS["visibility_timeout"] > settings.CELERY_TASK_TIME_LIMIT


def test_model_dir_defaults_to_the_shipped_model(monkeypatch):
    """Without COLORSITE_MODEL_DIR the site uses <BASE_DIR>/models/default."""
    import subprocess
    import sys

    from colorsite.settings import BASE_DIR

    env = {"SECRET_KEY": "x", "PATH": "/usr/bin:/bin"}
    out = subprocess.run(
        [sys.executable, "-c", "from colorsite import settings; print(settings.COLORSITE_MODEL_DIR)"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    assert out == str(BASE_DIR / "models" / "default")


def test_secret_key_is_required_outside_debug():
    import subprocess
    import sys

    from colorsite.settings import BASE_DIR

    result = subprocess.run(
        [sys.executable, "-c", "import colorsite.settings"],
        cwd=BASE_DIR,
        env={"PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_a_bucket_in_the_environment_selects_private_object_storage():
    """COLORSITE_S3_BUCKET switches media (and model versions) to S3; nothing in it is public."""
    import json
    import subprocess
    import sys

    from colorsite.settings import BASE_DIR

    env = {
        "SECRET_KEY": "x",
        "PATH": "/usr/bin:/bin",
        "COLORSITE_S3_BUCKET": "media",
        "AWS_S3_ENDPOINT_URL": "http://s3",
    }
    script = (
        "import json; from colorsite import settings as s; o = s.STORAGES['default']['OPTIONS'];"
        "print(json.dumps([s.STORAGES['default']['BACKEND'], o['bucket_name'], o['default_acl'],"
        " o['querystring_auth'], o['addressing_style'], s.COLORSITE_MODELS_IN_STORAGE]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True, check=True
    ).stdout
    assert json.loads(out) == ["gallery.storage.S3MediaStorage", "media", "private", True, "path", True]
