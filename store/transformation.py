"""Running on-demand feature views: one function, the same checks, offline and online.

:func:`run_on_demand` hands a view's function its inputs in the view's mode and checks
what comes back against the declared schema: every declared field present, one value per
row, of a type that fits (integers may fill a float field; nothing else is converted).
Training sets call it once over the whole joined result, online reads once per request:
the code path is the same, only the number of rows differs.

Inputs, as Feast gives them: the caller's columns (join keys, request fields, and for a
training set the whole entity table), then each source feature under its own name (when
no two sources share it) and as ``view__feature``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from store.definitions.feature_view import FeatureView
from store.definitions.field import Field
from store.definitions.on_demand import OnDemandFeatureView
from store.errors import RequestError, TransformationError
from store.types import (
    Float32,
    Float64,
    PrimitiveType,
    accepts_arrow_type,
    cast_arrow,
    describe_arrow_type,
    to_arrow,
)

if TYPE_CHECKING:
    import pyarrow as pa

__all__ = ["input_names", "missing_request_fields", "run_on_demand", "source_features"]

_FLOATS = (Float32, Float64)


def input_names(view: OnDemandFeatureView) -> list[tuple[str, str, str]]:
    """``(view, feature, input name)`` for each source feature, under both of its names:
    the short one only when no other source has a feature of that name."""
    counts: dict[str, int] = {}
    for source in view.feature_sources:
        for f in source.features:
            counts[f.name] = counts.get(f.name, 0) + 1
    names = []
    for source in view.feature_sources:
        for f in source.features:
            if counts[f.name] == 1:
                names.append((source.view.name, f.name, f.name))
            names.append((source.view.name, f.name, f"{source.view.name}__{f.name}"))
    return names


def source_features(
    view: OnDemandFeatureView, lookup_view: Callable[[str], object]
) -> Iterator[tuple[FeatureView, Field]]:
    """The registered stored view and field behind each feature ``view`` reads, in
    declaration order; ``lookup_view`` finds a view by name in the registry, so a source
    changed since the on-demand view was declared is caught here, not as a missing column.

    Raises:
        RequestError: a source is no longer a stored feature view, or no longer has the
            feature; both say to apply the repository again.
    """
    for source in view.feature_sources:
        stored = lookup_view(source.view.name)
        if not isinstance(stored, FeatureView):
            raise RequestError(
                f"on-demand feature view {view.name!r} reads {source.view.name!r}, which "
                f"is not a stored feature view; apply the repository again"
            )
        by_name = {f.name: f for f in stored.features}
        for wanted in source.features:
            field = by_name.get(wanted.name)
            if field is None:
                raise RequestError(
                    f"on-demand feature view {view.name!r} reads "
                    f"{stored.name}:{wanted.name}, which the registered view no longer has; "
                    f"apply the repository again"
                )
            yield stored, field


def missing_request_fields(view: OnDemandFeatureView, given: Sequence[str]) -> list[Field]:
    """The request fields of ``view`` not among ``given`` columns."""
    present = set(given)
    return [f for f in view.request_fields if f.name not in present]


def check_request_fields(view: OnDemandFeatureView, given: Sequence[str], where: str) -> None:
    """Raise a :class:`RequestError` naming the first request field ``given`` lacks."""
    missing = missing_request_fields(view, given)
    if missing:
        names = ", ".join(repr(f.name) for f in missing)
        raise RequestError(
            f"on-demand feature view {view.name!r} needs request field(s) {names}, which "
            f"{where} lack(s); add them (as {', '.join(f.dtype.spec for f in missing)})"
        )


def run_on_demand(
    view: OnDemandFeatureView, inputs: Mapping[str, Any], rows: int
) -> list[pa.Array]:
    """Run ``view``'s function over ``rows`` rows of ``inputs`` (name -> a list or an Arrow
    array, each ``rows`` long); return one Arrow array per declared field, in schema order,
    each of the declared type.

    Raises:
        TransformationError: the function raised, returned something other than its mode's
            shape, left out a declared field, or returned a value of the wrong type.
    """
    where = f"on-demand feature view {view.name!r}"
    try:
        if view.mode == "pandas":
            outputs = _run_pandas(view, inputs)
        elif view.singleton:
            outputs = _run_singleton(view, inputs, rows)
        else:
            outputs = _run_python(view, inputs)
    except TransformationError:
        raise
    except Exception as exc:
        raise TransformationError(
            f"{where}: its function {view.name}() raised {type(exc).__name__}: {exc}"
        ) from exc
    return [_checked(where, f, outputs, rows) for f in view.schema]


def _run_pandas(view: OnDemandFeatureView, inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    import pandas as pd

    frame = pd.DataFrame({name: _to_pandas(values) for name, values in inputs.items()}, copy=False)
    result = view.transformation(frame)
    if not isinstance(result, pd.DataFrame):
        raise TransformationError(
            f"on-demand feature view {view.name!r}: mode 'pandas' functions return a "
            f"pandas DataFrame, {view.name}() returned {type(result).__name__}"
        )
    return {str(c): result[c] for c in result.columns}


def _run_python(view: OnDemandFeatureView, inputs: Mapping[str, Any]) -> Mapping[str, Any]:
    given = {name: _to_list(values) for name, values in inputs.items()}
    result = view.transformation(given)
    if not isinstance(result, Mapping):
        raise TransformationError(
            f"on-demand feature view {view.name!r}: mode 'python' functions return a dict "
            f"of lists, {view.name}() returned {type(result).__name__}"
        )
    return result


def _run_singleton(
    view: OnDemandFeatureView, inputs: Mapping[str, Any], rows: int
) -> Mapping[str, Any]:
    columns = {name: _to_list(values) for name, values in inputs.items()}
    out: dict[str, list[Any]] = {f.name: [] for f in view.schema}
    for i in range(rows):
        result = view.transformation({name: values[i] for name, values in columns.items()})
        if not isinstance(result, Mapping):
            raise TransformationError(
                f"on-demand feature view {view.name!r}: with singleton=True the function "
                f"returns a dict of values, {view.name}() returned {type(result).__name__}"
            )
        for name, values in out.items():
            if name in result:
                values.append(result[name])
    return {name: values for name, values in out.items() if len(values) == rows}


def _checked(where: str, field: Field, outputs: Mapping[str, Any], rows: int) -> pa.Array:
    import pyarrow as pa

    if field.name not in outputs:
        returned = ", ".join(map(str, outputs)) or "nothing"
        raise TransformationError(
            f"{where}: its function returned no column {field.name!r} (it returned "
            f"{returned}); return every field of the schema"
        )
    values = outputs[field.name]
    if not isinstance(field.dtype, PrimitiveType) and not isinstance(
        values, pa.Array | pa.ChunkedArray
    ):
        # Containers (lists, dicts) are built in the declared type: inferred, dicts with
        # different keys would become one struct holding every key.
        values = values.tolist() if hasattr(values, "tolist") else list(values)
        try:
            values = pa.array(values, to_arrow(field.dtype), from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
            raise TransformationError(
                f"{where}: column {field.name!r} cannot be read as {field.dtype.spec}: {exc}"
            ) from exc
    try:
        array = (
            pa.Array.from_pandas(values)
            if hasattr(values, "to_numpy") and not isinstance(values, pa.Array)
            else values
            if isinstance(values, pa.Array)
            else pa.array(list(values))
        )
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError) as exc:
        raise TransformationError(
            f"{where}: column {field.name!r} cannot be read as {field.dtype.spec}: {exc}"
        ) from exc
    if isinstance(array, pa.ChunkedArray):
        array = array.combine_chunks()
    if len(array) != rows:
        raise TransformationError(
            f"{where}: column {field.name!r} has {len(array)} values for {rows} rows; "
            f"return one value per input row"
        )
    fits = (
        pa.types.is_null(array.type)
        or accepts_arrow_type(field.dtype, array.type)
        or (field.dtype in _FLOATS and pa.types.is_integer(array.type))
    )
    if not fits:
        raise TransformationError(
            f"{where}: column {field.name!r} is {describe_arrow_type(array.type)}, but the "
            f"schema declares {field.dtype.spec}; convert it in the function or change the "
            f"field's dtype"
        )
    try:
        return cast_arrow(array, field.dtype)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError) as exc:
        raise TransformationError(
            f"{where}: column {field.name!r} cannot be read as {field.dtype.spec}: {exc}"
        ) from exc


def _to_pandas(values: Any) -> Any:
    import pyarrow as pa

    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values.to_pandas()
    return values


def _to_list(values: Any) -> list[Any]:
    import pyarrow as pa

    if isinstance(values, pa.Array | pa.ChunkedArray):
        return values.to_pylist()  # type: ignore[no-any-return]
    return values if isinstance(values, list) else list(values)
