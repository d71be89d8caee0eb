"""The ``FeatureStore`` facade: one repository's registry and stores behind a small API.

It delegates, following the data: loading, plan and apply to :mod:`store.repo`; training
sets to :mod:`store.offline` (run by the offline engine ``offline_store.type`` names);
materialization, online reads and pushes to :mod:`store.online` (stored by the backend
``online_store.type`` names); predictions to :mod:`store.serving`; the catalog, models
and deployments to :mod:`registry`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path
from typing import Any, TypeVar

from registry import (
    AlertEvent,
    CatalogObject,
    ChangeWatcher,
    DeploymentRevision,
    Experiment,
    Kind,
    ProjectRegistry,
    Registry,
    RetrainingRun,
    TrainingSetRecord,
    ValidationRun,
    WindowStatistics,
)
from registry.storage import FileStore
from store.definitions.alerts import AlertRule
from store.definitions.data_source import DATA_SOURCE_TYPES, DataSource
from store.definitions.entity import Entity
from store.definitions.feature_service import FeatureService
from store.definitions.feature_view import FeatureView
from store.definitions.on_demand import OnDemandFeatureView
from store.definitions.push_source import PushMode
from store.definitions.references import AnyView
from store.definitions.retraining import RetrainingPolicy
from store.definitions.source import FileSource
from store.epoch import as_utc, parse_duration
from store.errors import ConfigError, ObjectNotFoundError, RequestError
from store.experiments.analysis import ExperimentReport
from store.experiments.ranking import InterleavingReport, Ranking
from store.experiments.retraining import Retrainer
from store.experiments.runner import ContinualLearning, ExperimentRunner, PromotionGate
from store.monitoring.drift_runs import DriftReference, DriftReport
from store.monitoring.monitor import Monitor, OutcomeReceipt
from store.monitoring.quality import QualityReport
from store.monitoring.report import FORMATS, render
from store.monitoring.skew import SkewReport, check_logged_skew
from store.monitoring.validation import ValidationReport
from store.offline.append import append_to_source
from store.offline.engine import OfflineEngine, SessionEngine
from store.offline.retrieval import RetrievalJob, build_retrieval_job
from store.offline.training_set import TrainingSet, save_training_set
from store.online.backend import OnlineBackend
from store.online.layout import TableLayout, layout_of
from store.online.materialize import (
    MaterializedView,
    ProgressCallback,
    incremental_start,
    materialize_views,
)
from store.online.read import OnlineReader, OnlineResponse
from store.online.stored_on_demand import reading, store_on_demand
from store.online.write import pushed_table, rows_for_online
from store.repo.apply import (
    apply_contents,
    contents_for_objects,
    definition_from_catalog,
    plan_contents,
    prepare,
)
from store.repo.config import RepoConfig, load_config
from store.repo.loader import Definition, RepoContents, load_repo
from store.repo.plan import Plan
from store.serving.feature_log import LOG_TIMESTAMP, FeatureLogger
from store.serving.predict import Predictor
from store.serving.prediction_log import PredictionLog

# TrainingSet: what save/get_training_set return, for code that names the type.
__all__ = ["FeatureStore", "TrainingSet"]

T = TypeVar("T")


class FeatureStore:
    """A feature repository's store: declare, plan, apply, list.

    Args:
        repo_path: the folder holding ``feature_store.yaml``; relative paths in it, and in
            the sources, resolve against this folder.
        config: an already loaded configuration, instead of reading ``feature_store.yaml``.

    Example::

        store = FeatureStore(repo_path="feature_repo")
        print(store.plan().render())
        store.apply()
        [view.name for view in store.list_feature_views()]
    """

    def __init__(
        self, repo_path: str | Path = ".", config: RepoConfig | None = None, *, spark: Any = None
    ) -> None:
        self.config = config if config is not None else load_config(Path(repo_path))
        # A Spark session the caller owns, for `offline_store: {type: spark}`.
        self._spark = spark
        self.repo_path = self.config.repo_path
        self.project = self.config.project
        # The catalog as last read: see _catalog.
        self._catalog_cache: dict[tuple[Kind, str], CatalogObject] | None = None

    @cached_property
    def registry(self) -> Registry:
        """The registry database, its schema created when new and checked when not."""
        options = self.config.registry_engine_options
        return Registry(
            self.config.registry_url, engine_options=dict(options.values) if options else None
        )

    @cached_property
    def online_store(self) -> OnlineBackend:
        """The online backend ``online_store.type`` names (SQLite by default)."""
        return self.config.online_backend()

    def close(self) -> None:
        """Write buffered feature logs and release database connections.

        Raises:
            FeatureLogError: buffered feature-log rows could not be written (everything
                else is closed all the same).
        """
        try:
            if "_feature_logger" in self.__dict__:
                self._feature_logger.close()
        finally:
            if "registry" in self.__dict__:
                self.registry.close()
            if "online_store" in self.__dict__:
                self.online_store.close()
            if "_prediction_log" in self.__dict__:
                self._prediction_log.close()

    def __enter__(self) -> FeatureStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- declare and apply -----------------------------------------------------------------

    def load_repo(self) -> RepoContents:
        """Import the repository's files; check definitions against each other and their data."""
        return prepare(load_repo(self.repo_path), self.repo_path, self.offline_engine)

    def plan(self) -> Plan:
        """What ``apply()`` would change, object by object and field by field."""
        return plan_contents(
            self.project, self.load_repo(), self.registry, self.online_store, delete_missing=True
        )

    def apply(self, objects: Sequence[Definition] | None = None) -> Plan:
        """Record definitions in the registry and create their online tables, all or nothing.

        Args:
            objects: ``None`` applies the whole repository declaratively: it becomes the
                truth and objects it no longer declares are deleted. A list upserts just those
                objects (and the entities and source their views use), deleting nothing.

        Returns:
            What was changed.
        """
        if objects is None:
            contents, delete_missing = self.load_repo(), True
        else:
            current = self.registry.catalog.objects(self.project)
            contents = prepare(
                contents_for_objects(objects, current), self.repo_path, self.offline_engine
            )
            delete_missing = False
        try:
            return apply_contents(
                self.project,
                contents,
                self.registry,
                self.online_store,
                delete_missing=delete_missing,
            )
        finally:
            self.refresh_registry()  # this store's own apply is seen at once

    def teardown(self) -> Plan:
        """Delete the project's catalog objects and drop its online tables.

        Feature view versions stay in the registry, as trained models may refer to them.
        """
        try:
            return apply_contents(
                self.project, RepoContents(), self.registry, self.online_store, delete_missing=True
            )
        finally:
            self.refresh_registry()

    # --- training sets ---------------------------------------------------------------------

    @cached_property
    def offline_engine(self) -> OfflineEngine:
        """The offline engine ``offline_store.type`` names (DuckDB by default), on the
        Spark session given to the constructor, if any."""
        engine = self.config.offline_engine()
        if self._spark is None:
            return engine
        if not isinstance(engine, SessionEngine):
            raise ConfigError(
                f"a Spark session was given, but offline_store type is "
                f"{self.config.offline_store.type!r}; set offline_store: {{type: spark}}",
                path=self.config.offline_store.config_path,
            )
        return engine.with_session(self._spark)

    def get_historical_features(
        self,
        entity_df: Any,
        features: Sequence[str] | FeatureService,
        full_feature_names: bool = False,
    ) -> RetrievalJob:
        """A point-in-time correct training set: for each entity row, each feature's value as
        of the row's ``event_timestamp`` (never later), within its view's ttl.

        Args:
            entity_df: a pandas DataFrame, a pyarrow Table, a Parquet path, or an SQL query
                (run by the offline engine). It holds the join keys of every requested view
                and an ``event_timestamp`` column; other columns pass through unchanged.
            features: ``"view:feature"`` references or a FeatureService. Views come from the
                registry, so only the registry and the data are needed, not the repo's files.
            full_feature_names: name columns ``view__feature``.

        Returns:
            A job: ``to_df()``, ``to_arrow()``, ``to_parquet(path)``, ``sql``.

        Example::

            job = store.get_historical_features(
                entity_df=trips, features=["driver_hourly_stats:conv_rate"]
            )
            training = job.to_df()
        """
        job = build_retrieval_job(
            entity_df,
            features,
            lookup_view=self._lookup_view,
            repo_root=self.repo_path,
            engine=self.offline_engine,
            full_feature_names=full_feature_names,
        )
        return dataclasses.replace(job, saver=self.save_training_set)

    def save_training_set(self, job: RetrievalJob, name: str) -> TrainingSet:
        """Write a job's result to the artifact store (``artifact_store:``, where model
        artifacts go) and record it in the registry with its fingerprint, data sha256 and
        size, schema, statistics and feature-view versions; any checkout sharing the
        registry and the artifact store can then read it. An identical save returns the
        existing set.

        Views that declare expectations are checked over the source rows the set was built
        from (the entity time range, reaching back a ttl); the runs are recorded with the
        set, and a failure in a view whose policy is ``reject`` stops the save.
        """
        validations = self.monitor.before_save(job)
        return save_training_set(
            job,
            name,
            project=self.project,
            registry=self.registry,
            files=self.artifact_store,
            repo_root=self.repo_path,
            validations=validations,
        )

    def get_training_set(self, name: str) -> TrainingSet:
        """A saved training set; ``.to_df()``/``.to_arrow()`` fetch it from the artifact store
        (or this checkout's verified cache) and check its sha256 and size.

        Raises:
            RegistryNotFoundError: no training set of that name.
        """
        record = self.registry.training_sets.get(self.project, name)
        return TrainingSet(record, self.artifact_store, self.repo_path)

    def list_training_sets(self) -> list[TrainingSet]:
        """Every saved training set of the project, oldest first (reads no data)."""
        return [
            TrainingSet(r, self.artifact_store, self.repo_path)
            for r in self.registry.training_sets.list(self.project)
        ]

    @cached_property
    def model_registry(self) -> ProjectRegistry:
        """The project's models, cards, deployments and lineage (see ``registry.project``)."""
        return self.registry.project(self.project, self.artifact_store)

    @cached_property
    def artifact_store(self) -> FileStore:
        """Where model artifacts and saved training sets are kept (``artifact_store:`` in
        feature_store.yaml)."""
        options = self.config.artifact_storage_options
        return self.registry.file_store(
            self.config.artifact_uri or self.config.artifact_path,
            base=self.repo_path,
            storage_options=dict(options.values) if options else None,
        )

    # --- the online store --------------------------------------------------------------------

    def materialize(
        self,
        start_date: datetime,
        end_date: datetime,
        feature_views: Sequence[str] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> list[MaterializedView]:
        """Load each online view's newest row per entity with an event time in
        ``[start_date, end_date]`` into the online store (naive times mean UTC).

        Each view's load is all or nothing; a row replaces a stored one only if newer.
        """
        start, end = as_utc(start_date, "start_date"), as_utc(end_date, "end_date")
        if end < start:
            raise RequestError(f"end_date {end} is before start_date {start}")
        views = self._online_views(feature_views)
        return self._materialize(views, [(start, end)] * len(views), on_progress)

    def materialize_incremental(
        self,
        end_date: datetime,
        feature_views: Sequence[str] | None = None,
        on_progress: ProgressCallback | None = None,
    ) -> list[MaterializedView]:
        """Materialize each online view from where it last stopped up to ``end_date``; a view
        never materialized starts at ``end_date`` minus its ttl, or at its first source row."""
        end = as_utc(end_date, "end_date")
        chosen, windows = [], []
        for view in self._online_views(feature_views):
            start = incremental_start(
                view,
                end,
                project=self.project,
                registry=self.registry,
                repo_root=self.repo_path,
                engine=self.offline_engine,
            )
            if start is not None and start <= end:
                chosen.append(view)
                windows.append((start, end))
        return self._materialize(chosen, windows, on_progress)

    def get_online_features(
        self,
        features: Sequence[str] | FeatureService,
        entity_rows: Sequence[Mapping[str, Any]] | Mapping[str, Sequence[Any]],
        full_feature_names: bool = False,
        *,
        request_id: str | None = None,
    ) -> OnlineResponse:
        """The newest materialized values for some entities, as Feast returns them.

        Args:
            features: ``"view:feature"`` references or a FeatureService.
            entity_rows: ``[{"driver_id": 1001}, ...]`` or ``{"driver_id": [1001, ...]}``.
            full_feature_names: name values ``view__feature``.
            request_id: the id a service with a ``logging_config`` logs the request under
                (and samples it by); default a new random id.

        Returns:
            A response: ``to_dict()``, ``to_df()``, and per value ``statuses`` and
            ``event_timestamps``. Values older than their view's ttl are None
            (``OUTSIDE_MAX_AGE``) unless ``online_store: {enforce_ttl: false}``. A feature
            service declared with a ``logging_config`` has what it served logged
            (sampled; written in the background): see :meth:`read_feature_logs`.
        """
        self._follow_registry()
        response = self._online_reader.read(
            features, entity_rows, full_feature_names=full_feature_names
        )
        if isinstance(features, FeatureService) and features.logging_config is not None:
            self._feature_logger.log(features, response, request_id)
        return response

    def read_feature_logs(
        self,
        feature_service: str | FeatureService,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> Any:
        """What a logged feature service served, as one pandas DataFrame, oldest first: the
        entity columns and request values given, each feature's value, ``__status`` and
        ``__timestamp``, ``__log_timestamp`` and ``__request_id``; served in
        ``[start_date, end_date]`` (naive means UTC; None: unbounded). The service's rows
        still buffered are written first.

        Raises:
            RequestError: the service declares no ``logging_config``.
            FeatureLogError: its destination cannot be written or read; names it.
        """
        service = (
            feature_service
            if isinstance(feature_service, FeatureService)
            else self.get_feature_service(feature_service)
        )
        return self._feature_logger.read(
            service,
            None if start_date is None else as_utc(start_date, "start_date"),
            None if end_date is None else as_utc(end_date, "end_date"),
        )

    def flush_feature_logs(self) -> None:
        """Write the feature-service log rows still buffered in memory now.

        Raises:
            FeatureLogError: a destination cannot be written; its rows stay buffered.
        """
        if "_feature_logger" in self.__dict__:
            self._feature_logger.flush()

    @cached_property
    def _feature_logger(self) -> FeatureLogger:
        # An artifact store in S3 lends its credentials and endpoint to s3:// log folders.
        options = self.config.artifact_storage_options
        shared = self.config.artifact_uri.startswith("s3://") and options is not None
        return FeatureLogger(
            self.repo_path, storage_options=dict(options.values) if shared and options else None
        )

    def write_to_online_store(
        self,
        feature_view: str | FeatureView,
        df: Any,
        allow_registry_cache: bool = True,
        transform_on_write: bool = True,
    ) -> int:
        """Upsert fresh rows (a DataFrame or Arrow table with the join keys, features and the
        source's timestamp field) into a view's online table, newest wins. Returns the row
        count written. On-demand views that store their outputs and read this view are
        computed for the rows' entities, unless ``transform_on_write=False``.
        ``allow_registry_cache`` is accepted for Feast's signature."""
        del allow_registry_cache
        name = feature_view.name if isinstance(feature_view, FeatureView) else feature_view
        view = self.get_feature_view(name)
        return self._push([view], df, PushMode.ONLINE, f"{name!r}", transform_on_write)

    def write_to_offline_store(
        self, feature_view: str | FeatureView, df: Any, allow_registry_cache: bool = True
    ) -> int:
        """Append rows to a view's source, atomically, as ``push(..., to="offline")`` does
        (Feast's call). Returns the row count written."""
        del allow_registry_cache
        name = feature_view.name if isinstance(feature_view, FeatureView) else feature_view
        return self._push([self.get_feature_view(name)], df, PushMode.OFFLINE, f"{name!r}")

    def push(
        self,
        push_source_name: str | FeatureView,
        df: Any,
        allow_registry_cache: bool = True,
        to: PushMode | str = PushMode.ONLINE,
        transform_on_write: bool = True,
    ) -> int:
        """Push fresh rows to every feature view declared on a push source (Feast's call).

        Args:
            push_source_name: a :class:`PushSource`'s name. A feature view's name (or the
                view) pushes to that view alone, as earlier Silage versions did.
            df: a pandas DataFrame or Arrow table with each view's join keys, features and
                its source's timestamp field (the created-timestamp column is optional).
            allow_registry_cache: accepted for Feast's signature; definitions are always
                read through the registry's change counter, so they are never stale.
            to: ``"online"`` (default), ``"offline"`` or ``"online_and_offline"``, or a
                ``PushMode`` (Silage's or Feast's).
            transform_on_write: compute the on-demand views that store their outputs
                (``write_to_online_store=True``) over the pushed entities; ``False`` leaves
                their stored outputs as they are.

        Online, each row replaces the stored one of its entity only if newer (by event
        time, then created time), as materialization does. Offline, the rows become one
        new Parquet file in the batch source's folder (or a new version of a one-file
        source), written atomically. Both: offline first, so a failed offline write
        leaves the online store untouched. The rows are checked against every view (and
        its expectations) before anything is written.

        Returns:
            The number of rows pushed.

        Raises:
            ObjectNotFoundError: no push source or feature view of that name.
            RequestError: the rows do not fit a view, or no view uses the push source.

        Example::

            store.push("driver_stats_push", fresh_rows, to="online_and_offline")
        """
        del allow_registry_cache
        mode = PushMode.parse(to)
        if isinstance(push_source_name, FeatureView):
            views = [self.get_feature_view(push_source_name.name)]
            label = f"{push_source_name.name!r}"
        else:
            views, label = self._views_pushed_to(push_source_name)
        return self._push(views, df, mode, label, transform_on_write)

    def views_pushed_to(self, push_source_name: str) -> list[FeatureView]:
        """The feature views a push of ``push_source_name`` reaches (a push source's views,
        or the feature view of that name)."""
        return self._views_pushed_to(push_source_name)[0]

    def _views_pushed_to(self, name: str) -> tuple[list[FeatureView], str]:
        """The views a push of ``name`` reaches, and how errors name the push."""
        source = self._catalog().get(("data_source", name))
        if source is None or source.spec.get("type") != "push":
            if ("feature_view", name) in self._catalog():
                return [self.get_feature_view(name)], f"{name!r}"
            known = [
                o.name for o in self.catalog_objects("data_source") if o.spec.get("type") == "push"
            ]
            raise ObjectNotFoundError("push source", name, known)
        views = [
            v
            for v in self.list_feature_views()
            if v.push_source is not None and v.push_source.name == name
        ]
        if not views:
            raise RequestError(
                f"push source {name!r} feeds no feature view; declare one with "
                f"FeatureView(..., source={name}) and apply"
            )
        return views, f"push source {name!r}"

    def _push(
        self,
        views: Sequence[FeatureView],
        df: Any,
        mode: PushMode,
        label: str,
        transform_on_write: bool = True,
    ) -> int:
        """Check ``df`` against every view, then write offline, then online (and compute
        the stored on-demand views reading them, with ``transform_on_write``)."""
        online = mode is not PushMode.OFFLINE
        if online and not any(v.online for v in views):
            names = ", ".join(v.name for v in views)
            raise RequestError(
                f"{label}: feature view(s) {names} are not online; set online=True and apply, "
                f"or push with to='offline'"
            )
        table = pushed_table(views[0], df)
        batches: list[tuple[FeatureView, TableLayout, Any]] = []
        for view in views:
            layout = layout_of(self.project, view)
            try:
                batches.append((view, layout, rows_for_online(view, layout, table)))
            except RequestError as exc:
                if label.startswith("push source"):  # say which push the view's error is of
                    raise RequestError(f"{label}: {exc}") from exc
                raise
            if view.expectations:
                self.monitor.before_push(view, table)
        if mode is not PushMode.ONLINE:
            for source in {v.source.name: v.source for v in views}.values():
                if not isinstance(source, FileSource):
                    raise RequestError(
                        f"{label}: offline pushes append Parquet files to a FileSource, and "
                        f"source {source.name!r} is a {type(source).__name__}; write its rows "
                        f"with Spark, or push with to='online'"
                    )
                append_to_source(source, table, self.repo_path, label=label)
        if online:
            for view, layout, batch in batches:
                if view.online:
                    self.online_store.write(layout, [batch])
                    if transform_on_write:
                        self._compute_stored_on_demand(view, table)
            self._online_reader.clear_cache()
        return int(table.num_rows)

    def _compute_stored_on_demand(self, view: FeatureView, keys: Any) -> None:
        """After rows of ``view`` were written online: compute the on-demand views that
        store their outputs and read ``view``, for the entities of ``keys`` (an Arrow table
        holding their join keys)."""
        for odfv in reading(self.list_on_demand_feature_views(), view.name):
            sources = {
                s.view.name: self.get_feature_view(s.view.name) for s in odfv.feature_sources
            }
            store_on_demand(
                odfv, keys, project=self.project, online=self.online_store, sources=sources
            )

    def refresh_registry(self) -> None:
        """Forget cached definitions, so the next lookup reads the registry again."""
        self._catalog_cache = None
        self._online_reader.clear_cache()

    def poll_registry_every(self, seconds: float) -> None:
        """Look for changes made by other processes at most every ``seconds`` (0: before
        every lookup), instead of the repository's ``registry: {poll_seconds: N}``."""
        self._registry_changes = self.registry.watch(interval_seconds=seconds)

    def _follow_registry(self) -> None:
        """The one place this store notices registry changes made elsewhere (an apply from
        the CLI, another serving process): the change counter is polled at most once per
        ``poll_seconds``, and when it moved, cached definitions are dropped."""
        if self._registry_changes.changed():
            self.refresh_registry()

    def predict(
        self,
        model_name: str,
        entity_rows: Sequence[Mapping[str, Any]],
        environment: str = "production",
        missing: str = "error",
    ) -> list[dict[str, Any]]:
        """Predict for entities through the model's live deployment in ``environment``.

        Each row is routed by the traffic shares (stably, by a hash of its entity key), gets
        exactly the features its serving version was trained on from the online store, and
        comes back with ``prediction``, ``model_version`` and ``role``. Shadows run too and
        are only logged. A missing feature value is an error naming the entity and feature
        (``missing="model"`` hands NaN to the model instead). Every prediction is logged;
        :meth:`prediction_log` reads the log back.
        """
        return self._predictor.predict(model_name, entity_rows, environment, missing=missing)

    def prediction_log(self) -> Any:
        """Every logged prediction as a pandas DataFrame, oldest first."""
        return self._prediction_log.read()

    def prediction_counts(self, model: str, environment: str) -> dict[int, tuple[int, int]]:
        """Per version of ``model`` live in ``environment`` at some point: how many
        predictions it served and how many of their outcomes arrived (from the log's running
        sums, not its rows)."""
        counts: dict[int, tuple[int, int]] = {}
        for arm in self._prediction_log.arm_sums(model, "outcome", environment=environment):
            served, outcomes = counts.get(arm.version, (0, 0))
            counts[arm.version] = (served + arm.predictions, outcomes + arm.outcomes)
        return counts

    @cached_property
    def _prediction_log(self) -> PredictionLog:
        return PredictionLog(self.config.prediction_log_url)

    @cached_property
    def _predictor(self) -> Predictor:
        def online(
            refs: Sequence[str], rows: Sequence[Mapping[str, Any]], full: bool
        ) -> OnlineResponse:
            return self.get_online_features(list(refs), rows, full_feature_names=full)

        return Predictor(
            self.model_registry,
            online,
            self._prediction_log,
            join_keys=lambda: {e.join_key for e in self.list_entities()},
            trusted_types=self.config.trusted_types,
        )

    @cached_property
    def _registry_changes(self) -> ChangeWatcher:
        return self.registry.watch(interval_seconds=self.config.registry_poll_seconds)

    @cached_property
    def _online_reader(self) -> OnlineReader:
        def is_loaded(view: AnyView, layout: TableLayout) -> bool:
            intervals = self.registry.catalog.materialization_intervals(self.project, view.name)
            return bool(intervals) or self.online_store.has_rows(layout)

        return OnlineReader(
            project=self.project,
            online=self.online_store,
            lookup_view=self._lookup_view,
            is_loaded=is_loaded,
            enforce_ttl=self.config.online_enforce_ttl,
            cache_seconds=self.config.registry_cache_seconds,
        )

    def _online_views(self, names: Sequence[str] | None) -> list[FeatureView]:
        if names is None:
            return [v for v in self.list_feature_views() if v.online]
        views = [self.get_feature_view(n) for n in names]
        offline = [v.name for v in views if not v.online]
        if offline:
            raise RequestError(
                f"feature view(s) {', '.join(offline)} are not online; set online=True and apply"
            )
        return views

    def _materialize(
        self,
        views: Sequence[FeatureView],
        windows: Sequence[tuple[datetime, datetime]],
        on_progress: ProgressCallback | None,
    ) -> list[MaterializedView]:
        done = materialize_views(
            views,
            windows,
            project=self.project,
            registry=self.registry,
            online=self.online_store,
            engine=self.offline_engine,
            repo_root=self.repo_path,
            on_progress=on_progress,
            before_load=self.monitor.before_load,
            after_load=self._compute_stored_on_demand
            if any(v.write_to_online_store for v in self.list_on_demand_feature_views())
            else None,
        )
        self._online_reader.clear_cache()
        return done

    # --- monitoring ------------------------------------------------------------------------

    @cached_property
    def monitor(self) -> Monitor:
        """Checks of data against expectations, and statistics per window (see
        :mod:`store.monitoring`)."""

        def training_set(name: str) -> tuple[TrainingSetRecord, Path]:
            saved = self.get_training_set(name)
            return saved.record, saved.check()

        return Monitor(
            project=self.project,
            registry=self.registry,
            models=self.model_registry,
            engine=self.offline_engine,
            repo_root=self.repo_path,
            log=self._prediction_log,
            lookup_view=self.get_feature_view,
            lookup_any_view=self._lookup_view,
            lookup_training_set=training_set,
            trusted_types=self.config.trusted_types,
        )

    def validate(
        self,
        feature_view: str,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> ValidationReport:
        """Check a view's source rows with event times in ``[start_date, end_date]`` (either
        may be None: unbounded; naive means UTC) against its expectations, and record the
        run. Nothing is stopped: the report says what passed.

        Raises:
            RequestError: the view declares no expectations.
        """
        return self.monitor.validate(
            feature_view,
            None if start_date is None else as_utc(start_date, "start_date"),
            None if end_date is None else as_utc(end_date, "end_date"),
        )

    def validation_runs(self, feature_view: str | None = None) -> list[ValidationRun]:
        """Recorded validation runs, newest first (of one view, or of every view)."""
        return self.monitor.validation_runs(feature_view)

    def compute_statistics(
        self,
        *,
        feature_view: str | None = None,
        training_set: str | None = None,
        model: str | None = None,
        window: str | timedelta = "1d",
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        environment: str | None = None,
    ) -> list[WindowStatistics]:
        """Statistics per feature per window (``"1h"``, ``"1d"``, ``"15m"``...: windows aligned
        to the epoch in UTC) of one subject, recorded in the registry as time series:

        - ``feature_view``: its source rows by event time in ``[start_date, end_date)``;
        - ``training_set``: a saved set's feature columns, by entity-row time;
        - ``model``: the features it was served and its predictions, by prediction time
          (of one ``environment``, or all).

        Per numeric feature: count, nulls, min, max, mean, variance, the 5th to 95th
        percentiles, skewness, kurtosis and a histogram; per other feature the top values.
        """
        return self.monitor.statistics(
            feature_view=feature_view,
            training_set=training_set,
            model=model,
            window=parse_duration(window),
            start=None if start_date is None else as_utc(start_date, "start_date"),
            end=None if end_date is None else as_utc(end_date, "end_date"),
            environment=environment,
        )

    def drift(
        self,
        model: str,
        environment: str = "production",
        *,
        window: str | timedelta = "1d",
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        reference: DriftReference | None = None,
        features: Sequence[str] | None = None,
    ) -> DriftReport:
        """Whether the features a model is served, and its predictions, still look like its
        reference, window by window (``"1h"``, ``"1d"``...), from the predictions log.

        The reference is by default the training set of the version serving in
        ``environment``; or ``DriftReference.training_set(name)``,
        ``DriftReference.feature_view(name, start, end)`` or
        ``DriftReference.predictions(model, start, end)``. It is profiled once and kept in the
        registry. Each feature gets KS, PSI and Wasserstein (numeric) or chi-square and
        L-infinity (categorical) tests; a feature drifts when its test is significant after
        Holm's correction across the run *and* an effect passes its threshold (see
        :mod:`store.monitoring.drift`). Results are recorded per window.
        """
        return self.monitor.drift(
            model,
            environment=environment,
            window=parse_duration(window),
            start=None if start_date is None else as_utc(start_date, "start_date"),
            end=None if end_date is None else as_utc(end_date, "end_date"),
            reference=reference,
            features=features,
        )

    def skew(
        self,
        model: str,
        environment: str | None = "production",
        *,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> SkewReport:
        """Training-serving skew: for each logged prediction of ``model`` (in
        ``environment``; None: all), the features its version was trained on computed again
        by a point-in-time join at the prediction's time, compared with what was served. Per
        feature: mismatches by kind (missing online, missing offline, different), the size
        of the differences, and examples."""
        return self.monitor.skew(
            model,
            environment=environment,
            start=None if start_date is None else as_utc(start_date, "start_date"),
            end=None if end_date is None else as_utc(end_date, "end_date"),
        )

    def service_skew(
        self,
        feature_service: str | FeatureService,
        *,
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> SkewReport:
        """Training-serving skew from a feature service's log (``logging_config``): each
        logged row's features computed again by a point-in-time join at the time it was
        served, with the request values it was served with, and compared with what was
        served; per feature, mismatches by kind, their size and examples."""
        service = (
            feature_service
            if isinstance(feature_service, FeatureService)
            else self.get_feature_service(feature_service)
        )
        logged = self.read_feature_logs(service, start_date, end_date)
        import pyarrow as pa

        return check_logged_skew(
            service,
            pa.Table.from_pandas(logged, preserve_index=False),
            engine=self.offline_engine,
            repo_root=self.repo_path,
            lookup_view=self._lookup_view,
            served_at=LOG_TIMESTAMP,
        )

    def record_outcomes(
        self,
        prediction_ids: Sequence[str],
        values: Sequence[Any],
        at: datetime | Sequence[datetime] | None = None,
    ) -> OutcomeReceipt:
        """Record the ground truth of predictions, by the ``prediction_id`` that
        :meth:`predict` returned, observed ``at`` (one time, or one per id; default now).
        Late, partial or repeated outcomes are fine: a repeat replaces the earlier one.
        Returns how many were kept and the ids no logged prediction has."""
        when: datetime | list[datetime] = (
            datetime.now(UTC)
            if at is None
            else as_utc(at, "at")
            if isinstance(at, datetime)
            else [as_utc(t, "at") for t in at]
        )
        return self.monitor.record_outcomes(list(prediction_ids), list(values), when)

    def live_quality(
        self,
        model: str,
        environment: str = "production",
        *,
        window: str | timedelta = "1d",
        start_date: datetime | None = None,
        end_date: datetime | None = None,
    ) -> QualityReport:
        """Per deployment target and window, the metrics the model earns on the outcomes
        received (accuracy, AUC, log loss and calibration error for classifiers; MAE and RMSE
        for regressors), with counts, the share with an outcome, guardrails (latency,
        missing features) and the metrics registered for each version."""
        return self.monitor.quality(
            model,
            environment=environment,
            window=parse_duration(window),
            start=None if start_date is None else as_utc(start_date, "start_date"),
            end=None if end_date is None else as_utc(end_date, "end_date"),
        )

    def monitoring_report(
        self,
        model: str,
        environment: str = "production",
        *,
        window: str | timedelta = "1d",
        start_date: datetime | None = None,
        end_date: datetime | None = None,
        format: str = "html",
    ) -> str:
        """One page on a served model: per feature and prediction column the reference's and
        the current window's histograms side by side, the drift tests and verdicts of every
        window, the validation runs of the views it was trained on, its alerts and its live
        quality; as ``"html"`` (self-contained, inline SVG), ``"markdown"`` or ``"json"``.
        The drift run is recorded like :meth:`drift`'s."""
        if format not in FORMATS:
            raise RequestError(f"report format {format!r}; choose one of {', '.join(FORMATS)}")
        context = self.monitor.report(
            model,
            environment=environment,
            window=parse_duration(window),
            start=None if start_date is None else as_utc(start_date, "start_date"),
            end=None if end_date is None else as_utc(end_date, "end_date"),
        )
        return render(context, format)

    def add_alert_rule(self, rule: AlertRule) -> None:
        """Add (or replace) an alert rule in the registry; rules declared in the repository
        need no adding."""
        if not isinstance(rule, AlertRule):
            raise RequestError(f"add_alert_rule takes an AlertRule, got {rule!r}")
        self.registry.monitoring.save_alert_rule(self.project, rule.name, rule.to_spec())

    def alert_rules(self) -> list[AlertRule]:
        """Every rule ``run_monitoring`` evaluates: declared in the repository or added."""
        return self.monitor.rules(load_repo(self.repo_path).alert_rules)

    def run_monitoring(
        self,
        now: datetime | None = None,
        *,
        lookback: int = 1,
        webhook: str | None = None,
    ) -> list[AlertEvent]:
        """Evaluate every alert rule on the windows completed by ``now`` (default: now): the
        newest one, or the last ``lookback``. Computes what the rules need (live quality,
        drift, recorded too), records each alert once per rule and window, posts the new
        ones as JSON to ``webhook``, and returns them. Safe to run from cron."""
        when = _moment(now)
        return self.monitor.run(self.alert_rules(), now=when, lookback=lookback, webhook=webhook)

    def alerts(self, rule: str | None = None) -> list[AlertEvent]:
        """Recorded alerts, newest window first."""
        return self.registry.monitoring.alerts(self.project, rule=rule)

    # --- test in production ----------------------------------------------------------------

    @cached_property
    def experiments(self) -> ExperimentRunner:
        """Plan and read experiments, promote on evidence, reweight bandits (see
        :mod:`store.experiments`)."""
        return ExperimentRunner(self.model_registry, self._prediction_log)

    def plan_experiment(
        self, model: str, environment: str, name: str, **settings: Any
    ) -> Experiment:
        """Declare an experiment on the model's deployment with its plan: ``metric``,
        ``baseline``, ``effect`` (absolute), ``sd`` (continuous metrics), ``alpha``,
        ``power``, ``higher_is_better``, ``secondary``; its horizon is the sample size per
        arm that finds ``effect`` with that power however often the report is read."""
        return self.experiments.plan(model, environment, name, **settings)

    def experiment(
        self,
        model: str,
        environment: str = "production",
        *,
        metric: str | None = None,
        start: datetime | None = None,
        end: datetime | None = None,
    ) -> ExperimentReport:
        """Read the experiment on the model's live deployment: per arm traffic, outcomes and
        the metric; the sample-ratio check; each challenger against the control with
        fixed-horizon and anytime-valid intervals; guardrails; the verdict."""
        return self.experiments.report(model, environment, metric=metric, start=start, end=end)

    def set_promotion_gate(
        self,
        environment: str,
        *,
        metric: str | None = None,
        margin: float = 0.0,
        guardrails: bool = True,
        enabled: bool = True,
    ) -> None:
        """Require evidence before a challenger becomes primary in ``environment``: better
        on ``metric`` (or not worse by ``margin``), guardrails intact. ``enabled=False``
        lifts the gate."""
        gate = PromotionGate(metric, margin, guardrails).to_dict() if enabled else None
        self.model_registry.deployments.set_promotion_gate(environment, gate)

    def promote(
        self,
        model: str,
        environment: str = "production",
        *,
        version: int | None = None,
        if_better: bool = False,
        reason: str = "",
        by: str | None = None,
    ) -> DeploymentRevision:
        """Make the challenger (the canary, or ``version``) primary; with ``if_better`` or a
        promotion gate, only on the experiment's evidence, which is recorded. ``by``: who
        promotes (default: the user running this)."""
        return self.experiments.promote(
            model, environment, version=version, if_better=if_better, reason=reason, by=by
        )

    def rank(
        self,
        model: str,
        environment: str,
        context: Mapping[str, Any],
        candidates: Sequence[Mapping[str, Any]],
        *,
        limit: int | None = None,
    ) -> list[dict[str, Any]]:
        """Rank ``candidates`` (entity keys) for ``context`` by the model's live deployment,
        best first; interleaved by team draft when two versions are deployed with
        ``mode="interleave"``. Record clicks as outcomes on the items' ``prediction_id``."""
        return self._ranking.rank(model, environment, context, candidates, limit=limit)

    def interleaving(self, model: str, environment: str = "production") -> InterleavingReport:
        """Which of two interleaved versions users prefer, by the clicks credited to each."""
        return self._ranking.report(model, environment)

    @cached_property
    def _ranking(self) -> Ranking:
        return Ranking(self.model_registry, self._predictor, self._prediction_log)

    def retraining_policies(self) -> list[RetrainingPolicy]:
        """The retraining policies declared in the repository."""
        return list(load_repo(self.repo_path).retraining_policies)

    def retrain(self, policy: str | RetrainingPolicy, now: datetime | None = None) -> RetrainingRun:
        """Run a retraining policy now, whatever its triggers say; the run, succeeded or
        failed (with the error), is returned and recorded."""
        if isinstance(policy, str):
            found = {p.name: p for p in self.retraining_policies()}
            if policy not in found:
                raise ObjectNotFoundError("retraining policy", policy, sorted(found))
            policy = found[policy]
        when = _moment(now)
        return self._retrainer.run(policy, when)

    def run_continual_learning(self, now: datetime | None = None) -> ContinualLearning:
        """What ``silage monitor run`` does after the alert rules: run the retraining
        policies that fire and reweight the bandits that are due."""
        when = _moment(now)
        runs, problems = self._retrainer.run_due(self.retraining_policies(), when)
        reweighted, stuck = self.experiments.reweight_due(when)
        return ContinualLearning(runs, reweighted, problems + stuck)

    @cached_property
    def _retrainer(self) -> Retrainer:
        def build(
            policy: RetrainingPolicy,
            features: Sequence[str],
            start: datetime | None,
            end: datetime,
            name: str,
        ) -> TrainingSet:
            import pandas as pd

            path = policy.labels.resolve_path(self.repo_path)
            rows = pd.read_parquet(path)
            field = policy.labels.timestamp_field
            times = pd.to_datetime(rows[field], utc=True)
            keep = (times <= end) & (times >= start) if start is not None else times <= end
            rows = rows[keep.to_numpy()].rename(columns={field: "event_timestamp"})
            if rows.empty:
                raise RequestError(
                    f"retraining policy {policy.name!r}: {path} holds no labelled rows up to "
                    f"{end:%Y-%m-%d %H:%M}; append the new labels first"
                )
            saved: TrainingSet = self.get_historical_features(rows, list(features)).save(name)
            return saved

        return Retrainer(self.model_registry, self._prediction_log, self.alerts, build)

    def reweight(
        self, model: str, environment: str = "production", *, force: bool = False
    ) -> DeploymentRevision | None:
        """Recompute a bandit deployment's shares from its outcomes, when due (or ``force``)."""
        return self.experiments.reweight(model, environment, force=force)

    # --- read the catalog ------------------------------------------------------------------

    def list_entities(self) -> list[Entity]:
        return self._list("entity", Entity)

    def list_data_sources(self) -> list[DataSource]:
        found = [definition_from_catalog(o) for o in self.catalog_objects("data_source")]
        return [o for o in found if isinstance(o, DATA_SOURCE_TYPES)]

    def list_feature_views(self) -> list[FeatureView]:
        return self._list("feature_view", FeatureView)

    def list_feature_services(self) -> list[FeatureService]:
        return self._list("feature_service", FeatureService)

    def get_entity(self, name: str) -> Entity:
        return self._get("entity", name, Entity)

    def get_data_source(self, name: str) -> DataSource:
        """The offline source of that name (a ``FileSource`` or a ``SparkSource``)."""
        found = self._get("data_source", name, object)
        if isinstance(found, DATA_SOURCE_TYPES):
            return found
        names = [o.name for o in self.catalog_objects("data_source")]
        raise ObjectNotFoundError("data source", name, names)

    def get_feature_view(self, name: str) -> FeatureView:
        return self._get("feature_view", name, FeatureView)

    def get_feature_service(self, name: str) -> FeatureService:
        return self._get("feature_service", name, FeatureService)

    def list_on_demand_feature_views(self) -> list[OnDemandFeatureView]:
        return self._list("feature_view", OnDemandFeatureView)

    def get_on_demand_feature_view(self, name: str) -> OnDemandFeatureView:
        return self._get("feature_view", name, OnDemandFeatureView)

    def _lookup_view(self, name: str) -> AnyView:
        """The stored or on-demand view of a name (references name either)."""
        obj = self._catalog().get(("feature_view", name))
        if obj is None:
            names = [o.name for o in self.catalog_objects("feature_view")]
            raise ObjectNotFoundError("feature view", name, names)
        found = definition_from_catalog(obj)
        assert isinstance(found, FeatureView | OnDemandFeatureView)
        return found

    def catalog_objects(self, kind: Kind | None = None) -> list[CatalogObject]:
        """Raw catalog rows (spec, hash, version, timestamps) of this project, sorted by kind
        then name."""
        return [o for o in self._catalog().values() if kind is None or o.kind == kind]

    def _catalog(self) -> dict[tuple[Kind, str], CatalogObject]:
        """The project's catalog, read again only after the registry changed.

        A training set over twenty views looks up twenty views: they cost one read of the
        catalog, and at most one read of the registry's change counter per ``poll_seconds``
        (:meth:`_follow_registry`). The watcher reads the counter before the catalog is
        read, so a write landing between the two is noticed by the next poll rather than
        missed.
        """
        self._follow_registry()
        if self._catalog_cache is None:
            objects = self.registry.catalog.objects(self.project)
            self._catalog_cache = {(o.kind, o.name): o for o in objects}
        return self._catalog_cache

    def _list(self, kind: Kind, cls: type[T]) -> list[T]:
        found = [definition_from_catalog(o) for o in self.catalog_objects(kind)]
        return [o for o in found if isinstance(o, cls)]

    def _get(self, kind: Kind, name: str, cls: type[T]) -> T:
        obj = self._catalog().get((kind, name))
        found = None if obj is None else definition_from_catalog(obj)
        if isinstance(found, cls):
            return found
        names = [o.name for o in self.catalog_objects(kind)]
        raise ObjectNotFoundError(kind.replace("_", " "), name, names)

    def __repr__(self) -> str:
        return f"FeatureStore(repo_path={str(self.repo_path)!r}, project={self.project!r})"


def _moment(now: datetime | None) -> datetime:
    """``now`` in UTC (naive means UTC), or the current time."""
    return datetime.now(UTC) if now is None else as_utc(now, "now")
