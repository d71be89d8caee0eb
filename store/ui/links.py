"""URLs of the UI's pages, under the prefix the request came through.

Behind a proxy (``silage serve --root-path /tools/silage``) every link must start with the
proxy's prefix; the server tells each request its prefix (ASGI's ``root_path``, which the
mount at ``/ui`` extends), and :class:`Links` puts it in front of every path. Names are
percent-encoded, so any name makes a valid link.

Example:
    >>> Links("/tools/ui").version("trip completion", 3)
    '/tools/ui/models/trip%20completion/versions/3'
    >>> Links("/ui").twin("/ui/models?sort=-versions")
    '/ui/models.json?sort=-versions'
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

__all__ = ["Links"]


def _q(name: str) -> str:
    return quote(str(name), safe="")


class Links:
    """Paths of the UI's pages under ``base`` (the prefix and ``/ui``)."""

    def __init__(self, base: str) -> None:
        self.base = base.rstrip("/")

    def path(self, path: str = "", **query: object) -> str:
        """``base + path``, with the query's non-empty values."""
        kept = {k: v for k, v in query.items() if v not in (None, "")}
        suffix = f"?{urlencode(kept, doseq=True)}" if kept else ""
        return f"{self.base}{path or '/'}{suffix}"

    @staticmethod
    def twin(url: str) -> str:
        """The JSON twin of a page's URL (``/ui/`` becomes ``/ui/index.json``)."""
        path, _, query = url.partition("?")
        path = path + "index.json" if path.endswith("/") else path + ".json"
        return f"{path}?{query}" if query else path

    def home(self) -> str:
        return self.path("/")

    def search(self, text: str) -> str:
        return self.path("/search", q=text)

    def entity(self, name: str) -> str:
        return self.path(f"/entities/{_q(name)}")

    def source(self, name: str) -> str:
        return self.path(f"/sources/{_q(name)}")

    def view(self, name: str, **query: object) -> str:
        return self.path(f"/feature-views/{_q(name)}", **query)

    def service(self, name: str) -> str:
        return self.path(f"/feature-services/{_q(name)}")

    def training_set(self, name: str) -> str:
        return self.path(f"/training-sets/{_q(name)}")

    def compare_training_sets(self, a: str, b: str) -> str:
        return self.path("/training-sets/compare", a=a, b=b)

    def model(self, name: str, **query: object) -> str:
        return self.path(f"/models/{_q(name)}", **query)

    def version(self, model: str, version: int) -> str:
        return self.path(f"/models/{_q(model)}/versions/{int(version)}")

    def compare_versions(self, model: str, versions: list[int]) -> str:
        return self.path(f"/models/{_q(model)}/compare", v=[str(v) for v in versions])

    def card(self, model: str, version: int, **query: object) -> str:
        return self.path(f"/models/{_q(model)}/versions/{int(version)}/card", **query)

    def lineage(self, model: str, version: int) -> str:
        return self.path(f"/models/{_q(model)}/versions/{int(version)}/lineage")

    def deployment(self, model: str, environment: str, **query: object) -> str:
        return self.path(f"/deployments/{_q(model)}/{_q(environment)}", **query)

    def drift(self, model: str) -> str:
        return self.path(f"/monitoring/{_q(model)}")
