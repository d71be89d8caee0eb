"""The offline store: point-in-time correct training sets from Parquet sources.

- :mod:`.compiler`: pure functions from a request to SQL (point-in-time joins, newest rows
  per key, statistics); no database is touched.
- :mod:`.engine`: the :class:`~store.offline.engine.OfflineEngine` protocol that runs
  compiled SQL and returns Arrow; :mod:`.engines` holds the implementations (DuckDB first),
  chosen by ``offline_store: {type: ...}``.
- :mod:`.sources` (Parquet files, schemas and footer statistics of sources, and the
  checks of views against them), :mod:`.entity_table`, :mod:`.retrieval` (the job
  ``get_historical_features`` returns) and :mod:`.training_set` (saved, fingerprinted).
- :mod:`.append`: pushed rows appended to a file source, atomically (``push(...,
  to="offline")``).

May import: :mod:`store.definitions`, ``registry``'s public API (training sets), Arrow.
Only modules under :mod:`.engines` import an engine's driver.
"""
