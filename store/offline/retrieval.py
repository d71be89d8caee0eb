"""Historical retrieval: a point-in-time correct training set for an entity table.

:func:`build_retrieval_job` checks a request and returns a :class:`RetrievalJob`; nothing
runs until the job is asked for its result. The join returns only feature columns, in
entity-row order; the entity table's own columns are put beside them on the Python side
(Arrow columns, or the caller's DataFrame itself), so labels and ids pass through exactly
as given. ``to_parquet`` instead runs the whole query, entity columns included, inside
the engine and streams it to disk.

On-demand feature views run after the join, once over the whole result
(:mod:`store.transformation`): the features they read are joined like any other (under
hidden names when not requested themselves), and the entity table's columns supply their
request fields.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from store.definitions.feature_service import FeatureService
from store.definitions.feature_view import FeatureView
from store.definitions.field import Field
from store.definitions.on_demand import OnDemandFeatureView
from store.definitions.references import AnyView, RequestedView, resolve_features
from store.errors import RequestError
from store.offline.compiler import point_in_time
from store.offline.compiler.point_in_time import (
    RENDERINGS,
    PointInTimeQuery,
    ViewScan,
    compile_point_in_time,
)
from store.offline.compiler.query import (
    ENTITY_TABLE,
    ROW_COLUMN,
    TIMESTAMP_COLUMN,
    CompiledQuery,
)
from store.offline.engine import DataFrameEngine, OfflineEngine
from store.offline.entity_table import (
    EntityTable,
    check_columns,
    prepare_entity_table,
    read_entity_parquet,
)
from store.offline.sources import hot_key_estimate, time_statistics, view_keys, view_scan
from store.transformation import (
    check_request_fields,
    input_names,
    run_on_demand,
    source_features,
)
from store.types import DType

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

__all__ = ["RetrievalJob", "build_retrieval_job"]

# pandas.DataFrame | pyarrow.Table | str (SQL) | pathlib.Path (Parquet) | pyspark DataFrame
EntityInput = Any


@dataclasses.dataclass(frozen=True, slots=True, kw_only=True)
class RetrievalJob:
    """A training-set request, checked and compiled, ready to run.

    ``to_df()``, ``to_arrow()`` and ``to_parquet(path)`` run it; ``sql`` is the query
    ``to_parquet`` runs (the others run it without the entity table's pass-through columns).
    """

    engine: OfflineEngine
    requested: tuple[RequestedView, ...]
    entities: EntityTable
    scans: tuple[ViewScan, ...]
    full_feature_names: bool
    frame: pd.DataFrame | None = None
    arrow: pa.Table | None = None
    rendering: str
    saver: Callable[[RetrievalJob, str], Any] | None = None
    # The stored views read (on-demand views' sources included) and, per (view, feature)
    # read, the column of the joined result that holds it.
    stored_views: tuple[FeatureView, ...] = ()
    columns_read: tuple[tuple[str, str, str], ...] = ()

    @property
    def feature_refs(self) -> list[str]:
        """The ``view:feature`` references, in output order."""
        return [ref for r in self.requested for ref in r.refs]

    @property
    def feature_views(self) -> list[FeatureView]:
        """The stored feature views the job reads (on-demand views' sources included)."""
        return list(self.stored_views)

    @property
    def requested_views(self) -> list[AnyView]:
        """The views whose features the result holds, on-demand ones included."""
        return [r.view for r in self.requested]

    @property
    def on_demand(self) -> list[RequestedView]:
        return [r for r in self.requested if isinstance(r.view, OnDemandFeatureView)]

    @property
    def sql(self) -> str:
        """The complete query, entity columns included, formatted for reading."""
        return self._compiled(self.entities.columns, pretty=True).text

    def using(self, rendering: str) -> RetrievalJob:
        """The same job rendered another way (a key of ``RENDERINGS`` the engine runs).

        Raises:
            ValueError: an unknown rendering, or one this engine does not run, naming those
                it runs.
        """
        if rendering in RENDERINGS and rendering not in self.engine.renderings:
            raise ValueError(
                f"the {self.engine.dialect!r} engine here does not run the {rendering!r} "
                f"rendering; it runs {', '.join(self.engine.renderings)}"
            )
        job = dataclasses.replace(self, rendering=rendering)
        job._compiled(())  # refuses an unknown rendering, or one the engine cannot run
        return job

    def to_arrow(self) -> pa.Table:
        """Entity columns (event_timestamp in UTC), then the features, one row per entity row."""
        import pyarrow as pa

        features = self._features()
        base = self.entity_table()
        columns = [base.column(n) for n in self.entities.columns]
        columns += [features.column(i) for i in range(features.num_columns)]
        return pa.table(columns, names=[*self.entities.columns, *features.column_names])

    def to_df(self) -> pd.DataFrame:
        """As :meth:`to_arrow`, as pandas. Integer and boolean features keep their type as
        pandas nullable dtypes; maps are dicts, as online (Arrow's default is a list of
        pairs); a DataFrame given as the entity table keeps its dtypes."""
        import pandas as pd
        import pyarrow as pa

        features = self._features().to_pandas(
            types_mapper={
                pa.int32(): pd.Int32Dtype(),
                pa.int64(): pd.Int64Dtype(),
                pa.bool_(): pd.BooleanDtype(),
            }.get,
            # Of repeated keys (Arrow allows them, a dict cannot) the last one wins, warned.
            maps_as_pydicts="lossy",
        )
        if self.frame is not None:
            base = self.frame.reset_index(drop=True)
            times = base[TIMESTAMP_COLUMN]
            if str(getattr(times.dtype, "tz", None)) != "UTC":
                # assign() returns a new frame: the caller's DataFrame is never modified.
                base = base.assign(**{TIMESTAMP_COLUMN: pd.to_datetime(times, utc=True)})
        else:
            base = self.entity_table().select(list(self.entities.columns)).to_pandas()
        result: pd.DataFrame = pd.concat([base, features], axis=1)
        return result

    def save(self, name: str) -> Any:
        """Save the result as a named training set in the registry (see
        ``FeatureStore.save_training_set``); returns the ``TrainingSet``."""
        if self.saver is None:
            raise RequestError("this job was not built by a FeatureStore, so it cannot be saved")
        return self.saver(self, name)

    def to_parquet(self, path: str | Path) -> Path | str:
        """Write the result as Parquet, rows in entity-table order; returns where.

        A local path (``str`` or ``Path``) gets one file, streamed inside the engine (on
        Spark its tasks write parts in parallel, joined into the file in order). A URI
        (``s3a://bucket/sets/x``, ``hdfs://...``, ``file:///...``) on the Spark engine gets
        a folder of parts written by Spark's tasks straight there, in parallel, as
        ``DataFrame.write.parquet`` writes them (read in part-name order they keep the
        rows' order); the folder must not exist yet. With on-demand features the rows are
        computed first (their functions are Python) and then written by Spark.

        Raises:
            RequestError: a URI on an engine that writes local files only (DuckDB), a
                folder that exists already, or one Spark cannot write (the reason named).
        """
        if isinstance(path, str) and _is_uri(path):
            return self._to_parquet_folder(path)
        target = Path(path)
        if self.on_demand:
            import pyarrow.parquet as pq

            target.parent.mkdir(parents=True, exist_ok=True)  # as the engine does
            pq.write_table(self.to_arrow(), target)
            return target
        self.engine.to_parquet(
            self._compiled(self.entities.columns), target, {ENTITY_TABLE: self.entity_table()}
        )
        return target

    def to_spark_df(self) -> Any:
        """The whole result, entity columns included, as a Spark DataFrame (only on the
        Spark engine). It has not run yet, unless the job has on-demand features: their
        functions are Python, so the result is computed here first and handed to Spark.

        Raises:
            RequestError: the engine is not Spark.
        """
        engine = self._dataframe_engine("to_spark_df()", "use to_df(), to_arrow() or to_parquet()")
        if self.on_demand:
            return engine.arrow_to_spark_df(self.to_arrow())
        return engine.to_spark_df(
            self._compiled(self.entities.columns), {ENTITY_TABLE: self.entity_table()}
        )

    def _to_parquet_folder(self, uri: str) -> str:
        engine = self._dataframe_engine(
            f"to_parquet({uri!r}) (a folder written by Spark's tasks)",
            "it writes local files; give to_parquet() a local path",
        )
        if self.on_demand:
            engine.write_parquet_folder(engine.arrow_to_spark_df(self.to_arrow()), uri)
        else:
            engine.to_parquet_folder(
                self._compiled(self.entities.columns), uri, {ENTITY_TABLE: self.entity_table()}
            )
        return uri

    def _dataframe_engine(self, call: str, instead: str) -> DataFrameEngine:
        if not isinstance(self.engine, DataFrameEngine):
            raise RequestError(
                f"{call} needs offline_store type spark; this job runs on "
                f"{self.engine.dialect!r}: {instead}"
            )
        return self.engine

    # --- internals ---------------------------------------------------------------------

    def _compiled(self, entity_columns: Sequence[str], *, pretty: bool = False) -> CompiledQuery:
        query = PointInTimeQuery(
            entity_columns=tuple(entity_columns),
            views=self.scans,
            min_ts_us=self.entities.min_ts_us,
            max_ts_us=self.entities.max_ts_us,
        )
        return compile_point_in_time(
            query, rendering=self.rendering, dialect=self.engine.dialect, pretty=pretty
        )

    def _features(self) -> pa.Table:
        joined = self.engine.to_arrow(self._compiled(()), {ENTITY_TABLE: self.entities.table})
        if not self.on_demand:
            return joined
        return self._with_on_demand(joined)

    def _with_on_demand(self, joined: pa.Table) -> pa.Table:
        """The requested columns, on-demand ones computed over the whole joined result."""
        import pyarrow as pa

        base = self.entity_table()
        given = {n: base.column(n) for n in self.entities.columns if n in base.column_names}
        where = {(view, feature): column for view, feature, column in self.columns_read}
        columns: list[Any] = []
        names: list[str] = []
        for r in self.requested:
            if isinstance(r.view, OnDemandFeatureView):
                inputs = dict(given)
                for view, feature, name in input_names(r.view):
                    inputs[name] = joined.column(where[(view, feature)])
                arrays = run_on_demand(r.view, inputs, joined.num_rows)
                by_name = {f.name: a for f, a in zip(r.view.schema, arrays, strict=True)}
                columns += [by_name[f.name] for f in r.features]
            else:
                columns += [joined.column(o) for o in r.outputs]
            names += r.outputs
        return pa.table(columns, names=names)

    def entity_table(self) -> pa.Table:
        """The whole entity table as Arrow: event_timestamp in UTC, rows numbered."""
        if self.arrow is not None:
            return self.arrow
        import pyarrow as pa

        assert self.frame is not None
        full = pa.Table.from_pandas(self.frame.reset_index(drop=True), preserve_index=False)
        keys: dict[str, tuple[DType, list[str]]] = {
            k: (t, []) for v in self.stored_views for k, t in view_keys(v)
        }
        return prepare_entity_table(full, keys).table


def build_retrieval_job(
    entity_df: EntityInput,
    features: Sequence[str] | FeatureService,
    *,
    lookup_view: Callable[[str], AnyView],
    repo_root: Path,
    engine: OfflineEngine,
    full_feature_names: bool = False,
) -> RetrievalJob:
    """Check a request and compile it; nothing runs yet.

    Raises:
        RequestError: bad references, name clashes, a missing or mistyped entity column,
            an entity query that fails.
        ObjectNotFoundError: an unknown feature view.
        SourceDataError: a view's Parquet files are missing.
    """
    import pandas as pd
    import pyarrow as pa

    frame: pd.DataFrame | None = None
    if isinstance(entity_df, pd.DataFrame):
        frame, columns = entity_df, [str(c) for c in entity_df.columns]
    elif isinstance(entity_df, pa.Table):
        table, columns = entity_df, entity_df.column_names
    elif isinstance(entity_df, Path) or (
        isinstance(entity_df, str) and entity_df.strip().lower().endswith(".parquet")
    ):
        table = read_entity_parquet(Path(entity_df))
        columns = table.column_names
    elif isinstance(entity_df, str):
        table = engine.run_sql(entity_df)
        columns = table.column_names
    elif _is_spark_frame(entity_df):
        # The entity rows are collected (as Arrow) to number them and to check their types.
        table = entity_df.toArrow()
        columns = table.column_names
    else:
        raise RequestError(
            f"entity_df must be a pandas DataFrame, a pyarrow Table, a Parquet path, an SQL "
            f"query string or a Spark DataFrame, got {type(entity_df).__name__}"
        )
    requested = resolve_features(
        features,
        lookup_view,
        full_feature_names=full_feature_names,
        reserved=[c for c in columns if c != ROW_COLUMN],
    )
    reads = _stored_reads(requested, lookup_view)
    for r in requested:
        if isinstance(r.view, OnDemandFeatureView):
            check_request_fields(r.view, columns, "the entity table")
    keys: dict[str, tuple[DType, list[str]]] = {}
    for view, _ in reads.values():
        for key, dtype in view_keys(view):
            keys.setdefault(key, (dtype, []))[1].append(view.name)
    if frame is not None:
        check_columns(columns, keys)
        needed = [TIMESTAMP_COLUMN, *keys]
        try:
            table = pa.Table.from_pandas(frame[needed].reset_index(drop=True), preserve_index=False)
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise RequestError(f"entity table columns {needed} cannot be read: {exc}") from exc
        entities = prepare_entity_table(table, keys)
        entities = dataclasses.replace(entities, columns=tuple(columns))
        arrow = None
    else:
        entities = prepare_entity_table(table, keys)
        arrow = entities.table
    scans = tuple(
        _choose_plan(view_scan(view, repo_root, list(chosen.items())), entities.table, engine)
        for view, chosen in reads.values()
    )
    return RetrievalJob(
        engine=engine,
        requested=tuple(requested),
        entities=entities,
        scans=scans,
        full_feature_names=full_feature_names,
        frame=frame,
        arrow=arrow,
        rendering=engine.renderings[0],
        stored_views=tuple(view for view, _ in reads.values()),
        columns_read=tuple(
            (view.name, field.name, column)
            for view, chosen in reads.values()
            for field, column in chosen.items()
        ),
    )


def _stored_reads(
    requested: Sequence[RequestedView], lookup_view: Callable[[str], AnyView]
) -> dict[str, tuple[FeatureView, dict[Field, str]]]:
    """Per stored view to join: the features to read and the column each lands in. The
    requested ones keep their output names; those only on-demand views read are added
    under hidden names (dropped from the result)."""
    reads: dict[str, tuple[FeatureView, dict[Field, str]]] = {}
    for r in requested:
        if isinstance(r.view, FeatureView):
            chosen = reads.setdefault(r.view.name, (r.view, {}))[1]
            chosen.update(zip(r.features, r.outputs, strict=True))
    for r in requested:
        if isinstance(r.view, OnDemandFeatureView):
            for view, field in source_features(r.view, lookup_view):
                view_reads = reads.setdefault(view.name, (view, {}))[1]
                view_reads.setdefault(field, f"__silage_in__{view.name}__{field.name}")
    return reads


def _is_uri(path: str) -> bool:
    """``scheme:...`` as RFC 3986 spells a scheme (``s3a://``, ``file:/tmp/x``), of two
    characters at least, so ``C:/x`` on Windows stays a path."""
    return re.match(r"[A-Za-z][A-Za-z0-9+.-]+:", path) is not None


def _is_spark_frame(value: object) -> bool:
    """A pyspark DataFrame (classic or Connect), recognized without importing pyspark."""
    kind = type(value)
    return kind.__name__ == "DataFrame" and kind.__module__.startswith("pyspark.")


# Below this many source rows per entity row (a ttl window of one key, on average, counted
# twice for the neighbouring bucket), a bucketed hash join beats the ASOF join's sort.
BUCKETED_MAX_ROWS = 8.0


def _choose_plan(scan: ViewScan, entities: pa.Table, engine: OfflineEngine) -> ViewScan:
    """Use the bucketed join for a view with a ttl when its source holds few rows per key per
    ttl window. The estimate comes from Parquet footers and the entity table: rows x 2 ttl /
    (time span x distinct entity keys). It assumes rows spread over keys; a source whose rows
    crowd into a few keys that many entity rows ask for is slower bucketed (never wrong).

    Without a ttl, for an engine that runs the carry rendering (Spark), the hot keys are
    estimated from the files (:func:`hot_key_estimate`) instead of counted by the query:
    the count costs a pass over the source's keys (about 5 s of 27 s at 10M rows), the
    estimate reads footers, or one key column of a few row groups."""
    if not scan.ttl_seconds:
        if "carry" not in engine.renderings or not scan.files:
            return scan
        hot = hot_key_estimate(
            [Path(f) for f in scan.files],
            [scan.source_column(k) for k, _ in scan.keys],
            point_in_time.HOT_KEY_ROWS,
        )
        return dataclasses.replace(scan, hot_keys=hot)
    import pyarrow.compute as pc

    stats = time_statistics(
        [Path(f) for f in scan.files], scan.source_column(scan.timestamp_column)
    )
    if stats is None:
        return scan
    rows, low, high = stats
    ttl_us = scan.ttl_seconds * 1_000_000
    first_key = scan.keys[0][0]
    keys = max(int(pc.count_distinct(entities.column(first_key)).as_py()), 1)
    per_entity_row = rows * 2 * ttl_us / (max(high - low, ttl_us) * keys)
    return dataclasses.replace(scan, bucketed=per_entity_row <= BUCKETED_MAX_ROWS)
