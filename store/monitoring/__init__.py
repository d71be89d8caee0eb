"""Monitoring: whether the data arriving is sane, still like the data trained on, equal to
what training would have seen, and whether the model is still right.

- :mod:`.validation`: a view's data checked against its expectations where data enters
  (materialization, push, training sets, on demand), with the policy that stops a load.
- :mod:`.statistics`: statistics per time window of a view, a training set or a model's
  predictions, kept in the registry as time series.
- :mod:`.drift`: two-sample tests and distances between a reference and a current sample
  (pure NumPy and SciPy), reference profiles, and the rules that turn them into verdicts.
- :mod:`.drift_runs`: a deployed model's served data, window by window, against a reference
  profiled once (by default the serving version's training set).
- :mod:`.skew`: training-serving skew: served features against a point-in-time join at
  each prediction's time.
- :mod:`.quality`: live model quality on the outcomes that arrive, per target and window.
- :mod:`.alerts`: alert rules evaluated on completed windows, recorded once, a webhook.
- :mod:`.report`: one model's drift (histograms side by side), validation, alerts and
  quality as HTML, Markdown or JSON.
- :mod:`.monitor`: all of it bound to one repository (``FeatureStore.monitor``).

May import: the foundation modules, :mod:`store.definitions`, the offline store (compilers,
the engine protocol, sources, retrieval) and the online and serving stores' neutral modules,
``registry``'s public API, NumPy and SciPy. Never an engine or backend by name.
"""
