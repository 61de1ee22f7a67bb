"""What Photo and Colouring share about their files: reaching one by the name a page asks for, and its URL."""

from __future__ import annotations

from pathlib import PurePath


class StoredFiles:
    """For a model whose FILE_KINDS maps the names pages use ("result-thumb") to its FileFields."""

    FILE_KINDS: dict[str, str] = {}

    def file_field(self, kind: str):
        """The FieldFile for a kind in FILE_KINDS, or None when there is no such file (yet)."""
        field = self.FILE_KINDS.get(kind)
        file = getattr(self, field) if field else None
        return file if file else None

    def file_url(self, kind: str, download: bool = False) -> str | None:
        """URL of one of the files; the version tag changes with the file, so it caches well."""
        file = self.file_field(kind)
        if file is None:
            return None
        url = self.file_view_url(kind) + "?v=" + file_version(file.name)
        return url + "&download=1" if download else url

    def file_view_url(self, kind: str) -> str:
        """The access-checking view that serves this kind of file (without the version tag)."""
        raise NotImplementedError


def file_version(name: str) -> str:
    return PurePath(name).stem.rsplit("-", 1)[-1]
