"""Media storage that never shows a half-written file under its final name."""

from __future__ import annotations

import errno
import logging
import os
import secrets

from django.core.files.storage import FileSystemStorage, default_storage
from django.utils._os import safe_makedirs

log = logging.getLogger(__name__)

TEMP_PREFIX = ".partial-"


class AtomicFileSystemStorage(FileSystemStorage):
    """FileSystemStorage that writes each file under a temporary name, then links it into place.

    Django's own FileSystemStorage writes straight to the final name, so a full disk, an I/O
    error or a worker killed mid-write leaves a truncated file there.  Here the bytes go to
    ``.partial-<random>`` in the same folder, are flushed to disk, and only then get their
    final name with os.link, which is atomic and, unlike a rename, never replaces an existing
    file.  A name is either absent or complete.  A failed write removes its temporary file; one
    left by a killed process is removed by Photo.remove_stray_files.  (Object stores such as S3
    need none of this: a PUT is complete or absent by itself.)
    """

    def _save(self, name, content):
        full_path = self.path(name)
        directory = os.path.dirname(full_path)
        if self.directory_permissions_mode is not None:
            safe_makedirs(directory, self.directory_permissions_mode, exist_ok=True)
        else:
            os.makedirs(directory, exist_ok=True)
        temp_path = os.path.join(directory, TEMP_PREFIX + secrets.token_hex(8))
        fd = os.open(temp_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0), 0o666)
        try:
            with os.fdopen(fd, "wb") as file:
                for chunk in content.chunks():
                    file.write(chunk.encode() if isinstance(chunk, str) else chunk)
                file.flush()
                os.fsync(file.fileno())
            if self.file_permissions_mode is not None:
                os.chmod(temp_path, self.file_permissions_mode)
            while True:
                try:
                    _link(temp_path, full_path)
                    break
                except FileExistsError:
                    name = self.get_available_name(name)
                    full_path = self.path(name)
        finally:
            try:
                os.unlink(temp_path)
            except FileNotFoundError:
                pass
        self._ensure_location_group_id(full_path)  # type: ignore[attr-defined]  # Django 5.2's, not in the stubs
        return os.path.relpath(full_path, self.location).replace("\\", "/")


def _link(source: str, target: str) -> None:
    """Give ``source`` the name ``target`` too, raising FileExistsError if that name is taken."""
    try:
        os.link(source, target)
    except OSError as exc:
        if exc.errno not in (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP, errno.EMLINK):
            raise
        # A file system without hard links (some network and FUSE ones): rename instead, which is
        # just as atomic, checking first that the name is free (a narrow race, names are random).
        if os.path.lexists(target):
            raise FileExistsError(errno.EEXIST, "file exists", target) from None
        os.rename(source, target)


def delete_files(names) -> None:
    """Delete stored files by name, logging (not raising) what the storage refuses; empty names are skipped."""
    for name in names:
        if name:
            try:
                default_storage.delete(name)
            except OSError:
                log.warning("could not delete %s", name, exc_info=True)


def delete_folder(folder: str) -> None:
    """Delete every file in a storage folder, then the folder itself where the storage has folders.

    For what no row names any more: a photo's stray files (a run killed before it recorded them)
    would otherwise outlive the photo.  A folder that is not there is no error.
    """
    try:
        _, files = default_storage.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return
    delete_files(f"{folder}/{name}" for name in files)
    delete_files([folder])  # FileSystemStorage removes the emptied directory; object stores have none
