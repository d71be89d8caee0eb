"""The ``silage`` command line.

Only this module prints or exits. Exit status: 0 on success, 1 on a user error (a message,
no traceback), 2 on a usage error. Commands import the store lazily, so ``silage --help``
and ``silage version`` start fast.

Conventions. What a command acts on is positional, broadest first (``MODEL ENVIRONMENT
[VERSION]``, ``NAME [VERSION]``); how is an option. Every command but ``serve`` prints for
a person and takes ``--json`` to print its value for machines instead (see
:mod:`store.console`).
"""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click

if TYPE_CHECKING:
    from datetime import datetime

    from store.feature_store import FeatureStore

_F = TypeVar("_F", bound=Callable[..., Any])

__all__ = ["cli", "main"]

_LIST_KINDS = {
    "entities": "entity",
    "sources": "data_source",
    "data-sources": "data_source",
    "feature-views": "feature_view",
    "feature-services": "feature_service",
}


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option(
    "--repo",
    "repo",
    type=click.Path(file_okay=False, path_type=Path),
    default=".",
    envvar="SILAGE_REPO",
    show_default=True,
    help="The feature repository (the folder with feature_store.yaml).",
)
@click.pass_context
def cli(ctx: click.Context, repo: Path) -> None:
    """Silage: a declarative feature store and model registry."""
    ctx.obj = repo


def _emit(ctx: click.Context, value: Any, text: str | Callable[[], str]) -> None:
    """Print ``value`` as JSON under ``--json``, else ``text`` (or what it returns)."""
    from store.console import to_json

    if ctx.meta.get(_JSON_KEY):
        click.echo(to_json(value))
    else:
        shown = text() if callable(text) else text
        click.echo(shown, nl=not shown.endswith("\n"))


def _rows(ctx: click.Context, rows: list[tuple[str, ...]], empty: str, data: Any) -> None:
    """A table for people (``empty`` when it has no rows), ``data`` for ``--json``."""
    from store.console import table

    _emit(ctx, data, table(rows) if len(rows) > 1 else empty)


def _store(ctx: click.Context) -> FeatureStore:
    from store.feature_store import FeatureStore

    store = FeatureStore(repo_path=ctx.obj)
    ctx.call_on_close(store.close)
    return store


@cli.command()
@click.pass_context
def version(ctx: click.Context) -> None:
    """Print Silage's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        found: str | None = dist_version("silage")
    except PackageNotFoundError:
        found = None
    _emit(ctx, {"version": found}, f"silage {found or '(not installed)'}")


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path), default="my_feature_repo")
@click.option("--project", help="Project name; defaults to the folder's name.")
@click.pass_context
def init(ctx: click.Context, directory: Path, project: str | None) -> None:
    """Create a new feature repository in DIRECTORY, with sample data."""
    from store.repo.scaffold import create_repo

    created = create_repo(directory, project=project)
    _emit(
        ctx,
        {"path": str(created)},
        f"Created a feature repository in {created}.\n"
        f"Next: cd {directory} && silage plan && silage apply",
    )


@cli.command()
@click.pass_context
def plan(ctx: click.Context) -> None:
    """Show what `silage apply` would change."""
    found = _store(ctx).plan()
    _emit(ctx, found, found.render)


@cli.command()
@click.pass_context
def apply(ctx: click.Context) -> None:
    """Record the repository in the registry and create online tables: all or nothing."""
    done = _store(ctx).apply()
    _emit(ctx, done, lambda: done.render(applied=True))


@cli.command()
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@click.pass_context
def teardown(ctx: click.Context, yes: bool) -> None:
    """Delete the project's catalog objects and online tables."""
    store = _store(ctx)
    if not yes:
        click.confirm(
            f"Delete every object of project {store.project!r} and its online tables?",
            abort=True,
        )
    store.teardown()
    _emit(
        ctx,
        {"project": store.project, "removed": True},
        f"Project {store.project}: catalog and online tables removed.",
    )


@cli.command(name="list")
@click.argument("kind", type=click.Choice(sorted(_LIST_KINDS)))
@click.pass_context
def list_(ctx: click.Context, kind: str) -> None:
    """List the registered objects of one KIND."""
    from store.repo.describe import list_rows

    kind_name: Any = _LIST_KINDS[kind]
    objects = _store(ctx).catalog_objects(kind_name)
    rows = list_rows(objects, kind_name)
    empty = f"No {kind.replace('-', ' ')} registered; run `silage apply`."
    _rows(ctx, rows, empty, objects)


@cli.command()
@click.argument("name")
@click.pass_context
def describe(ctx: click.Context, name: str) -> None:
    """Show the registered spec of the object(s) called NAME."""
    from store.console import ago, outline, tree
    from store.repo.describe import describe_objects

    found = describe_objects(_store(ctx).catalog_objects(), name)

    def text() -> str:
        return "\n\n".join(
            tree(
                (
                    f"{o['kind'].replace('_', ' ')} {o['name']} v{o['version']} "
                    f"(hash {o['content_hash'][:12]}, updated {ago(o['updated_at'])})",
                    outline(o["spec"]),
                )
            )
            for o in found
        )

    _emit(ctx, found, text)


class _Progress:
    """Per view: rows written and rows per second; a live line on a terminal, plain lines
    otherwise."""

    def __init__(self, ctx: click.Context) -> None:
        self.live = sys.stdout.isatty() and not ctx.meta.get(_JSON_KEY)
        self.view: str | None = None

    def __call__(self, view: str, rows: int, seconds: float) -> None:
        if self.live:
            if self.view not in (None, view):
                click.echo()
            self.view = view
            rate = rows / seconds if seconds > 0 else 0.0
            bar = "#" * min(30, rows.bit_length())
            click.echo(f"\r{view:30} [{bar:30}] {rows:>12,} rows {rate:>12,.0f} rows/s", nl=False)

    def finish(self, ctx: click.Context, done: list[Any]) -> None:
        if self.live and self.view is not None:
            click.echo()
        lines = [
            f"{item.feature_view}: {item.rows:,} rows from {item.start:%Y-%m-%d %H:%M:%S} "
            f"to {item.end:%Y-%m-%d %H:%M:%S} UTC in {item.seconds:.2f}s "
            f"({item.rows / item.seconds if item.seconds > 0 else 0.0:,.0f} rows/s)"
            for item in done
        ]
        _emit(ctx, done, "\n".join(lines) or "Nothing to materialize.")


def _when(value: str, name: str) -> Any:
    from datetime import datetime

    try:
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise click.BadParameter(
            f"{value!r} is not an ISO time such as 2026-01-31 or 2026-01-31T12:00:00Z "
            f"(naive times mean UTC)",
            param_hint=name,
        ) from None


def _views(views: str | None) -> list[str] | None:
    return [v.strip() for v in views.split(",") if v.strip()] if views else None


@cli.command()
@click.argument("start")
@click.argument("end")
@click.option("--views", help="Comma-separated feature views; default: every online view.")
@click.pass_context
def materialize(ctx: click.Context, start: str, end: str, views: str | None) -> None:
    """Load the newest values with event times in [START, END] into the online store."""
    progress = _Progress(ctx)
    done = _store(ctx).materialize(
        _when(start, "START"), _when(end, "END"), _views(views), on_progress=progress
    )
    progress.finish(ctx, done)


@cli.command(name="materialize-incremental")
@click.argument("end")
@click.option("--views", help="Comma-separated feature views; default: every online view.")
@click.pass_context
def materialize_incremental(ctx: click.Context, end: str, views: str | None) -> None:
    """Materialize each online view from where it last stopped up to END."""
    progress = _Progress(ctx)
    done = _store(ctx).materialize_incremental(
        _when(end, "END"), _views(views), on_progress=progress
    )
    progress.finish(ctx, done)


@cli.command()
@click.argument("feature_view")
@click.option("--start", help="Window start, an ISO time; default: the first row.")
@click.option("--end", help="Window end, an ISO time; default: the last row (freshness: now).")
@click.pass_context
def validate(ctx: click.Context, feature_view: str, start: str | None, end: str | None) -> None:
    """Check FEATURE_VIEW's source rows in [START, END] against its expectations.

    The run is recorded in the registry. Exit status 1 when an expectation fails.
    """
    report = _store(ctx).validate(
        feature_view,
        None if start is None else _when(start, "--start"),
        None if end is None else _when(end, "--end"),
    )
    _emit(ctx, report, report.render)
    if not report.passed:
        sys.exit(1)


@cli.command()
@click.option("--view", "feature_view", help="A feature view: its source rows by event time.")
@click.option("--training-set", help="A saved training set: by entity-row time.")
@click.option("--model", help="A model: features served and predictions, by prediction time.")
@click.option("--environment", help="With --model: one environment's predictions only.")
@click.option("--window", default="1d", show_default=True, help="15m, 1h, 1d, 2w...")
@click.option("--start", help="An ISO time; default: the first row.")
@click.option("--end", help="An ISO time (excluded); default: after the last row.")
@click.pass_context
def statistics(
    ctx: click.Context,
    feature_view: str | None,
    training_set: str | None,
    model: str | None,
    environment: str | None,
    window: str,
    start: str | None,
    end: str | None,
) -> None:
    """Statistics per feature per window, recorded in the registry as time series."""
    from store.console import number

    found = _store(ctx).compute_statistics(
        feature_view=feature_view,
        training_set=training_set,
        model=model,
        window=window,
        **_span(start, end),
        environment=environment,
    )
    rows: list[tuple[str, ...]] = [
        ("FEATURE", "WINDOW START", "COUNT", "NULLS", "MEAN", "P50", "MIN", "MAX", "TOP")
    ]
    for item in sorted(found, key=lambda w: (w.feature, w.window_start)):
        stats = item.statistics
        median = stats.get("quantiles", {}).get("p50")
        top = ", ".join(f"{t['value']} ({t['count']})" for t in stats.get("top_values", [])[:3])
        rows.append(
            (
                item.feature,
                f"{item.window_start:%Y-%m-%d %H:%M}",
                number(stats["count"]),
                number(stats["nulls"]),
                number(stats.get("mean")),
                number(median),
                number(stats.get("min")),
                number(stats.get("max")),
                top or "-",
            )
        )
    _rows(ctx, rows, "No rows in that time.", found)


def _logged_predictions(*, window: bool) -> Callable[[_F], _F]:
    """MODEL, and the options choosing its logged predictions: ``--environment``,
    ``--window`` (when the command works per window), ``--start`` and ``--end``."""

    def decorate(command: _F) -> _F:
        command = click.option(
            "--end", help="An ISO time (excluded); default: after the last one."
        )(command)
        command = click.option(
            "--start", help="An ISO time; default: the first logged prediction."
        )(command)
        if window:
            command = click.option(
                "--window", default="1d", show_default=True, help="15m, 1h, 1d, 2w..."
            )(command)
        command = click.option("--environment", default="production", show_default=True)(command)
        return click.argument("model")(command)

    return decorate


def _span(start: str | None, end: str | None) -> dict[str, datetime | None]:
    """``--start`` and ``--end`` as the ``start_date`` and ``end_date`` arguments."""
    return {
        "start_date": None if start is None else _when(start, "--start"),
        "end_date": None if end is None else _when(end, "--end"),
    }


@cli.group()
def monitor() -> None:
    """Monitoring of served models: drift, skew, live quality, alerts."""


@monitor.command(name="drift")
@_logged_predictions(window=True)
@click.option("--training-set", help="Compare with this training set instead of the serving one's.")
@click.option("--features", help="Comma-separated features; default: every feature served.")
@click.pass_context
def monitor_drift(
    ctx: click.Context,
    model: str,
    environment: str,
    window: str,
    start: str | None,
    end: str | None,
    training_set: str | None,
    features: str | None,
) -> None:
    """Whether MODEL's served features and predictions drifted from its training data,
    window by window; the results are recorded in the registry."""
    from store.monitoring.drift_runs import DriftReference

    report = _store(ctx).drift(
        model,
        environment,
        window=window,
        **_span(start, end),
        reference=None if training_set is None else DriftReference.training_set(training_set),
        features=_views(features),
    )
    _emit(ctx, report, report.render)


@monitor.command(name="skew")
@_logged_predictions(window=False)
@click.pass_context
def monitor_skew(
    ctx: click.Context, model: str, environment: str, start: str | None, end: str | None
) -> None:
    """Training-serving skew: MODEL's served features against a point-in-time join at each
    prediction's time. Exit status 1 when any feature differs."""
    report = _store(ctx).skew(
        model,
        environment,
        **_span(start, end),
    )
    _emit(ctx, report, report.render)
    if not report.consistent:
        sys.exit(1)


@monitor.command(name="service-skew")
@click.argument("service")
@click.option("--start", help="Served at or after this ISO time (default: the log's start).")
@click.option("--end", help="Served at or before this ISO time (default: now).")
@click.pass_context
def monitor_service_skew(
    ctx: click.Context, service: str, start: str | None, end: str | None
) -> None:
    """Training-serving skew from SERVICE's feature log (its logging_config): what it
    served against a point-in-time join at each serving time. Exit status 1 when any
    feature differs."""
    report = _store(ctx).service_skew(service, **_span(start, end))
    _emit(ctx, report, report.render)
    if not report.consistent:
        sys.exit(1)


@monitor.command(name="quality")
@_logged_predictions(window=True)
@click.pass_context
def monitor_quality(
    ctx: click.Context,
    model: str,
    environment: str,
    window: str,
    start: str | None,
    end: str | None,
) -> None:
    """MODEL's live metrics per target and window, on the outcomes received."""
    report = _store(ctx).live_quality(
        model,
        environment,
        window=window,
        **_span(start, end),
    )
    _emit(ctx, report, report.render)


@monitor.command(name="report")
@_logged_predictions(window=True)
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["html", "markdown", "json"]),
    default="html",
    show_default=True,
)
@click.option("--output", type=click.Path(dir_okay=False), help="Write here; default: stdout.")
@click.pass_context
def monitor_report(
    ctx: click.Context,
    model: str,
    environment: str,
    window: str,
    start: str | None,
    end: str | None,
    fmt: str,
    output: str | None,
) -> None:
    """A report on MODEL: reference and current histograms side by side per feature, drift
    tests and verdicts per window, validation results, alerts and live quality (``--json``:
    the same as ``--format json``)."""
    if ctx.meta.get(_JSON_KEY):
        fmt = "json"
    text = _store(ctx).monitoring_report(
        model,
        environment,
        window=window,
        **_span(start, end),
        format=fmt,
    )
    if output is None:
        click.echo(text, nl=False)
    else:
        Path(output).write_text(text, encoding="utf-8")
        click.echo(f"Wrote the {fmt} report on {model} to {output}.")


@monitor.command(name="run")
@click.option("--lookback", default=1, show_default=True, help="Completed windows to evaluate.")
@click.option("--webhook", help="POST new alerts as JSON to this URL.")
@click.pass_context
def monitor_run(ctx: click.Context, lookback: int, webhook: str | None) -> None:
    """Evaluate every alert rule on the windows completed by now, then the retraining
    policies (an alert may fire one) and the bandits due a reweighting. Safe to run from
    cron: an alert is reported once per rule and window. Exit status 1 when an alert fires
    or a retraining run fails."""
    store = _store(ctx)
    rules = store.alert_rules()
    events = store.run_monitoring(lookback=lookback, webhook=webhook) if rules else []
    lines = [
        f"ALERT {event.rule}: {event.condition}: {event.value:.4g} in "
        f"{event.window_start:%Y-%m-%d %H:%M} to {event.window_end:%Y-%m-%d %H:%M}"
        + (f" ({event.runbook})" if event.runbook else "")
        for event in events
    ]
    lines.append(f"{len(rules)} rule(s) evaluated, {len(events)} new alert(s).")
    done = store.run_continual_learning()
    for run in done.retraining:
        outcome = f"registered v{run.version}" if run.status == "succeeded" else run.error
        lines.append(f"RETRAINED {run.model} ({run.policy}, {run.kind}: {run.reason}): {outcome}")
    lines += [
        f"REWEIGHTED {revision.model} in {revision.environment}: {revision.reason}"
        for revision in done.reweighted
    ]
    lines += [f"SKIPPED {problem}" for problem in done.problems]
    value = {
        "rules": len(rules),
        "alerts": [e.to_json() for e in events],
        "retraining": done.retraining,
        "reweighted": done.reweighted,
        "problems": done.problems,
    }
    _emit(ctx, value, "\n".join(lines))
    if events or done.problems or any(r.status == "failed" for r in done.retraining):
        sys.exit(1)


@monitor.command(name="alerts")
@click.option("--rule", help="Only this rule's alerts.")
@click.pass_context
def monitor_alerts(ctx: click.Context, rule: str | None) -> None:
    """Recorded alerts, newest first."""
    rows: list[tuple[str, ...]] = [("RULE", "WINDOW START", "VALUE", "CONDITION", "FIRED")]
    events = _store(ctx).alerts(rule)
    for event in events:
        rows.append(
            (
                event.rule,
                f"{event.window_start:%Y-%m-%d %H:%M}",
                f"{event.value:.4g}",
                event.condition,
                f"{event.fired_at:%Y-%m-%d %H:%M}" if event.fired_at else "-",
            )
        )
    _rows(ctx, rows, "No alerts recorded.", [e.to_json() for e in events])


@cli.group()
def models() -> None:
    """Registered models: versions, aliases, cards, lineage, search."""


@models.command(name="list")
@click.pass_context
def models_list(ctx: click.Context) -> None:
    """List models with their latest version and aliases."""
    registry = _store(ctx).model_registry
    rows: list[tuple[str, ...]] = [("NAME", "VERSIONS", "LATEST", "ALIASES")]
    data = []
    for name in registry.models.list_models():
        versions = registry.models.list_versions(name)
        aliases = {a: v.version for v in versions for a in v.aliases}
        latest = versions[-1].version if versions else None
        data.append({"name": name, "versions": len(versions), "latest": latest, "aliases": aliases})
        shown = ", ".join(f"{a}->v{n}" for a, n in sorted(aliases.items()))
        rows.append((name, str(len(versions)), str(latest or "-"), shown or "-"))
    _rows(ctx, rows, "No models registered.", data)


@models.command(name="versions")
@click.argument("name")
@click.pass_context
def models_versions(ctx: click.Context, name: str) -> None:
    """List the versions of model NAME."""
    from store.console import ago

    rows: list[tuple[str, ...]] = [
        ("VERSION", "CREATED", "BY", "TRAINING SET", "METRICS", "ALIASES")
    ]
    versions = _store(ctx).model_registry.models.list_versions(name)
    for v in versions:
        rows.append(
            (
                str(v.version),
                ago(v.created_at),
                v.created_by,
                v.training_set or "-",
                _metrics(v.metrics),
                ", ".join(v.aliases) or "-",
            )
        )
    _rows(ctx, rows, f"Model {name} has no versions.", versions)


def _metrics(metrics: Any) -> str:
    from store.console import number

    return ", ".join(f"{k}={number(m)}" for k, m in metrics.items()) or "-"


def _version_argument(command: _F) -> _F:
    """An optional VERSION argument; ``--version N`` is still accepted (hidden), the older
    spelling of the same thing."""
    command = click.option("--version", "version_option", type=int, hidden=True)(command)
    return click.argument("version", type=int, required=False)(command)


def _version(version: int | None, version_option: int | None) -> int | None:
    if version is not None and version_option is not None and version != version_option:
        raise click.UsageError(f"VERSION {version} and --version {version_option} disagree")
    return version if version is not None else version_option


@models.command(name="show")
@click.argument("name")
@_version_argument
@click.option("--alias", help="An alias, instead of a version.")
@click.pass_context
def models_show(
    ctx: click.Context,
    name: str,
    version: int | None,
    version_option: int | None,
    alias: str | None,
) -> None:
    """Show VERSION of model NAME (default: the latest, or the one --alias points at)."""
    from store.console import ago, number, outline, tree

    found = _store(ctx).model_registry.models.get_version(
        name, version=_version(version, version_option), alias=alias
    )

    def text() -> str:
        head = (
            f"{found.model} v{found.version}"
            + (f" ({', '.join(found.aliases)})" if found.aliases else "")
            + f": {found.model_type}, registered {ago(found.created_at)} by {found.created_by}"
        )
        nodes: list[Any] = [
            f"description: {found.description or '-'}",
            f"training set: {found.training_set or '-'}",
            ("metrics", [f"{k}: {number(v)}" for k, v in found.metrics.items()] or ["-"]),
            f"input features: {', '.join(found.input_features) or '-'}",
            f"classes: {', '.join(map(str, found.classes)) or '-'}",
            ("tags", outline(found.tags) or ["-"]),
            ("parameters", outline(found.params) or ["-"]),
            f"artifact: {found.artifact_path} ({found.artifact_format}, "
            f"{number(found.artifact_size)} bytes, sha256 {found.artifact_sha256[:12]})",
        ]
        return tree((head, nodes))

    _emit(ctx, found, text)


@models.command(name="alias")
@click.argument("name")
@click.argument("alias")
@click.argument("version", type=int, required=False)
@click.option("--delete", is_flag=True, help="Remove the alias.")
@click.option("--reason", default="", help="Why, for the alias history.")
@click.pass_context
def models_alias(
    ctx: click.Context, name: str, alias: str, version: int | None, delete: bool, reason: str
) -> None:
    """Point ALIAS of model NAME at VERSION (or --delete it); shows the alias history."""
    registry = _store(ctx).model_registry.models
    if delete:
        registry.delete_alias(name, alias, reason=reason)
    elif version is None:
        raise click.UsageError("give the VERSION to point the alias at, or --delete")
    else:
        registry.set_alias(name, alias, version, reason=reason)
    history = registry.alias_history(name, alias)
    lines = [
        f"{move.changed_at:%Y-%m-%d %H:%M} {move.changed_by}: "
        f"{'v' + str(move.from_version) if move.from_version else '-'} -> "
        f"{'v' + str(move.to_version) if move.to_version else '-'} {move.reason}".rstrip()
        for move in history
    ]
    _emit(ctx, history, "\n".join(lines))


@models.command(name="card")
@click.argument("name")
@click.argument("version", type=int)
@click.option(
    "--set",
    "yaml_path",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="A YAML file of sections to write (a new draft revision).",
)
@click.option("--approve", is_flag=True, help="Approve the card (a new revision).")
@click.option("--format", "fmt", type=click.Choice(["markdown", "html"]), default="markdown")
@click.option("--output", type=click.Path(dir_okay=False, path_type=Path), help="Write here.")
@click.pass_context
def models_card(
    ctx: click.Context,
    name: str,
    version: int,
    yaml_path: Path | None,
    approve: bool,
    fmt: str,
    output: Path | None,
) -> None:
    """Show, fill or approve the model card of NAME VERSION."""
    cards = _store(ctx).model_registry.cards
    card = (
        cards.update(name, version, yaml_path=yaml_path) if yaml_path else cards.get(name, version)
    )
    if approve:
        card = cards.approve(name, version)
    if ctx.meta.get(_JSON_KEY):
        _emit(ctx, card, "")
        return
    text = card.to_html() if fmt == "html" else card.to_markdown()
    if output is not None:
        output.write_text(text, encoding="utf-8")
        click.echo(f"Wrote {output} (revision {card.revision}, {card.status}).")
    else:
        click.echo(text)


@models.command(name="lineage")
@click.argument("name_or_view")
@click.argument("version", type=int, required=False)
@click.option("--feature", help="With a view: only model versions using this feature.")
@click.pass_context
def models_lineage(
    ctx: click.Context, name_or_view: str, version: int | None, feature: str | None
) -> None:
    """Model NAME VERSION to its training set, sources, views and features, drawn as a
    tree; or, given a feature view (and --feature), the model versions that use it and
    where they are live."""
    from store.console import tree

    lineage = _store(ctx).model_registry.lineage
    if version is not None:
        found: Any = lineage.of_version(name_or_view, version)
        _emit(ctx, found, lambda: tree(_lineage_tree(found)))
    else:
        users = lineage.users_of(name_or_view, feature)
        _emit(ctx, users, lambda: tree(_users_tree(name_or_view, feature, users)))


def _lineage_tree(found: Any) -> Any:
    """Model version -> training set -> each source once -> its views -> their features."""
    head = f"{found.model} v{found.version}"
    if found.training_set is None:
        return (head, ["no training set recorded (registered without lineage)"])
    by_source: dict[str, dict[tuple[str, int], list[str]]] = {}
    for f in found.features:
        where = str(f.source.get("path") or f.source.get("name") or "(unknown source)")
        shown = f.feature if f.column == f.feature else f"{f.feature} as {f.column}"
        by_source.setdefault(where, {}).setdefault((f.feature_view, f.view_version), [])
        by_source[where][(f.feature_view, f.view_version)].append(shown)
    sources = [
        (
            f"source {where}",
            [(f"view {view} v{v}", features) for (view, v), features in views.items()],
        )
        for where, views in by_source.items()
    ]
    return (head, [(f"training set {found.training_set}", sources)])


def _users_tree(view: str, feature: str | None, users: Any) -> Any:
    """Feature view (or feature) -> model versions -> where each is live."""
    live: dict[tuple[str, int], list[str]] = {}
    for model, environment, version, role in users.live_deployments:
        live.setdefault((model, version), []).append(f"live in {environment} as {role}")
    head = f"feature view {view}" + (f", feature {feature}" if feature else "")
    versions: list[Any] = [
        (f"{model} v{version}", live.get((model, version), []))
        for model, version in users.model_versions
    ]
    return (head, versions or ["no model version was trained on it"])


@models.command(name="search")
@click.argument("filter_string", default="")
@click.option("--order-by", multiple=True, default=("name", "version DESC"))
@click.option("--max-results", type=int, default=100)
@click.pass_context
def models_search(
    ctx: click.Context, filter_string: str, order_by: tuple[str, ...], max_results: int
) -> None:
    """Search versions, e.g. "metrics.auc > 0.9 AND (tags.team = 'a' OR alias = 'champion')"."""
    page = _store(ctx).model_registry.search_model_versions(
        filter_string, order_by=order_by, max_results=max_results
    )
    rows: list[tuple[str, ...]] = [("MODEL", "VERSION", "METRICS", "ALIASES")]
    for v in page.versions:
        rows.append((v.model, str(v.version), _metrics(v.metrics), ", ".join(v.aliases) or "-"))
    _rows(ctx, rows, "No versions match.", page)


def _targets(
    version: int, canary: str | None, shadows: tuple[int, ...], arms: tuple[str, ...]
) -> list[Any]:
    from registry import Target

    targets = [Target(version)] if version else []
    if canary:
        number, _, share = canary.partition(":")
        if not share:
            raise click.BadParameter("use VERSION:SHARE, e.g. 4:10", param_hint="--canary")
        targets.append(Target(int(number), "canary", float(share)))
    for arm in arms:
        parts = arm.split(":")
        if len(parts) != 3:
            raise click.BadParameter("use ARM:VERSION:SHARE, e.g. a:3:50", param_hint="--arm")
        targets.append(Target(int(parts[1]), "ab", float(parts[2]), parts[0]))
    targets += [Target(v, "shadow") for v in shadows]
    return targets


@cli.command()
@click.argument("model")
@click.argument("environment")
@_version_argument
@click.option("--canary", help="VERSION:SHARE of traffic, beside the primary.")
@click.option("--shadow", "shadows", type=int, multiple=True, help="A version getting a copy.")
@click.option("--arm", "arms", multiple=True, help="An A/B arm: NAME:VERSION:SHARE.")
@click.option(
    "--mode",
    type=click.Choice(["fixed", "bandit", "interleave"]),
    default="fixed",
    help="bandit: the arms' shares follow their outcomes; interleave: two arms rank together.",
)
@click.option("--bandit-interval", default="1h", help="Bandit: how often shares move.")
@click.option("--bandit-floor", type=float, default=0.05, help="Bandit: least share per arm.")
@click.option("--bandit-min-outcomes", type=int, default=100, help="Bandit: per arm first.")
@click.option(
    "--bandit-reward",
    type=click.Choice(["binary", "continuous"]),
    default="binary",
    help="Bandit: 0/1 outcomes, or numbers.",
)
@click.option("--reason", default="", help="Why, for the deployment history.")
@click.pass_context
def deploy(
    ctx: click.Context,
    model: str,
    environment: str,
    version: int | None,
    version_option: int | None,
    canary: str | None,
    shadows: tuple[int, ...],
    arms: tuple[str, ...],
    mode: str,
    bandit_interval: str,
    bandit_floor: float,
    bandit_min_outcomes: int,
    bandit_reward: str,
    reason: str,
) -> None:
    """Deploy VERSION of MODEL to ENVIRONMENT as its primary, optionally with a canary,
    shadows, or instead A/B arms (then without VERSION)."""
    policy = None
    if mode == "bandit":
        from store.epoch import parse_duration
        from store.experiments.bandit import BanditPolicy

        policy = BanditPolicy(
            reward="continuous" if bandit_reward == "continuous" else "binary",
            interval=parse_duration(bandit_interval),
            floor=bandit_floor,
            min_outcomes=bandit_min_outcomes,
        ).to_dict()
    revision = _store(ctx).model_registry.deployments.deploy(
        model,
        environment,
        _targets(_version(version, version_option) or 0, canary, shadows, arms),
        mode=mode,
        policy=policy,
        reason=reason,
    )
    _emit(ctx, revision, _revision(revision))


@cli.command()
@click.argument("model")
@click.argument("environment")
@_version_argument
@click.option(
    "--if-better",
    is_flag=True,
    help="Only if the experiment shows it better (or within the gate's margin); the "
    "evidence is recorded on the revision and the model card.",
)
@click.option("--reason", default="")
@click.pass_context
def promote(
    ctx: click.Context,
    model: str,
    environment: str,
    version: int | None,
    version_option: int | None,
    if_better: bool,
    reason: str,
) -> None:
    """Make the challenger of MODEL in ENVIRONMENT (its canary, or the canary or A/B arm
    VERSION) its primary."""
    revision = _store(ctx).promote(
        model,
        environment,
        version=_version(version, version_option),
        if_better=if_better,
        reason=reason,
    )
    evidence = revision.evidence.get("decision", "") if revision.evidence else ""
    _emit(ctx, revision, _revision(revision) + (f"\n  evidence: {evidence}" if evidence else ""))


@cli.command()
@click.argument("policy")
@click.pass_context
def retrain(ctx: click.Context, policy: str) -> None:
    """Run retraining POLICY now, whatever its triggers say."""
    run = _store(ctx).retrain(policy)
    if run.status == "failed" and not ctx.meta.get(_JSON_KEY):
        raise click.ClickException(f"retraining run {run.id} failed: {run.error}")
    _emit(ctx, run, f"retraining run {run.id}: registered {run.model} v{run.version}")
    if run.status == "failed":
        sys.exit(1)


@cli.group()
def experiments() -> None:
    """Experiments on deployments: plan, report, promotion gates, bandits."""


@experiments.command(name="plan")
@click.argument("model")
@click.argument("name")
@click.option("--environment", "-e", default="production", show_default=True)
@click.option("--metric", default="outcome", show_default=True)
@click.option("--baseline", type=float, required=True, help="The control's rate (or mean).")
@click.option("--effect", type=float, required=True, help="Absolute difference to detect.")
@click.option("--sd", type=float, help="Standard deviation, for a metric that is not 0/1.")
@click.option("--alpha", type=float, default=0.05, show_default=True)
@click.option("--power", type=float, default=0.8, show_default=True)
@click.option(
    "--higher-is-better/--lower-is-better",
    default=None,
    help="Override the metric's direction (default: more outcome and accuracy, less error).",
)
@click.pass_context
def experiments_plan(
    ctx: click.Context,
    model: str,
    name: str,
    environment: str,
    metric: str,
    baseline: float,
    effect: float,
    sd: float | None,
    alpha: float,
    power: float,
    higher_is_better: bool | None,
) -> None:
    """Declare experiment NAME on MODEL's deployment, with the sample size it needs."""
    found = _store(ctx).plan_experiment(
        model,
        environment,
        name,
        metric=metric,
        baseline=baseline,
        effect=effect,
        sd=sd,
        alpha=alpha,
        power=power,
        higher_is_better=higher_is_better,
    )
    spec = found.spec
    _emit(
        ctx,
        found,
        f"{name}: {spec['horizon']:,} outcomes per arm, read as often as you like "
        f"({spec['fixed_horizon']:,} if read once at the end)",
    )


@experiments.command(name="report")
@click.argument("model")
@click.option("--environment", "-e", default="production", show_default=True)
@click.option("--metric", help="Compare on this metric instead of the planned one.")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text")
@click.pass_context
def experiments_report(
    ctx: click.Context, model: str, environment: str, metric: str | None, fmt: str
) -> None:
    """Read the experiment on MODEL's live deployment in ENVIRONMENT (``--json`` is the
    same as ``--format json``: the evidence a promotion records)."""
    report = _store(ctx).experiment(model, environment, metric=metric)
    if fmt == "json":
        ctx.meta[_JSON_KEY] = True
    _emit(ctx, report.evidence(), report.render)


@experiments.command(name="gate")
@click.argument("environment")
@click.option("--metric", help="Judge on this metric (default: the experiment's).")
@click.option("--margin", type=float, default=0.0, help="How much worse is still acceptable.")
@click.option("--no-guardrails", is_flag=True, help="Ignore breached guardrails.")
@click.option("--off", is_flag=True, help="Lift the gate.")
@click.pass_context
def experiments_gate(
    ctx: click.Context,
    environment: str,
    metric: str | None,
    margin: float,
    no_guardrails: bool,
    off: bool,
) -> None:
    """Require evidence before promotions in ENVIRONMENT."""
    store = _store(ctx)
    store.set_promotion_gate(
        environment, metric=metric, margin=margin, guardrails=not no_guardrails, enabled=not off
    )
    gate = store.model_registry.deployments.promotion_gate(environment)
    _emit(
        ctx,
        {"environment": environment, "gate": gate},
        f"promotion gate in {environment}: {'off' if off else 'on'}",
    )


@experiments.command(name="reweight")
@click.argument("model")
@click.option("--environment", "-e", default="production", show_default=True)
@click.option("--force", is_flag=True, help="Even before the bandit's interval has passed.")
@click.pass_context
def experiments_reweight(ctx: click.Context, model: str, environment: str, force: bool) -> None:
    """Move a bandit deployment's shares by Thompson sampling on its outcomes."""
    revision = _store(ctx).reweight(model, environment, force=force)
    if revision is None:
        _emit(ctx, None, "shares unchanged (not due, or too few outcomes per arm)")
    else:
        _emit(ctx, revision, f"{_revision(revision)}\n  {revision.reason}")


@cli.command()
@click.argument("model")
@click.argument("environment")
@click.option("--reason", default="")
@click.pass_context
def rollback(ctx: click.Context, model: str, environment: str, reason: str) -> None:
    """Go back to the previous deployment of MODEL in ENVIRONMENT (as a new revision)."""
    revision = _store(ctx).model_registry.deployments.rollback(model, environment, reason=reason)
    _emit(ctx, revision, _revision(revision))


@cli.command()
@click.argument("model", required=False)
@click.argument("environment", required=False)
@click.option(
    "--at",
    "when",
    help="With MODEL and ENVIRONMENT: what served at this ISO time, "
    "and what each of its versions trained on.",
)
@click.pass_context
def deployments(
    ctx: click.Context, model: str | None, environment: str | None, when: str | None
) -> None:
    """Live deployments; with MODEL and ENVIRONMENT, that deployment's history."""
    project = _store(ctx).model_registry
    registry = project.deployments
    if when is not None:
        if not (model and environment):
            raise click.UsageError("--at needs MODEL and ENVIRONMENT")
        from store.console import tree
        from store.epoch import as_utc

        revision, trained = project.lineage.served_at(
            model, environment, as_utc(_when(when, "--at"), "--at")
        )
        _emit(
            ctx,
            {"revision": revision, "trained_on": trained},
            lambda: "\n".join([_revision(revision), *(tree(_lineage_tree(t)) for t in trained)]),
        )
        return
    if model and environment:
        history = registry.history(model, environment)
        _emit(ctx, history, "\n".join(_revision(r) for r in history))
        return
    rows: list[tuple[str, ...]] = [("ENVIRONMENT", "MODEL", "REVISION", "TARGETS")]
    live = registry.list_live()
    for r in live:
        targets = ", ".join(f"v{t.version} {t.role} {t.share:g}%" for t in r.targets)
        rows.append((r.environment, r.model, str(r.revision), targets))
    _rows(ctx, rows, "Nothing is deployed.", live)


def _revision(revision: Any) -> str:
    targets = ", ".join(
        f"v{t.version} {t.role}{' ' + t.arm if t.arm else ''} {t.share:g}%"
        for t in revision.targets
    )
    return (
        f"{revision.model} in {revision.environment}: revision {revision.revision} "
        f"({revision.action}) by {revision.created_by} at {revision.created_at:%Y-%m-%d %H:%M}: "
        f"{targets}{' - ' + revision.reason if revision.reason else ''}"
    )


@cli.command()
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=6566, show_default=True, type=int)
@click.option(
    "--root-path",
    default="",
    help="The path prefix a reverse proxy serves Silage under (e.g. /tools/silage); "
    "the UI's links keep it.",
)
@click.option(
    "--read-token",
    is_flag=True,
    help="Close reads too: every request but /health needs a token (scope read for reads).",
)
@click.option(
    "--workers",
    default=1,
    show_default=True,
    type=click.IntRange(min=1),
    help="Processes serving the same port, sharing the registry and online store.",
)
@click.option(
    "--refresh-seconds",
    default=1.0,
    show_default=True,
    type=click.FloatRange(min=0),
    help="The longest a registry change made elsewhere goes unseen by each process: the "
    "change counter is polled at most this often as requests arrive (0: every request).",
)
@click.pass_context
def serve(
    ctx: click.Context,
    host: str,
    port: int,
    root_path: str,
    read_token: bool,
    workers: int,
    refresh_seconds: float,
) -> None:
    """Serve online features and predictions over HTTP (FastAPI on uvicorn), and the web
    UI under /ui. Writes need a bearer token from `silage tokens create`."""
    try:
        import uvicorn
    except ImportError:
        raise click.ClickException(
            "the server needs FastAPI and uvicorn: pip install 'silage[serve]'"
        ) from None
    from store.serving.server import (
        READ_TOKEN_VARIABLE,
        REFRESH_VARIABLE,
        REPO_VARIABLE,
        create_app,
    )

    root_path = root_path.rstrip("/")
    proxied = f" (its links under {root_path}/ui/, for the proxy)" if root_path else ""
    click.echo(f"Silage UI: http://{host}:{port}/ui/{proxied}")
    if workers == 1:
        app = create_app(_store(ctx), refresh_seconds=refresh_seconds, read_token=read_token)
        uvicorn.run(app, host=host, port=port, root_path=root_path, log_level="warning")
        return
    _store(ctx)  # check the repository before starting the processes
    # Each worker process builds its own store from the repository (uvicorn starts them
    # by import path, sharing one listening socket).
    os.environ[REPO_VARIABLE] = str(Path(ctx.obj).resolve())
    os.environ[REFRESH_VARIABLE] = str(refresh_seconds)
    os.environ[READ_TOKEN_VARIABLE] = "1" if read_token else "0"
    uvicorn.run(
        "store.serving.server:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        root_path=root_path,
        log_level="warning",
    )


@cli.group()
def tokens() -> None:
    """Bearer tokens for `silage serve`'s writes (and reads, with --read-token)."""


_SCOPES = ("push", "outcomes", "deploy", "approve", "read")


@tokens.command(name="create")
@click.argument("name")
@click.option(
    "--scope",
    "scopes",
    multiple=True,
    required=True,
    type=click.Choice(_SCOPES),
    help="What the token may do; repeat for several.",
)
@click.pass_context
def tokens_create(ctx: click.Context, name: str, scopes: tuple[str, ...]) -> None:
    """Create token NAME; its secret is printed this once (only its hash is kept)."""
    token, secret = _store(ctx).model_registry.tokens.create(name, scopes)
    _emit(
        ctx,
        {"token": token, "secret": secret},
        f"Token {token.name} ({', '.join(token.scopes)}), shown once; send it as "
        f"`Authorization: Bearer <secret>`:\n{secret}",
    )


@tokens.command(name="revoke")
@click.argument("name")
@click.pass_context
def tokens_revoke(ctx: click.Context, name: str) -> None:
    """Revoke token NAME now (its name stays on what it changed)."""
    token = _store(ctx).model_registry.tokens.revoke(name)
    _emit(ctx, token, f"Token {token.name} revoked.")


@tokens.command(name="list")
@click.pass_context
def tokens_list(ctx: click.Context) -> None:
    """Tokens, revoked ones included (never their secrets)."""
    from store.console import ago

    found = _store(ctx).model_registry.tokens.list()
    rows: list[tuple[str, ...]] = [("NAME", "SCOPES", "STATUS", "CREATED", "BY")]
    for t in found:
        status = "active" if t.active else f"revoked {ago(t.revoked_at)}" if t.revoked_at else ""
        rows.append((t.name, ",".join(t.scopes), status, ago(t.created_at), t.created_by))
    _rows(ctx, rows, "No tokens; create one with `silage tokens create NAME --scope ...`.", found)


@cli.group(name="training-sets")
def training_sets() -> None:
    """Saved training sets."""


@training_sets.command(name="list")
@click.pass_context
def training_sets_list(ctx: click.Context) -> None:
    """List saved training sets."""
    from store.console import ago, number

    rows: list[tuple[str, ...]] = [("NAME", "ROWS", "FEATURES", "FINGERPRINT", "CREATED")]
    found = _store(ctx).list_training_sets()
    for t in found:
        r = t.record
        rows.append(
            (
                r.name,
                number(r.row_count),
                str(len(r.features)),
                r.fingerprint[:12],
                ago(r.created_at),
            )
        )
    _rows(ctx, rows, "No training sets saved.", [t.record for t in found])


@training_sets.command(name="show")
@click.argument("name")
@click.pass_context
def training_sets_show(ctx: click.Context, name: str) -> None:
    """Show a training set's record: schema, statistics, feature-view versions."""
    saved = _store(ctx).get_training_set(name)
    record = saved.record
    _emit(ctx, record, lambda: _training_set_text(record, saved.location))


def _training_set_text(record: Any, location: str) -> str:
    """A training set for people: what it is, its features by view, statistics per column."""
    from store.console import ago, number, table, tree

    span = (
        f"{record.entity_time_min:%Y-%m-%d %H:%M} to {record.entity_time_max:%Y-%m-%d %H:%M} UTC"
        if record.entity_time_min and record.entity_time_max
        else "-"
    )
    views: dict[str, list[str]] = {}
    for f in record.features:
        views.setdefault(f"{f.feature_view} v{f.version}", []).append(f.feature)
    head = tree(
        (
            f"training set {record.name}: {number(record.row_count)} rows, saved "
            f"{ago(record.created_at)}",
            [
                f"fingerprint {record.fingerprint[:16]}, data sha256 {record.data_sha256[:16]}",
                f"entity rows from {span}",
                f"stored at {location}",
                ("features", [(view, features) for view, features in views.items()]),
            ],
        )
    )
    rows: list[tuple[str, ...]] = [("COLUMN", "TYPE", "NULLS", "MEAN", "MIN", "P50", "MAX")]
    for column, dtype in record.schema.items():
        stats = record.statistics.get(column, {})
        count = stats.get("count")
        nulls = stats.get("nulls")
        rows_seen = (count or 0) + (nulls or 0)  # count: the non-null values
        share = f"{nulls / rows_seen:.1%}" if rows_seen and nulls is not None else "-"
        rows.append(
            (
                column,
                str(dtype),
                share,
                number(stats.get("mean")),
                number(stats.get("min")),
                number(stats.get("quantiles", {}).get("p50")),
                number(stats.get("max")),
            )
        )
    return f"{head}\n\n{table(rows)}"


@cli.group()
def registry() -> None:
    """Manage the registry database."""


@registry.command()
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Migrate the registry database to this Silage's schema."""
    from registry import migrate
    from registry.database import Database
    from store.repo.config import load_config

    config = load_config(ctx.find_root().obj)
    db = Database(config.registry_url)
    try:
        before, after = migrate.upgrade(db)
    finally:
        db.dispose()
    text = (
        f"Registry already at revision {after}."
        if before == after
        else f"Registry upgraded from revision {before or '(empty)'} to {after}."
    )
    _emit(ctx, {"before": before, "after": after}, text)


_JSON_KEY = "silage.json"


def _json_flag(ctx: click.Context, _: click.Parameter, value: bool) -> None:
    if value:
        ctx.meta[_JSON_KEY] = True


def _add_json_option(group: click.Group) -> None:
    """Give every command (but ``serve``, which prints no result) a ``--json`` flag."""
    for command in group.commands.values():
        if isinstance(command, click.Group):
            _add_json_option(command)
        elif command.name != "serve":
            command.params.append(
                click.Option(
                    ["--json"],
                    is_flag=True,
                    expose_value=False,
                    callback=_json_flag,
                    help="Print the result as JSON, for machines.",
                )
            )


_add_json_option(cli)


def _show_warning(message: Any, category: Any, *_: Any, **__: Any) -> None:
    click.echo(f"Warning: {message}", err=True)


def main(argv: list[str] | None = None) -> None:
    """Entry point of the ``silage`` console script."""
    warnings.showwarning = _show_warning
    try:
        cli.main(args=argv, prog_name="silage", standalone_mode=False)
    except click.exceptions.Abort:
        click.echo("Aborted.", err=True)
        sys.exit(1)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except Exception as exc:
        if _is_user_error(exc):
            click.echo(f"Error: {exc}", err=True)
            sys.exit(1)
        raise
    sys.exit(0)


def _is_user_error(exc: Exception) -> bool:
    from store.errors import StoreError

    if isinstance(exc, StoreError):
        return True
    if "registry" in sys.modules:
        from registry.errors import RegistryError

        return isinstance(exc, RegistryError)
    return False


if __name__ == "__main__":  # pragma: no cover
    os.environ.setdefault("PYTHONUNBUFFERED", "1")
    main()
