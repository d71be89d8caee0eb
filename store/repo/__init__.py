"""The feature repository: ``feature_store.yaml``, loading definitions, plan and apply.

- :mod:`.config`: ``feature_store.yaml`` (Feast's keys), with the offline engine and the
  online backend chosen by ``type`` from their tables.
- :mod:`.loader`: imports a repository's Python files by path and collects definitions.
- :mod:`.plan`: pure, field-level diffs of declared specs against the catalog.
- :mod:`.apply`: writes the catalog and syncs the online tables, all or nothing.
- :mod:`.scaffold` (``silage init``) and :mod:`.describe` (``silage list`` / ``describe``).

May import: :mod:`store.definitions`, the offline and online stores' neutral modules
(source checks, table layouts, the backend interface), ``registry``'s public API.
Never an engine or backend module by name: those come from their tables.
"""
