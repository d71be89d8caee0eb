"""Serving: predictions through deployments, the predictions log, the HTTP server.

- :mod:`.predict`: routes entity rows through a model's live deployment, reads exactly the
  features each served version was trained on, runs the model and shadows;
- :mod:`.prediction_log`: every prediction, shadows included, as an append-only table;
- :mod:`.server`: ``silage serve`` (FastAPI), Feast's online-features shape, pushes and
  predictions, in one process or several (``--workers N``);
- :mod:`.feature_log`: what feature services with a ``logging_config`` served, sampled,
  buffered and written as Parquet in the background.

May import: :mod:`store.definitions`, :mod:`store.online` (responses), ``registry``'s
public API; the server alone imports the ``FeatureStore`` facade, which it serves.
"""
