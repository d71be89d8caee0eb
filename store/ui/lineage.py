"""Context builder for a model version's lineage: a focused graph and its nested twin.

The graph runs left to right: data sources, feature-view versions, the training set, the
model version, its aliases, the deployments it served in (live or not). Deleted objects
(a deleted view, a deleted version) stay in the graph, drawn as deleted. The same facts
are a nested list (``tree``): each source holding its views, each view its features, as
the JSON twin and as the page's text beside the picture.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from registry import FeatureLineage
from store.ui import svg
from store.ui.context import NotFound
from store.ui.links import Links

if TYPE_CHECKING:
    from store.feature_store import FeatureStore

__all__ = ["LineageNode", "LineagePage"]


@dataclass(frozen=True, slots=True, kw_only=True)
class LineageNode:
    """One node of the nested list: kind, name, deleted, and what it holds."""

    kind: str
    name: str
    deleted: bool = False
    children: tuple[LineageNode, ...] = ()


@dataclass(frozen=True, slots=True, kw_only=True)
class LineagePage:
    """``/ui/models/<name>/versions/<n>/lineage``: ``tree`` from the model version down
    (training set, sources, views with versions, features) and up (aliases, deployments);
    ``graph_svg`` draws the same."""

    title: str
    model: str
    version: int
    tree: LineageNode
    graph_svg: str


def lineage_page(store: FeatureStore, name: str, number: int, links: Links) -> LineagePage:
    browse = store.registry.browse
    found = browse.version(store.project, name, number)
    if found is None:
        raise NotFound("model version", f"{name} v{number}", "/models")
    deleted_views = browse.deleted_views(store.project)
    features: tuple[FeatureLineage, ...] = ()
    if found.deleted_at is None:
        features = store.model_registry.lineage.of_version(name, number).features
    history = browse.deployment_history(store.project, name)
    latest = {r.environment: r.revision for r in history}
    served = sorted(
        {
            (r.environment, r.revision == latest[r.environment])
            for r in history
            for t in r.targets
            if t.version == number
        }
    )
    environments: dict[str, bool] = {}
    for environment, live in served:
        environments[environment] = environments.get(environment, False) or live

    nodes: list[svg.GraphNode] = []
    edges: list[svg.GraphEdge] = []
    sources: dict[str, dict[tuple[str, int], list[str]]] = {}
    for f in features:
        path = str(f.source.get("name") or f.source.get("path") or "(no source)")
        sources.setdefault(path, {}).setdefault((f.feature_view, f.view_version), []).append(
            f.feature
        )
    me = f"model:{name}:{number}"
    for path, views in sorted(sources.items()):
        nodes.append(svg.GraphNode(id=f"source:{path}", kind="source", label=path, column=0))
        for view, view_version in sorted(views):
            vid = f"view:{view}:{view_version}"
            if all(n.id != vid for n in nodes):
                nodes.append(
                    svg.GraphNode(
                        id=vid,
                        kind="feature view",
                        label=f"{view} v{view_version}",
                        column=1,
                        href=None
                        if view in deleted_views
                        else links.view(view, version=view_version),
                        deleted=view in deleted_views,
                    )
                )
            edges.append(svg.GraphEdge(f"source:{path}", vid))
            if found.training_set:
                edges.append(svg.GraphEdge(vid, f"ts:{found.training_set}"))
    if found.training_set:
        nodes.append(
            svg.GraphNode(
                id=f"ts:{found.training_set}",
                kind="training set",
                label=found.training_set,
                column=2,
                href=links.training_set(found.training_set),
            )
        )
        edges.append(svg.GraphEdge(f"ts:{found.training_set}", me))
    nodes.append(
        svg.GraphNode(
            id=me,
            kind="model version",
            label=f"{name} v{number}",
            column=3,
            href=links.version(name, number),
            deleted=found.deleted_at is not None,
        )
    )
    for alias in found.aliases:
        nodes.append(
            svg.GraphNode(
                id=f"alias:{alias}",
                kind="alias",
                label=f"@{alias}",
                column=4,
                href=links.model(name),
            )
        )
        edges.append(svg.GraphEdge(me, f"alias:{alias}"))
    for environment, live in environments.items():
        nodes.append(
            svg.GraphNode(
                id=f"env:{environment}",
                kind="deployment" + ("" if live else " (past)"),
                label=environment,
                column=5,
                href=links.deployment(name, environment),
            )
        )
        edges.append(svg.GraphEdge(me, f"env:{environment}"))

    source_nodes = tuple(
        LineageNode(
            kind="source",
            name=path,
            children=tuple(
                LineageNode(
                    kind="feature_view",
                    name=f"{view} v{view_version}",
                    deleted=view in deleted_views,
                    children=tuple(LineageNode(kind="feature", name=f) for f in feats),
                )
                for (view, view_version), feats in sorted(views.items())
            ),
        )
        for path, views in sorted(sources.items())
    )
    children: list[LineageNode] = []
    if found.training_set:
        children.append(
            LineageNode(kind="training_set", name=found.training_set, children=source_nodes)
        )
    children.extend(LineageNode(kind="alias", name=a) for a in found.aliases)
    children.extend(
        LineageNode(kind="deployment", name=f"{env} ({'live' if live else 'past'})")
        for env, live in environments.items()
    )
    tree = LineageNode(
        kind="model_version",
        name=f"{name} v{number}",
        deleted=found.deleted_at is not None,
        children=tuple(children),
    )
    return LineagePage(
        title=f"Lineage of {name} v{number}",
        model=name,
        version=number,
        tree=tree,
        graph_svg=svg.graph(nodes, edges, f"lineage of {name} v{number}"),
    )
