"""The online store: the newest value of every feature per entity key, for serving.

- :mod:`.layout`: what an online table holds (typed keys, features, event and created
  times) and which table changes an apply makes; neutral, no database.
- :mod:`.backend`: the :class:`~store.online.backend.OnlineBackend` protocol; :mod:`.backends`
  holds the implementations (SQLite, Redis, PostgreSQL), chosen by ``online_store: {type: ...}``.
- :mod:`.materialize`: newest rows per key computed by the offline engine, streamed as
  Arrow into the backend (the one module that uses both stores).
- :mod:`.read` (``get_online_features``) and :mod:`.write` (``push``).

May import: :mod:`store.definitions`, the offline store's compiler, engine protocol and
sources (materialization only), ``registry``'s public API. Only modules under
:mod:`.backends` open a database.
"""
