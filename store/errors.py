"""Exceptions raised by the feature store.

Every error names the object, the bad value and the fix. Only the CLI prints them.

::

    StoreError
    ├── DefinitionError (ValueError)     a declaration is invalid where it is constructed
    ├── ConfigError (ValueError)         feature_store.yaml is missing or malformed
    ├── RepoError                        a feature repository cannot be loaded or is inconsistent
    │   ├── RepoImportError              a repository file raised while being imported
    │   └── RepoValidationError          objects disagree with each other or with their data
    ├── SourceDataError                  a source's Parquet files are missing or unreadable
    ├── TrainingSetIntegrityError        a saved training set's data is missing or changed
    ├── RequestError (ValueError)         a feature request or entity table is malformed
    ├── TransformationError (ValueError)  an on-demand view's function failed or broke its schema
    ├── ObjectNotFoundError (LookupError) no object of that kind and name in the catalog
    ├── OnlineStoreError                 the online store cannot be read or written
    ├── PredictionLogError               the predictions log cannot be reached as configured
    ├── FeatureLogError                  a feature service's log cannot be written or read
    ├── DataValidationError (ValueError) data failed a view's expectations (policy reject)
    └── DriftError (ValueError)          values or a profile cannot be compared as given
"""

from __future__ import annotations

from pathlib import Path

__all__ = [
    "ConfigError",
    "DataValidationError",
    "DefinitionError",
    "DriftError",
    "FeatureLogError",
    "ObjectNotFoundError",
    "OnlineStoreError",
    "PredictionLogError",
    "RepoError",
    "RepoImportError",
    "RepoValidationError",
    "RequestError",
    "SourceDataError",
    "StoreError",
    "TrainingSetIntegrityError",
    "TransformationError",
]


class StoreError(Exception):
    """Root of every error the feature store raises on purpose."""


class DefinitionError(StoreError, ValueError):
    """A definition (entity, source, view, service, field) was constructed with a bad value."""


class ConfigError(StoreError, ValueError):
    """``feature_store.yaml`` is missing, unreadable or has a bad value."""

    def __init__(self, message: str, *, path: Path | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class RepoError(StoreError):
    """A feature repository cannot be loaded, or its objects are inconsistent."""


class RepoImportError(RepoError):
    """A repository file raised while it was imported; ``path`` and ``line`` locate it."""

    def __init__(self, message: str, *, path: Path, line: int | None) -> None:
        self.path = path
        self.line = line
        where = f"{path}:{line}" if line else str(path)
        super().__init__(f"{where}: {message}")


class RepoValidationError(RepoError):
    """Objects of a repository disagree with each other or with their source data.

    ``problems`` holds one message per problem, so a user fixes them all in one pass.
    """

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        if len(problems) == 1:
            super().__init__(problems[0])
        else:
            listed = "\n".join(f"  - {p}" for p in problems)
            super().__init__(f"{len(problems)} problems in the feature repository:\n{listed}")


class SourceDataError(StoreError):
    """A source's Parquet files cannot be found or read; the message names the path."""


class TrainingSetIntegrityError(StoreError):
    """A saved training set's data is missing where the registry says it is, or its bytes
    are not the ones saved (sha256 and size). ``name`` is the set, ``location`` where its
    data was looked for; the message says what to do."""

    def __init__(self, message: str, *, name: str, location: str) -> None:
        self.name = name
        self.location = location
        super().__init__(message)


class RequestError(StoreError, ValueError):
    """A feature request cannot be served as asked: a bad reference, a missing or mistyped
    entity column, a name clash. The message names the column or reference and the fix."""


class TransformationError(StoreError, ValueError):
    """An on-demand feature view's function raised, or returned something that does not fit
    its declared schema (a missing column, a wrong type, the wrong number of rows). The
    message names the view and the column."""


class ObjectNotFoundError(StoreError, LookupError):
    """No object of this kind and name is registered."""

    def __init__(self, kind: str, name: str, known: list[str]) -> None:
        self.kind = kind
        self.name = name
        hint = f"registered: {', '.join(sorted(known))}" if known else "none are registered"
        super().__init__(
            f"no {kind} named {name!r} in the registry ({hint}); "
            f"declare it in the feature repository and run `silage apply`"
        )


class OnlineStoreError(StoreError):
    """The online store cannot be read or written as asked."""


class PredictionLogError(StoreError):
    """The predictions log cannot be reached or used as configured."""


class FeatureLogError(StoreError):
    """A feature service's log cannot be written or read where its destination says."""


class DataValidationError(StoreError, ValueError):
    """Rows failed expectations of a view whose policy is ``reject``; nothing was written.

    ``report`` is the validation report: every expectation with the value observed.
    """

    def __init__(self, message: str, *, report: object) -> None:
        self.report = report
        super().__init__(message)


class DriftError(StoreError, ValueError):
    """Values or a profile cannot be compared as given; the message names the fix."""
