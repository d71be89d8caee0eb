"""The online store: the newest value of every feature per entity key, for serving.

- :mod:`.layout`: what an online table holds (typed keys, features, event and created
  times) and which table changes an apply makes; neutral, no database.
- :mod:`.backend`: the :class:`~store.online.backend.OnlineBackend` protocol; :mod:`.backends`
  holds the implementations (SQLite, Redis, PostgreSQL), chosen by ``online_store: {type: ...}``.
- :mod:`.materialize`: newest rows per key computed by the offline engine, streamed as
  Arrow into the backend (the one module that uses both stores).
- :mod:`.read` (``get_online_features``) and :mod:`.write` (pushed rows checked and shaped
  for the backend).
- :mod:`.stored_on_demand`: on-demand views declared ``write_to_online_store=True``,
  computed when their source rows are written and stored in a table of their own.

May import: :mod:`store.definitions`, the offline store's compiler, engine protocol and
sources (materialization only), ``registry``'s public API. Only modules under
:mod:`.backends` open a database.
"""
