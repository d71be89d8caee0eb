"""Where the registry keeps files: model artifacts and saved training sets (and, through the
same setting, whatever else a team must share), behind one interface and one URI.

=========================  ==================================================================
``data/artifacts``         a local folder (the default); a relative path starts at the repo
``file:///srv/artifacts``  the same, absolute
``s3://bucket/prefix``     S3 or any S3-compatible server, through fsspec/s3fs
                           (``storage_options`` go to s3fs: ``endpoint_url``, ``key``...)
``registry``               the registry database itself: small deployments, one thing to
                           back up
=========================  ==================================================================

Every store keeps bytes under a key (a relative POSIX path such as
``ride_hailing/churn/v3.skops`` or ``ride_hailing/training_sets/trips/<sha256>.parquet``).
Writes are atomic (a reader sees all the bytes or none: a rename on a local disk, a single
PUT or a completed multipart upload on S3, a row in the writer's transaction in the
database) and reads are checked against the sha256 and size recorded when the file was
registered (:func:`verify`).

Example:
    >>> from pathlib import Path
    >>> import tempfile
    >>> store = open_file_store(tempfile.mkdtemp())
    >>> digest, size = store.put("demo/m/v1.bin", b"weights")
    >>> store.get("demo/m/v1.bin", digest, size)
    b'weights'
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from registry.errors import ArtifactIntegrityError, RegistryError

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

    from registry.database import Database

__all__ = ["FileStore", "check_key", "digest_of", "open_file_store", "verify"]

DATABASE_URI = "registry"


class FileStore(Protocol):
    """Bytes under keys, written atomically and read back verified.

    ``session`` is the registry's write transaction when there is one: the database store
    writes into it (so the file and its version row commit together), the others ignore it.
    """

    uri: str
    # True when put/delete join the caller's transaction (a rollback undoes them).
    transactional: bool

    def put(self, key: str, data: bytes, session: Session | None = None) -> tuple[str, int]:
        """Store ``data`` under ``key`` (replacing it); returns its sha256 and size."""
        ...

    def get(self, key: str, sha256: str, size: int) -> bytes:
        """The bytes under ``key``; :class:`ArtifactIntegrityError` if missing or changed."""
        ...

    def delete(self, key: str, session: Session | None = None) -> None:
        """Remove ``key`` if it is there."""
        ...

    def keys(self, prefix: str = "") -> list[str]:
        """Every key under ``prefix``, sorted."""
        ...

    def location(self, key: str) -> str:
        """Where ``key`` lives, for messages (a path or a URI)."""
        ...


def check_key(key: str) -> str:
    """``key`` if it is a relative POSIX path that stays inside the store."""
    parts = key.split("/")
    if not key or key.startswith("/") or "\\" in key or any(p in ("", ".", "..") for p in parts):
        raise RegistryError(
            f"artifact key {key!r} must be a relative path inside the store, such as "
            f"'project/model/v1.skops'"
        )
    return key


def digest_of(data: bytes) -> tuple[str, int]:
    """The sha256 (hex) and size of ``data``."""
    return hashlib.sha256(data).hexdigest(), len(data)


def verify(where: str, data: bytes | None, sha256: str, size: int) -> bytes:
    """``data`` if it is the file registered as (sha256, size); raises otherwise.

    Raises:
        ArtifactIntegrityError: ``data`` is None (missing) or other bytes; the exception
            carries ``where`` and both digests.
    """
    if data is None:
        raise ArtifactIntegrityError(
            f"the artifact {where} is missing; it was moved or deleted",
            location=where,
            expected_sha256=sha256,
            expected_size=size,
        )
    digest, found = digest_of(data)
    if found != size or digest != sha256:
        raise ArtifactIntegrityError(
            f"the artifact {where} changed since it was registered (sha256 {digest[:12]}, "
            f"{found} bytes; expected {sha256[:12]}, {size} bytes); restore it or register "
            f"the model again",
            location=where,
            expected_sha256=sha256,
            expected_size=size,
            found_sha256=digest,
            found_size=found,
        )
    return data


def open_file_store(
    uri: str | Path,
    *,
    db: Database | None = None,
    base: Path | None = None,
    storage_options: Mapping[str, Any] | None = None,
) -> FileStore:
    """The store a URI names (see the module docstring for the forms).

    Args:
        uri: a folder, ``file://``, ``s3://bucket/prefix`` or ``registry``.
        db: the registry database (needed for ``registry``).
        base: where a relative folder starts (the repository root).
        storage_options: the filesystem library's options for object stores.

    Raises:
        RegistryError: an unknown scheme, or ``registry`` without a database.
    """
    text = str(uri)
    if text == DATABASE_URI:
        if db is None:
            raise RegistryError("artifact store `registry` needs the registry database")
        from registry.storage.database import DatabaseFileStore

        return DatabaseFileStore(db)
    scheme, sep, rest = text.partition("://")
    if not sep:
        path = Path(text)
        if not path.is_absolute() and base is not None:
            path = base / path
        from registry.storage.local import LocalFileStore

        return LocalFileStore(path)
    if scheme == "file":
        from registry.storage.local import LocalFileStore

        return LocalFileStore(Path(rest))
    if scheme in _OBJECT_SCHEMES:
        from registry.storage.object_store import ObjectFileStore

        return ObjectFileStore(text, storage_options or {})
    raise RegistryError(
        f"artifact store {text!r} is not supported; use a folder (data/artifacts), "
        f"file:///path, s3://bucket/prefix or `registry`"
    )


# Object stores reached through fsspec; each needs its filesystem package (s3fs for s3).
_OBJECT_SCHEMES = {"s3": "s3fs", "s3a": "s3fs", "memory": "fsspec"}
