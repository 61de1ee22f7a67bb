"""Media storage that never shows a half-written file under its final name."""

from __future__ import annotations

import errno
import functools
import logging
import os
import secrets

from django.conf import settings
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
    except OSError:  # an object store out of reach: the files stay, named by no row, and are logged
        log.warning("could not list %s to delete it", folder, exc_info=True)
        return
    delete_files(f"{folder}/{name}" for name in files)
    delete_files([folder])  # FileSystemStorage removes the emptied directory; object stores have none


# -- S3-compatible object storage (COLORSITE_S3_BUCKET) ------------------------------------------------------


def uses_object_storage() -> bool:
    """Whether media (and model versions, gallery.model_store) live in an S3 bucket rather than MEDIA_ROOT."""
    return bool(settings.COLORSITE_S3_BUCKET)


def _as_os_error(method):
    """Raise boto's errors as OSError, so a store that cannot be reached is what the code already knows.

    The callers treat OSError as a storage fault: an upload is refused with a message and nothing
    kept, a colouring run is given back and retried (gallery.tasks), a failed photo waits for the
    sweep's automatic retry.  A 404 stays FileNotFoundError (django-storages raises that itself).
    boto's own errors (EndpointConnectionError, ReadTimeoutError, a 5xx ClientError) are not
    OSErrors, so without this a storage outage would be an "unexpected" failure that is never retried.
    """

    @functools.wraps(method)
    def wrapper(self, *args, **kwargs):
        from botocore.exceptions import BotoCoreError, ClientError

        try:
            return method(self, *args, **kwargs)
        except ClientError as exc:
            status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
            if status == 404:
                raise FileNotFoundError(errno.ENOENT, "not in the bucket", args[0] if args else "") from exc
            raise OSError(errno.EIO, f"object storage refused {method.__name__} ({status})") from exc
        except BotoCoreError as exc:
            raise OSError(errno.EIO, f"object storage unreachable ({type(exc).__name__})") from exc

    return wrapper


@functools.cache
def _s3_storage_class():
    from storages.backends.s3 import S3Storage

    class S3MediaStorage(S3Storage):
        """django-storages' S3 backend with the bucket private and boto's errors raised as OSError.

        Nothing in the bucket is public: objects are written with the private ACL and never linked
        to; the site streams every file through the view that checks who may see it
        (gallery.photo_io.serve_file).  A PUT is complete or absent by itself, so the
        ``.partial-`` dance of AtomicFileSystemStorage is not needed here.  A file opened for
        reading is fetched at once, so an outage shows here as OSError and never as a half-read
        file that the image decoder would call broken (which is never retried).
        """

        @_as_os_error
        def _open(self, name, mode="rb"):
            file = super()._open(name, mode)
            if "r" in mode:
                file.file  # noqa: B018 (downloads the object now, inside the translation of errors)
            return file

        _save = _as_os_error(S3Storage._save)
        delete = _as_os_error(S3Storage.delete)
        exists = _as_os_error(S3Storage.exists)
        listdir = _as_os_error(S3Storage.listdir)
        size = _as_os_error(S3Storage.size)

        @_as_os_error
        def check(self) -> None:
            """Raise OSError unless the bucket answers (HEAD bucket): gallery.health's storage check."""
            self.connection.meta.client.head_bucket(Bucket=self.bucket_name)

    return S3MediaStorage


def __getattr__(name: str):
    # Imported on first use only: a filesystem-only site needs no boto3 at all.
    if name == "S3MediaStorage":
        return _s3_storage_class()
    raise AttributeError(name)
