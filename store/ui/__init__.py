"""The web UI of ``silage serve``, under ``/ui``: the registry for people, one page per
object, each page also served as JSON.

Every page is built in three steps, kept apart: a *context builder* reads the registry
(through its public API, :class:`registry.Browse` for paged listings) and returns a frozen
dataclass; that one context is rendered either by a Jinja2 template (HTML, server-side, no
script needed) or by :func:`store.ui.context.to_json` (the page's JSON twin at
``<page>.json``, announced by a ``Link: rel=alternate`` header). Charts, histograms and the
lineage graph are inline SVG drawn in Python (:mod:`store.ui.svg`), each beside a table or
list with the same numbers.

Modules: ``context`` (shared shapes and JSON), ``diff`` (field-level differences),
``svg``, ``templates`` (the one module importing Jinja2), ``links`` (URLs under a proxy
prefix), one builder module per area (``home``, ``catalog``, ``training``, ``models``,
``cards``, ``lineage``, ``deployments``, ``monitoring``) and ``routes`` (the Starlette app
that maps URLs to builders).

May import: the foundation modules and ``store.feature_store`` (the facade, for the
registry and project it serves); ``registry``. Never an engine or backend.
"""
