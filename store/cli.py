"""The ``silage`` command line.

Only this module prints or exits. Exit status: 0 on success, 1 on a user error (a message,
no traceback), 2 on a usage error. Commands import the store lazily, so ``silage --help``
and ``silage version`` start fast.
"""

from __future__ import annotations

import json
import os
import sys
import warnings
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from store.feature_store import FeatureStore

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


def _store(ctx: click.Context) -> FeatureStore:
    from store.feature_store import FeatureStore

    store = FeatureStore(repo_path=ctx.obj)
    ctx.call_on_close(store.close)
    return store


@cli.command()
def version() -> None:
    """Print Silage's version."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        click.echo(f"silage {dist_version('silage')}")
    except PackageNotFoundError:
        click.echo("silage (not installed)")


@cli.command()
@click.argument("directory", type=click.Path(path_type=Path), default="my_feature_repo")
@click.option("--project", help="Project name; defaults to the folder's name.")
def init(directory: Path, project: str | None) -> None:
    """Create a new feature repository in DIRECTORY, with sample data."""
    from store.scaffold import create_repo

    created = create_repo(directory, project=project)
    click.echo(f"Created a feature repository in {created}.")
    click.echo(f"Next: cd {directory} && silage plan && silage apply")


@cli.command()
@click.pass_context
def plan(ctx: click.Context) -> None:
    """Show what `silage apply` would change."""
    click.echo(_store(ctx).plan().render(), nl=False)


@cli.command()
@click.pass_context
def apply(ctx: click.Context) -> None:
    """Record the repository in the registry and create online tables: all or nothing."""
    done = _store(ctx).apply()
    click.echo(done.render(applied=True), nl=False)


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
    click.echo(f"Project {store.project}: catalog and online tables removed.")


@cli.command(name="list")
@click.argument("kind", type=click.Choice(sorted(_LIST_KINDS)))
@click.pass_context
def list_(ctx: click.Context, kind: str) -> None:
    """List the registered objects of one KIND."""
    from store.describe import list_rows

    rows = list_rows(_store(ctx), _LIST_KINDS[kind])  # type: ignore[arg-type]
    if len(rows) == 1:
        click.echo(f"No {kind.replace('-', ' ')} registered; run `silage apply`.")
        return
    widths = [max(len(str(r[i])) for r in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


@cli.command()
@click.argument("name")
@click.pass_context
def describe(ctx: click.Context, name: str) -> None:
    """Show the registered spec of the object(s) called NAME."""
    from store.describe import describe_objects

    click.echo(json.dumps(describe_objects(_store(ctx), name), indent=2, default=str))


class _Progress:
    """Per view: rows written and rows per second; a live line on a terminal, plain lines
    otherwise."""

    def __init__(self) -> None:
        self.live = sys.stdout.isatty()
        self.view: str | None = None

    def __call__(self, view: str, rows: int, seconds: float) -> None:
        if self.live:
            if self.view not in (None, view):
                click.echo()
            self.view = view
            rate = rows / seconds if seconds > 0 else 0.0
            bar = "#" * min(30, rows.bit_length())
            click.echo(f"\r{view:30} [{bar:30}] {rows:>12,} rows {rate:>12,.0f} rows/s", nl=False)

    def finish(self, done: list[Any]) -> None:
        if self.live and self.view is not None:
            click.echo()
        for item in done:
            rate = item.rows / item.seconds if item.seconds > 0 else 0.0
            click.echo(
                f"{item.feature_view}: {item.rows:,} rows from {item.start:%Y-%m-%d %H:%M:%S} "
                f"to {item.end:%Y-%m-%d %H:%M:%S} UTC in {item.seconds:.2f}s "
                f"({rate:,.0f} rows/s)"
            )
        if not done:
            click.echo("Nothing to materialize.")


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
    progress = _Progress()
    done = _store(ctx).materialize(
        _when(start, "START"), _when(end, "END"), _views(views), on_progress=progress
    )
    progress.finish(done)


@cli.command(name="materialize-incremental")
@click.argument("end")
@click.option("--views", help="Comma-separated feature views; default: every online view.")
@click.pass_context
def materialize_incremental(ctx: click.Context, end: str, views: str | None) -> None:
    """Materialize each online view from where it last stopped up to END."""
    progress = _Progress()
    done = _store(ctx).materialize_incremental(
        _when(end, "END"), _views(views), on_progress=progress
    )
    progress.finish(done)


@cli.group()
def registry() -> None:
    """Manage the registry database."""


@registry.command()
@click.pass_context
def upgrade(ctx: click.Context) -> None:
    """Migrate the registry database to this Silage's schema."""
    from registry import migrate
    from registry.database import Database
    from store.config import load_config

    config = load_config(ctx.find_root().obj)
    db = Database(config.registry_url)
    try:
        before, after = migrate.upgrade(db)
    finally:
        db.dispose()
    if before == after:
        click.echo(f"Registry already at revision {after}.")
    else:
        click.echo(f"Registry upgraded from revision {before or '(empty)'} to {after}.")


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
