"""Feature references: from ``"view:feature"`` strings or a service to typed, named columns.

Pure: views are looked up through a function, so the same resolution serves offline and
online reads.

Example:
    >>> parse_refs(["stats:a", "stats:b", "profile:c", "stats:a"])
    [('stats', ['a', 'b']), ('profile', ['c'])]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from store.definitions.feature_service import FeatureService
from store.definitions.feature_view import FeatureView
from store.definitions.field import Field
from store.definitions.on_demand import OnDemandFeatureView
from store.errors import RequestError

__all__ = ["AnyView", "RequestedView", "parse_refs", "resolve_features"]

# What a reference's view part may name: stored features or on-demand ones.
AnyView = FeatureView | OnDemandFeatureView


@dataclass(frozen=True, slots=True)
class RequestedView:
    """One view of a request: the features asked of it and their output column names."""

    view: AnyView
    features: tuple[Field, ...]
    outputs: tuple[str, ...]

    @property
    def refs(self) -> list[str]:
        return [f"{self.view.name}:{f.name}" for f in self.features]


def parse_refs(features: Sequence[str] | FeatureService) -> list[tuple[str, list[str]]]:
    """Group references by view, keeping first-seen order and dropping repeats."""
    if isinstance(features, FeatureService):
        refs = features.feature_refs
    elif isinstance(features, str):
        raise RequestError(
            f"features={features!r} is a single string; pass a list such as [{features!r}]"
        )
    else:
        refs = list(features)
    if not refs:
        raise RequestError("no features requested; pass ['view:feature', ...] or a FeatureService")
    grouped: dict[str, list[str]] = {}
    for ref in refs:
        if not isinstance(ref, str) or ref.count(":") != 1 or ":" in (ref[0], ref[-1]):
            raise RequestError(
                f"feature reference {ref!r} is not of the form 'feature_view:feature', "
                f"e.g. 'driver_hourly_stats:conv_rate'"
            )
        view, feature = ref.split(":")
        names = grouped.setdefault(view, [])
        if feature not in names:
            names.append(feature)
    return list(grouped.items())


def resolve_features(
    features: Sequence[str] | FeatureService,
    lookup_view: Callable[[str], AnyView],
    *,
    full_feature_names: bool,
    reserved: Sequence[str] = (),
) -> list[RequestedView]:
    """Resolve references against views; name output columns and refuse clashes.

    Args:
        features: references or a feature service.
        lookup_view: returns the view of a name, raising ``ObjectNotFoundError``.
        full_feature_names: name columns ``view__feature`` instead of ``feature``.
        reserved: column names already taken (the entity table's columns).

    Raises:
        RequestError: unknown feature, or two columns with one name.
    """
    requested: list[RequestedView] = []
    taken: dict[str, str] = {name: "the entity table" for name in reserved}
    for view_name, names in parse_refs(features):
        view = lookup_view(view_name)
        by_name = {f.name: f for f in view.features}
        fields: list[Field] = []
        outputs: list[str] = []
        for name in names:
            field = by_name.get(name)
            if field is None:
                raise RequestError(
                    f"feature view {view_name!r} has no feature {name!r}; its features are "
                    f"{', '.join(by_name)}"
                )
            output = f"{view_name}__{name}" if full_feature_names else name
            if output in taken:
                hint = (
                    "rename the entity table's column"
                    if taken[output] == "the entity table"
                    else "pass full_feature_names=True to name columns view__feature"
                )
                raise RequestError(
                    f"column {output!r} would come from both {taken[output]} and "
                    f"{view_name}:{name}; {hint}"
                )
            taken[output] = f"{view_name}:{name}"
            fields.append(field)
            outputs.append(output)
        requested.append(RequestedView(view, tuple(fields), tuple(outputs)))
    return requested
