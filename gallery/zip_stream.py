"""A zip archive written while it is sent: the batch download's body, never whole in memory.

``zipfile.ZipFile`` writes to a file object; here that object is a small write-only buffer
(``_Drain``) that the generator empties after every chunk it copies, so what is held at any time
is one chunk of one file (CHUNK_BYTES) plus a zip header.  The buffer cannot seek, so zipfile
writes each entry's sizes and CRC in a data descriptor after its bytes (the streaming form every
unzip tool reads) and adds ZIP64 records by itself when the archive passes 4 GiB.  Each entry is
one photo file (at most a few hundred MB: COLORSITE_MAX_PIXELS), well under the 2 GiB that an
entry of unknown size may hold without ZIP64 headers of its own.  Photos are JPEG or PNG, already
compressed: entries are stored, not deflated, which also keeps the CPU cost at a copy.
"""

from __future__ import annotations

import io
import logging
import zipfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import PurePosixPath

from django.core.files.storage import default_storage

log = logging.getLogger(__name__)

CHUNK_BYTES = 64 * 1024


@dataclass(frozen=True)
class Entry:
    """One file of the archive: its name there, its name in the storage, its date, and for the log whose it is."""

    arcname: str
    stored_name: str
    modified: datetime
    photo_id: object = None


class _Drain(io.RawIOBase):
    """A write-only, unseekable file whose bytes are taken out by ``drain``."""

    def __init__(self):
        self._chunks: list[bytes] = []

    def writable(self) -> bool:
        return True

    def write(self, data) -> int:
        self._chunks.append(bytes(data))
        return len(data)

    def drain(self) -> bytes:
        data = b"".join(self._chunks)
        self._chunks.clear()
        return data


def unique_names(names: Iterable[str]) -> list[str]:
    """The names with " (2)", " (3)" … before the suffix of each repeat, so no entry hides another."""
    seen: set[str] = set()
    result = []
    for name in names:
        candidate, n = name, 1
        while candidate in seen:
            n += 1
            path = PurePosixPath(name)
            candidate = str(path.with_name(f"{path.stem} ({n}){path.suffix}"))
        seen.add(candidate)
        result.append(candidate)
    return result


def stream(entries: Iterable[Entry]) -> Iterator[bytes]:
    """Yield the archive's bytes entry by entry, chunk by chunk.

    A file the storage no longer has (or cannot read) is left out and logged with its photo's id:
    the download goes on with the others rather than breaking off halfway.
    """
    sink = _Drain()
    with zipfile.ZipFile(sink, mode="w", compression=zipfile.ZIP_STORED) as archive:
        for entry in entries:
            try:
                source = default_storage.open(entry.stored_name, "rb")
            except OSError:
                log.error(
                    "photo %s: %s is left out of a zip download: the storage cannot open it",
                    entry.photo_id,
                    entry.stored_name,
                )
                continue
            info = zipfile.ZipInfo(entry.arcname, date_time=entry.modified.timetuple()[:6])
            info.compress_type = zipfile.ZIP_STORED
            with source, archive.open(info, mode="w") as target:
                while chunk := source.read(CHUNK_BYTES):
                    target.write(chunk)
                    if data := sink.drain():
                        yield data
            if data := sink.drain():
                yield data
    if data := sink.drain():
        yield data
