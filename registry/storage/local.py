"""Files in a local folder: each written to a temporary name, synced, then renamed."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from registry.storage import check_key, digest_of, verify

if TYPE_CHECKING:
    from sqlalchemy.orm import Session

__all__ = ["LocalFileStore", "write_atomically"]


class LocalFileStore:
    """Keys are paths under ``root``."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.uri = root.as_posix()
        self.transactional = False

    def _path(self, key: str) -> Path:
        return self.root / check_key(key)

    def put(self, key: str, data: bytes, session: Session | None = None) -> tuple[str, int]:
        write_atomically(self._path(key), data)
        return digest_of(data)

    def get(self, key: str, sha256: str, size: int) -> bytes:
        path = self._path(key)
        data = path.read_bytes() if path.is_file() else None
        return verify(str(path), data, sha256, size)

    def delete(self, key: str, session: Session | None = None) -> None:
        self._path(key).unlink(missing_ok=True)

    def keys(self, prefix: str = "") -> list[str]:
        if not self.root.is_dir():
            return []
        found = (
            p.relative_to(self.root).as_posix()
            for p in self.root.rglob("*")
            if p.is_file() and not p.name.startswith(".")
        )
        return sorted(k for k in found if k.startswith(prefix))

    def location(self, key: str) -> str:
        return str(self._path(key))


def write_atomically(path: Path, data: bytes) -> None:
    """Write a file so that it is either complete or absent, never half-written."""
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
