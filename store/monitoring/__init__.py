"""Monitoring: whether the data arriving is sane, still like the data trained on, equal to
what training would have seen, and whether the model is still right.

- :mod:`.validation`: a view's data checked against its expectations where data enters
  (materialization, push, training sets, on demand), with the policy that stops a load.

May import: the foundation modules, :mod:`store.definitions`, the offline store (compilers,
the engine protocol, sources, retrieval) and the online and serving stores' neutral modules,
``registry``'s public API, NumPy and SciPy. Never an engine or backend by name.
"""
