"""Whether the active colouring model can colour; what the staff see on every page when it cannot.

The colouring task reports each change it sees into Redis (for a day): the model of a version
failed to load (ModelNotAvailable, with why), or it loaded again.  Every staff page reads that
one key (no database query) and, while the last report is a failure, shows what is wrong now:
the files themselves are checked (the folder, a readable model.json, a model.keras that is a
complete archive: Keras saves a zip, whose checksums are read once per change of the file).
A failure older than the model's files, with files that look whole again, is not shown: the
file was restored.  Activating another version clears the alert at its first photo.

The people whose photos failed are told only that colouring is not possible right now
(gallery.failures.MODEL_UNAVAILABLE): the staff get the details, the public no server paths.

``site_health`` is what a load balancer and an operator ask (GET /healthz, `manage.py health`):
the database, the broker, the media storage and the active model, each as a boolean and a
word, never an exception's text, a path or a key.
"""

from __future__ import annotations

import json
import logging
import os
import time
import zipfile
from pathlib import Path

from django.conf import settings
from django.core.files.storage import default_storage
from django.db import connection

from . import broker

log = logging.getLogger(__name__)

REPORT_SECONDS = 24 * 3600
_checked: dict[tuple, str | None] = {}  # (path, mtime, size) -> what is wrong with model.keras
_reported_ok: set[str] = set()  # model folders this process has reported loading


def _key() -> str:
    return broker.key("model-status", "latest")


def report_model_problem(model_dir, label: str, error: str) -> None:
    """A worker could not load the model in ``model_dir``: keep why, for the staff pages."""
    folder = str(Path(model_dir).resolve())
    _reported_ok.discard(folder)
    _write({"ok": False, "directory": folder, "label": label, "error": error[:1000], "when": time.time()})


def report_model_loaded(model_dir, label: str) -> None:
    """The model in ``model_dir`` colours: clear an alert (one write per process and folder, not per photo)."""
    folder = str(Path(model_dir).resolve())
    if folder not in _reported_ok:
        _reported_ok.add(folder)
        _write({"ok": True, "directory": folder, "label": label, "when": time.time()})


def _write(status: dict) -> None:
    try:
        broker.client().set(_key(), json.dumps(status), ex=REPORT_SECONDS)
    except broker.ERRORS:
        pass


def model_problem() -> str | None:
    """Why the active model cannot colour, in words for the staff; None when nothing is known to be wrong."""
    try:
        raw = broker.client().get(_key())
    except broker.ERRORS:
        return None
    status = json.loads(raw) if raw else None
    if not status or status["ok"]:
        return None
    folder = Path(status["directory"])
    if settings.COLORSITE_MODELS_IN_STORAGE and not folder.exists():
        # The folder is a worker's cache on another host: its report is all there is to show.
        return (
            f"The active colouring model ({status['label']}) cannot be used: a worker could not load it "
            f"({status['error']}). Photos fail until it is restored or another version is activated."
        )
    problem = files_problem(folder)
    if problem is None and status["when"] < _newest_change(folder):
        return None  # the files changed since the failure and look whole: restored
    return (
        f"The active colouring model ({status['label']}, {folder}) cannot be used: "
        f"{problem or 'a worker could not load it'} ({status['error']}). Photos fail until its files are "
        "restored or another version is activated; their owners can then re-colour them."
    )


def files_problem(folder: Path) -> str | None:
    if not folder.is_dir():
        return "its folder is missing"
    try:
        json.loads((folder / "model.json").read_text())
    except FileNotFoundError:
        return "model.json is missing"
    except (OSError, ValueError):
        return "model.json is unreadable"
    weights = folder / "model.keras"
    try:
        stat = weights.stat()
    except FileNotFoundError:
        return "model.keras is missing"
    key = (str(weights), stat.st_mtime_ns, stat.st_size)
    if key not in _checked:
        _checked.clear()  # one model is active at a time: keep only its latest check
        _checked[key] = _archive_problem(weights)
    return _checked[key]


def _archive_problem(path: Path) -> str | None:
    try:
        with zipfile.ZipFile(path) as archive:
            broken = archive.testzip()
    except (zipfile.BadZipFile, OSError):
        return "model.keras is damaged (it is not a complete Keras file)"
    return f"model.keras is damaged ({broken} fails its checksum)" if broken else None


def _newest_change(folder: Path) -> float:
    times = [p.stat().st_mtime for p in (folder, folder / "model.json", folder / "model.keras") if p.exists()]
    return max(times, default=0.0)


# -- /healthz and `manage.py health` ----------------------------------------------------------------------


def site_health() -> dict:
    """{"ok": all fine, "checks": {name: {"ok": bool, "status": word}}} for the database, broker, storage, model.

    Each check is short (a query, a PING, a HEAD or a stat) and catches its own failure, so one
    service that is down never hides the others' state.  The words are fixed: ok, unreachable,
    not writable, missing, damaged, failing, unknown.
    """
    checks = {
        "database": _check(_database),
        "broker": _check(_broker),
        "storage": _check(_storage),
        "model": _check(_model),
    }
    return {"ok": all(check["ok"] for check in checks.values()), "checks": checks}


def _check(probe) -> dict:
    try:
        status = probe()
    except Exception:
        log.warning("health check %s failed", probe.__name__.strip("_"), exc_info=True)
        status = "unreachable"
    return {"ok": status == "ok", "status": status}


def _database() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return "ok"


def _broker() -> str:
    return "ok" if broker.client().ping() else "unreachable"


def _storage() -> str:
    check = getattr(default_storage, "check", None)
    if check is not None:  # object storage (gallery.storage.S3MediaStorage): HEAD the bucket
        check()
        return "ok"
    root = Path(settings.MEDIA_ROOT)
    root.mkdir(parents=True, exist_ok=True)
    return "ok" if os.access(root, os.W_OK | os.X_OK) else "not writable"


def _model() -> str:
    """Whether the active version's files are there and whole, and no worker has reported it failing.

    With object storage, "there" is its artefact in the bucket (a HEAD); the workers check the
    hash when they fetch it and report a damaged one, which shows here as failing.
    """
    from . import model_store
    from .models import ModelVersion

    version = ModelVersion.active()
    if version is not None and version.artefact_sha256:
        try:
            present = model_store.artefact_present(version.artefact_sha256)
        except OSError:
            return "unknown"  # the storage check says why
        if not present:
            return "missing"
    else:
        problem = files_problem(version.path if version else Path(settings.COLORSITE_MODEL_DIR))
        if problem is not None:
            return "missing" if "missing" in problem else "damaged"
    return "failing" if model_problem() else "ok"
