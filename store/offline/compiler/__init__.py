"""Compilers: requests in, SQL out (sqlglot trees rendered per dialect). Pure.

- :mod:`.point_in_time`: the point-in-time join, written once, rendered several ways;
- :mod:`.latest_rows`: the newest row per entity key in a time window (materialization);
- :mod:`.statistics`: per-column statistics of a table (saved training sets);
- :mod:`.validation`: a view's expectations as one aggregate query;
- :mod:`.query`: what a compiler returns (:class:`~.query.CompiledQuery`) and the sources
  it reads by name; :mod:`.sql`: small shared builders and the SQL spelling of each dtype.

May import: sqlglot, :mod:`store.types`, :mod:`store.errors`, and the declarations they
compile (:mod:`store.definitions`). No database driver, no Arrow, no engine: every compiled
query can be checked as text (golden files).
"""
