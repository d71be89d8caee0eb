"""Settings: one store's section of ``feature_store.yaml``, as its backend reads it.

``offline_store:`` and ``online_store:`` each name a ``type``, and the rest of the section
belongs to the engine or backend of that type: DuckDB reads ``threads`` and
``memory_limit``, SQLite reads ``path``. Each backend reads its own keys through a
:class:`Settings`, whose getters check the value and, when it is wrong, raise a
``ConfigError`` naming the file, the section, the key and what to write instead.

Example:
    >>> from pathlib import Path
    >>> s = Settings(section="offline_store", type="duckdb", values={"threads": 4},
    ...              config_path=Path("/repo/feature_store.yaml"))
    >>> s.integer("threads"), s.text("memory_limit", "1GB")
    (4, '1GB')
    >>> s.integer("memory_limit")  # absent: the default
"""

from __future__ import annotations

import warnings
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from store.errors import ConfigError

__all__ = ["Settings", "warn_unknown_keys"]


@dataclass(frozen=True, slots=True, kw_only=True)
class Settings:
    """The section ``section`` of the configuration file ``config_path``.

    ``type`` is the backend's name in its table (``duckdb``, ``sqlite``); ``values`` holds
    the section's other keys, read-only.
    """

    section: str
    type: str
    values: Mapping[str, Any] = field(default_factory=dict)
    config_path: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", MappingProxyType(dict(self.values)))

    @property
    def repo_path(self) -> Path:
        """The repository root: relative paths in the section start here."""
        return self.config_path.parent

    def error(self, key: str, message: str) -> ConfigError:
        """A ``ConfigError`` about ``key`` of this section."""
        return ConfigError(f"{self.section} {key}: {message}", path=self.config_path)

    def integer(self, key: str, default: int | None = None) -> int | None:
        """A whole number, or ``default`` when the key is absent or null."""
        value = self.values.get(key)
        if value is None:
            return default
        if not isinstance(value, int) or isinstance(value, bool):
            raise self.error(key, f"{value!r} is not valid; give a whole number")
        return value

    def text(self, key: str, default: str | None = None, *, example: str = "") -> str | None:
        """A string, or ``default`` when the key is absent or null; ``example`` shows a good
        value in the error."""
        value = self.values.get(key)
        if value is None:
            return default
        if not isinstance(value, str) or not value:
            hint = f" such as {example}" if example else ""
            raise self.error(key, f"{value!r} is not valid; give a text value{hint}")
        return value

    def flag(self, key: str, default: bool) -> bool:
        """``true`` or ``false``; ``default`` when absent."""
        value = self.values.get(key, default)
        if not isinstance(value, bool):
            raise self.error(key, f"{value!r} must be true or false")
        return value

    def path(self, key: str, default: str) -> Path:
        """A file path; a relative one is taken from the repository root."""
        value = self.text(key, default)
        assert value is not None
        file = Path(value)
        return file if file.is_absolute() else self.repo_path / file

    def warn_unknown(self, known: Collection[str]) -> None:
        """Warn about keys of this section that the backend does not read."""
        warn_unknown_keys(self.config_path, self.section, self.values, known, stacklevel=5)


def warn_unknown_keys(
    config_path: Path,
    section: str,
    given: Mapping[str, Any],
    known: Collection[str],
    *,
    stacklevel: int = 4,
) -> None:
    """Warn about keys this version of Silage ignores, naming them and their section.

    ``stacklevel`` 4 points the warning at the code that opened the store, when called from
    the configuration loader."""
    extra = sorted(set(given) - set(known))
    if extra:
        where = f" under {section}" if section else ""
        warnings.warn(
            f"{config_path}: unknown keys{where} ignored: {', '.join(extra)}",
            UserWarning,
            stacklevel=stacklevel,
        )
