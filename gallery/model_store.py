"""Model versions as artefacts in the media storage, and each host's local cache of them.

With object storage (COLORSITE_S3_BUCKET) no two hosts share a disk, so a model folder written by
the training worker cannot be read by a colouring worker elsewhere.  A version is therefore
*published*: its folder (model.keras, model.json, the training log and both evaluation reports)
is packed into one tar, named by the SHA-256 of its bytes (``models/<sha256>.tar``) and written
to the media storage; the row records the hash (ModelVersion.artefact_sha256).  A host that
meets a version it does not have (a colouring worker at its next photo after an activation, the
training worker fine-tuning it, the web page reading its model.json) downloads the artefact once
into COLORSITE_MODEL_CACHE/<sha256>/, checks that its bytes hash to the name, unpacks it, and
only then gives the folder its final name: a cache folder is complete or absent, and a damaged
download is never loaded.  Content-addressed names never change meaning, so nothing in a cache
is ever stale, and the same model published twice is stored once.

Without object storage (the default) nothing is published (COLORSITE_MODELS_IN_STORAGE is off)
and a version is read from its own folder, as before.
"""

from __future__ import annotations

import fcntl
import hashlib
import logging
import os
import shutil
import tarfile
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import IO

from django.conf import settings
from django.core.files import File
from django.core.files.storage import default_storage

from ml.inference import ModelNotAvailable

from .storage import delete_files

log = logging.getLogger(__name__)

FOLDER = "models"  # in the media storage, beside photos/ and leaderboards/
PACKED_SUFFIXES = (".json", ".md")  # with model.keras: what a version needs and shows; never checkpoints


class ArtefactDamaged(ModelNotAvailable):
    """The downloaded artefact's bytes do not hash to its name, or it is not a model folder."""


def artefact_name(sha256: str) -> str:
    return f"{FOLDER}/{sha256}.tar"


def packed_files(folder: Path) -> list[Path]:
    """The files of a model folder that go into its artefact, in a fixed order."""
    return sorted(
        p for p in folder.iterdir() if p.is_file() and (p.name == "model.keras" or p.suffix in PACKED_SUFFIXES)
    )


def pack(folder: Path, out: IO[bytes]) -> str:
    """Write a model folder as a tar to ``out`` and return its SHA-256.

    The archive is reproducible (sorted names, no owners, times or modes from the disk), so the
    same model gives the same hash and is stored once.
    """
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for path in packed_files(folder):
            info = tarfile.TarInfo(path.name)
            info.size, info.mode, info.mtime = path.stat().st_size, 0o644, 0
            with path.open("rb") as file:
                tar.addfile(info, file)
    out.seek(0)
    digest = hashlib.sha256()
    for chunk in iter(lambda: out.read(1 << 20), b""):
        digest.update(chunk)
    out.seek(0)
    return digest.hexdigest()


def publish(version) -> str | None:
    """Upload a version's folder as its artefact and set ``version.artefact_sha256`` (not saved here).

    Returns the hash, or None where model versions are not kept in the storage.  Run by the
    training worker when a run ends ready, and by ModelVersion.register_folder (``migrate``
    registering the shipped model, `python -m ml train` folders).  Raises OSError when the
    storage fails.
    """
    if not settings.COLORSITE_MODELS_IN_STORAGE:
        return None
    with tempfile.TemporaryFile() as tmp:
        sha256 = pack(version.path, tmp)
        name = artefact_name(sha256)
        if not default_storage.exists(name):
            saved = default_storage.save(name, File(tmp, name=name))
            if saved != name:  # another host published the same bytes meanwhile: theirs is as good
                delete_files([saved])
    version.artefact_sha256 = sha256
    log.info("model version %s published as %s", version.label, name)
    return sha256


def local_folder(version) -> Path:
    """The folder to load ``version`` from on this host: its cached artefact, else its own folder."""
    sha256 = getattr(version, "artefact_sha256", "")
    return cached(sha256) if sha256 else version.path


def cached(sha256: str) -> Path:
    """COLORSITE_MODEL_CACHE/<sha256>, downloaded and checked first if this host does not have it yet.

    Raises ModelNotAvailable when the artefact is missing from the storage or damaged, OSError when
    the storage cannot be reached (a transient fault: the colouring task retries).  Processes of
    one host download an artefact once between them (a lock file per artefact).
    """
    root = Path(settings.COLORSITE_MODEL_CACHE)
    target = root / sha256
    if target.is_dir():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with _locked(root / f".{sha256}.lock"):
        if target.is_dir():  # another process of this host fetched it while we waited
            return target
        work = Path(tempfile.mkdtemp(prefix=".partial-", dir=root))
        try:
            archive = work / "artefact.tar"
            digest = _download(artefact_name(sha256), archive)
            if digest != sha256:
                raise ArtefactDamaged(f"the artefact {sha256[:12]}… hashes to {digest[:12]}…: damaged in storage")
            _unpack(archive, work / "model")
            os.rename(work / "model", target)  # complete, checked: now it has its name
        finally:
            shutil.rmtree(work, ignore_errors=True)
    log.info("model artefact %s fetched into the local cache", sha256[:12])
    return target


def _download(name: str, to: Path) -> str:
    digest = hashlib.sha256()
    try:
        remote = default_storage.open(name, "rb")
    except FileNotFoundError:
        raise ModelNotAvailable(f"the model artefact {name} is not in the storage") from None
    with remote, to.open("wb") as out:
        for chunk in remote.chunks():
            digest.update(chunk)
            out.write(chunk)
    return digest.hexdigest()


def _unpack(archive: Path, into: Path) -> None:
    """Unpack only plain files with plain names (an artefact is trusted, but checked all the same)."""
    into.mkdir()
    try:
        with tarfile.open(archive) as tar:
            for member in tar.getmembers():
                if not member.isfile() or "/" in member.name or member.name.startswith("."):
                    raise ArtefactDamaged(f"the model artefact holds an unexpected entry {member.name!r}")
                source = tar.extractfile(member)
                assert source is not None
                with source, (into / member.name).open("wb") as out:
                    shutil.copyfileobj(source, out)
    except tarfile.TarError as exc:
        raise ArtefactDamaged(f"the model artefact is not a readable tar ({exc})") from None
    if not (into / "model.json").is_file() or not (into / "model.keras").is_file():
        raise ArtefactDamaged("the model artefact lacks model.json or model.keras")


@contextmanager
def _locked(path: Path):
    with path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def artefact_present(sha256: str) -> bool:
    """Whether the storage holds this artefact (gallery.health); raises OSError when it cannot say."""
    return default_storage.exists(artefact_name(sha256))
