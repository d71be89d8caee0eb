"""Declarations: entities, fields, sources (file, request, push), feature views (stored and
on-demand) and feature services (with their logging settings).

What users write in a feature repository. Each class is a frozen value, validated when
constructed, with a canonical JSON spec and its sha256 (:mod:`.spec`), so the registry can
store it, diff it and version it. :mod:`.references` resolves ``"view:feature"``
references against views, for offline and online reads alike.

May import: the standard library, :mod:`store.types`, :mod:`store.errors`. Nothing here
does I/O: no engine, backend, database driver, Arrow or ``registry``.
"""
