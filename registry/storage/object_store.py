"""Files in object storage (S3 and S3-compatible servers such as MinIO), through fsspec.

An object appears whole or not at all: s3fs writes a small file with one PUT and a large
one as a multipart upload that becomes visible only when completed, so no reader ever sees
half an artifact. Reads are checked against the registered sha256 and size like every
other store's. ``storage_options`` are s3fs's own (``endpoint_url`` for a server that is
not AWS, ``key``/``secret``, ``client_kwargs``); without them s3fs finds credentials the
usual AWS ways (environment, profile, instance role).
"""

from __future__ import annotations

import contextlib
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from registry.errors import RegistryError
from registry.storage import check_key, digest_of, verify

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["ObjectFileStore"]


class ObjectFileStore:
    """Keys are objects under ``uri`` (``s3://bucket/prefix``)."""

    def __init__(self, uri: str, storage_options: Mapping[str, Any]) -> None:
        self.uri = uri.rstrip("/")
        self.transactional = False
        try:
            import fsspec
        except ImportError as exc:  # pragma: no cover - fsspec comes with s3fs
            raise RegistryError(_install_hint(uri)) from exc
        scheme = uri.partition("://")[0]
        try:
            self._fs = fsspec.filesystem(scheme, **dict(storage_options))
        except ImportError as exc:
            raise RegistryError(_install_hint(uri)) from exc
        self._root = self.uri.partition("://")[2]

    def _path(self, key: str) -> str:
        return f"{self._root}/{check_key(key)}"

    def put(self, key: str, data: bytes, session: Session | None = None) -> tuple[str, int]:
        try:
            self._fs.pipe_file(self._path(key), bytes(data))
        except OSError as exc:
            raise RegistryError(f"cannot write {self.location(key)}: {exc}") from exc
        return digest_of(data)

    def get(self, key: str, sha256: str, size: int) -> bytes:
        try:
            data: bytes | None = self._fs.cat_file(self._path(key))
        except FileNotFoundError:
            data = None
        return verify(self.location(key), data, sha256, size)

    def delete(self, key: str, session: Session | None = None) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._fs.rm_file(self._path(key))

    def keys(self, prefix: str = "") -> list[str]:
        try:
            found = self._fs.find(self._root)
        except FileNotFoundError:
            return []
        start = len(self._root) + 1
        return sorted(k for k in (str(p)[start:] for p in found) if k.startswith(prefix))

    def location(self, key: str) -> str:
        return f"{self.uri}/{key}"


def _install_hint(uri: str) -> str:
    return (
        f"artifact store {uri!r} needs a filesystem library: pip install 'silage[s3]' "
        f"(s3fs) for s3:// URIs"
    )
