"""Files kept in the registry database (``artifact_blobs``): for small deployments.

A file written during a registry write goes into that write's transaction, so a model
version and its artifact commit together or not at all; there is nothing else to back up.
Large artifacts make the database large: past a few hundred megabytes use object storage.
"""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from registry.database import Database
from registry.storage import DATABASE_URI, check_key, digest_of, verify
from registry.tables import ArtifactBlobRow, utc_now

__all__ = ["DatabaseFileStore"]


class DatabaseFileStore:
    """Keys are rows of ``artifact_blobs``."""

    uri = DATABASE_URI
    transactional = True

    def __init__(self, db: Database) -> None:
        self._db = db

    def put(self, key: str, data: bytes, session: Session | None = None) -> tuple[str, int]:
        check_key(key)
        digest, size = digest_of(data)
        if session is None:
            with self._db.write() as own:
                _replace(own, key, data, digest, size)
        else:
            _replace(session, key, data, digest, size)
        return digest, size

    def get(self, key: str, sha256: str, size: int) -> bytes:
        with self._db.read() as session:
            data = session.scalars(
                select(ArtifactBlobRow.data).where(ArtifactBlobRow.key == key)
            ).one_or_none()
        return verify(self.location(key), data, sha256, size)

    def delete(self, key: str, session: Session | None = None) -> None:
        statement = delete(ArtifactBlobRow).where(ArtifactBlobRow.key == key)
        if session is None:
            with self._db.write() as own:
                own.execute(statement)
        else:
            session.execute(statement)

    def keys(self, prefix: str = "") -> list[str]:
        with self._db.read() as session:
            found = session.scalars(select(ArtifactBlobRow.key).order_by(ArtifactBlobRow.key))
            return [k for k in found if k.startswith(prefix)]

    def location(self, key: str) -> str:
        return f"{self._db.safe_url}#artifact_blobs/{key}"


def _replace(session: Session, key: str, data: bytes, digest: str, size: int) -> None:
    session.execute(delete(ArtifactBlobRow).where(ArtifactBlobRow.key == key))
    session.add(
        ArtifactBlobRow(key=key, sha256=digest, size=size, data=bytes(data), created_at=utc_now())
    )
    session.flush()
