"""Data sources: where a feature view's rows live in the offline store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from store.definitions.spec import check_name, content_hash, frozen_tags
from store.errors import DefinitionError

__all__ = ["FileSource", "check_source_columns"]


@dataclass(frozen=True, slots=True, kw_only=True)
class FileSource:
    """Parquet data: one file, a directory of Parquet files, or a glob.

    Args:
        name: unique name; empty (the default) takes the file name without its extension.
        path: relative paths resolve against the repository root, never the working directory.
        timestamp_field: the event time of each row; point-in-time joins compare against it.
        created_timestamp_column: when the row was written; breaks ties between rows with
            equal event times (the later write wins). ``None`` or ``""``: no such column.
        field_mapping: renames source columns before anything else, ``{"source": "new"}``;
            every other name here and in the views refers to the renamed columns.

    Example:
        >>> src = FileSource(path="data/driver_stats.parquet", timestamp_field="event_timestamp")
        >>> src.name
        'driver_stats'
    """

    name: str = ""
    path: str
    timestamp_field: str
    created_timestamp_column: str | None = None
    field_mapping: Mapping[str, str] | None = None
    description: str = ""
    tags: Mapping[str, str] = field(default_factory=dict)
    owner: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.path, str | Path) or not str(self.path):
            raise DefinitionError(
                f"FileSource {self.name!r}: path must be a non-empty string, got {self.path!r}"
            )
        # Store paths with forward slashes so a spec (and its hash) is the same on every OS.
        path = PurePosixPath(Path(self.path).as_posix()).as_posix()
        object.__setattr__(self, "path", path)
        name = self.name or _default_name(path)
        check_name("data source", name)
        object.__setattr__(self, "name", name)
        created, mapping = check_source_columns(
            name, self.timestamp_field, self.created_timestamp_column, self.field_mapping
        )
        object.__setattr__(self, "created_timestamp_column", created)
        object.__setattr__(self, "field_mapping", mapping)
        object.__setattr__(self, "tags", frozen_tags("data source", name, self.tags))

    def __hash__(self) -> int:
        return hash(self.content_hash)

    def resolve_path(self, repo_root: Path) -> str:
        """The absolute path or glob of the data, relative paths taken from ``repo_root``."""
        path = Path(self.path)
        return str(path if path.is_absolute() else (repo_root / path))

    def to_spec(self) -> dict[str, Any]:
        """The canonical spec stored in the registry."""
        return {
            "type": "file",
            "name": self.name,
            "path": self.path,
            "timestamp_field": self.timestamp_field,
            "created_timestamp_column": self.created_timestamp_column,
            "field_mapping": dict(self.field_mapping or {}),
            "description": self.description,
            "tags": dict(self.tags),
            "owner": self.owner,
        }

    @property
    def content_hash(self) -> str:
        """sha256 of the canonical spec."""
        return content_hash(self.to_spec())

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> FileSource:
        """Rebuild a source from its registry spec."""
        return cls(
            name=spec["name"],
            path=spec["path"],
            timestamp_field=spec["timestamp_field"],
            created_timestamp_column=spec["created_timestamp_column"],
            field_mapping=spec["field_mapping"],
            description=spec["description"],
            tags=spec["tags"],
            owner=spec["owner"],
        )


def _default_name(path: str) -> str:
    stem = PurePosixPath(path.rstrip("/*")).name.split(".")[0]
    return "".join(c if c.isalnum() or c == "_" else "_" for c in stem) or "source"


def check_source_columns(
    name: str,
    timestamp_field: str,
    created_timestamp_column: str | None,
    field_mapping: Mapping[str, str] | None,
) -> tuple[str | None, dict[str, str]]:
    """Check the column names every offline source declares, the same way for each kind.

    Returns the created column (``""`` becomes ``None``) and the field mapping as a sorted
    dict, ready to be stored in the frozen source.

    Raises:
        DefinitionError: a bad column name, the created column equal to the timestamp
            column, or a field mapping that is not names to names or maps two columns to one.
    """
    check_name(f"timestamp_field of data source {name!r}:", timestamp_field)
    created = created_timestamp_column or None
    if created is not None:
        check_name(f"created_timestamp_column of data source {name!r}:", created)
        if created == timestamp_field:
            raise DefinitionError(
                f"data source {name!r}: created_timestamp_column and timestamp_field are "
                f"both {created!r}; name the column that records when each row was written, "
                f"or leave created_timestamp_column unset"
            )
    mapping = dict(field_mapping or {})
    for source_col, target in mapping.items():
        if not isinstance(source_col, str) or not isinstance(target, str):
            raise DefinitionError(
                f"data source {name!r}: field_mapping must map column names to column "
                f"names, got {source_col!r}: {target!r}"
            )
        check_name(f"field_mapping target of data source {name!r}:", target)
    if len(set(mapping.values())) != len(mapping):
        raise DefinitionError(
            f"data source {name!r}: field_mapping {mapping!r} maps two columns to one name"
        )
    return created, dict(sorted(mapping.items()))
