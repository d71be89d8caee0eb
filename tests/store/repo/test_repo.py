"""Repository loading: private module names, ignores, cross-file checks, import errors."""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import pytest

import store
from store.errors import RepoImportError, RepoValidationError
from store.repo.loader import load_repo, repo_files


def test_loads_definitions_from_every_file(make_repo: Callable[..., Path]) -> None:
    contents = load_repo(make_repo("basic"))
    assert [e.name for e in contents.entities] == ["driver"]
    assert [s.name for s in contents.data_sources] == ["driver_stats_source"]
    assert [v.name for v in contents.feature_views] == ["driver_hourly_stats"]
    assert [s.name for s in contents.feature_services] == ["driver_activity"]
    assert contents.origins[("feature_view", "driver_hourly_stats")] == Path("definitions.py")


def test_files_import_each_other_and_a_user_store_py_does_not_shadow_ours(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo("multi_file")
    before = set(sys.modules)
    contents = load_repo(repo)
    assert [v.name for v in contents.feature_views] == ["stats"]
    # the source declared inline in the view is collected, with its default name
    assert [s.name for s in contents.data_sources] == ["driver_stats"]
    assert sys.modules["store"] is store
    assert not hasattr(store, "SHADOW")
    # nothing of the repository stays importable by its plain name
    assert {"entities", "views"} & (set(sys.modules) - before) == set()


def test_hidden_ignored_and_virtualenv_folders_are_skipped(
    make_repo: Callable[..., Path],
) -> None:
    repo = make_repo("multi_file")
    venv = repo / "venv"
    venv.mkdir()
    (venv / "pyvenv.cfg").write_text("home = /usr\n")
    (venv / "bad.py").write_text("raise RuntimeError('venv imported')\n")
    names = sorted(p.relative_to(repo).as_posix() for p in repo_files(repo))
    assert names == ["entities.py", "store.py", "views.py"]


def test_two_repositories_load_in_one_process(make_repo: Callable[..., Path]) -> None:
    first = load_repo(make_repo("basic"))
    second = load_repo(make_repo("multi_file"))
    again = load_repo(make_repo("basic_v2"))
    assert first.feature_views[0].name == "driver_hourly_stats"
    assert second.feature_views[0].name == "stats"
    assert {v.name for v in again.feature_views} == {"driver_hourly_stats", "driver_city"}


def test_duplicate_names_across_files_name_both_files(make_repo: Callable[..., Path]) -> None:
    with pytest.raises(
        RepoValidationError, match=r"entity 'driver' is declared twice.*a\.py and b\.py"
    ):
        load_repo(make_repo("dup_names"))


def test_view_using_an_undeclared_entity(make_repo: Callable[..., Path]) -> None:
    with pytest.raises(RepoValidationError) as info:
        load_repo(make_repo("undeclared_entity"))
    message = str(info.value)
    assert "definitions.py: feature view 'stats' uses entity 'rider'" in message
    assert "module-level variable" in message


def test_file_that_raises_on_import_reports_file_and_line(make_repo: Callable[..., Path]) -> None:
    repo = make_repo("import_error")
    with pytest.raises(RepoImportError) as info:
        load_repo(repo)
    assert info.value.path == repo / "definitions.py"
    assert info.value.line == 5
    assert "KeyError while importing: 'zone'" in str(info.value)


@pytest.mark.parametrize(
    ("fixture", "line", "message"),
    [
        ("negative_ttl", 8, "ttl -1 day, 23:00:00 is negative"),
        ("unknown_dtype", 8, "dtype 'float32' is not a Silage type"),
    ],
)
def test_definition_errors_point_at_the_declaration(
    make_repo: Callable[..., Path], fixture: str, line: int, message: str
) -> None:
    repo = make_repo(fixture)
    with pytest.raises(RepoImportError, match=message) as info:
        load_repo(repo)
    assert info.value.line == line
    assert str(info.value).startswith(f"{repo / 'definitions.py'}:{line}:")


def test_syntax_error_reports_line(tmp_path: Path) -> None:
    (tmp_path / "feature_store.yaml").write_text("project: p\n")
    (tmp_path / "broken.py").write_text("x = 1\ndef f(:\n")
    with pytest.raises(RepoImportError, match="syntax error") as info:
        load_repo(tmp_path)
    assert info.value.line == 2


def test_service_naming_unknown_view_or_feature(tmp_path: Path) -> None:
    (tmp_path / "defs.py").write_text(
        "from store import Entity, FeatureService, FeatureView, Field, FileSource\n"
        "from store.definitions.feature_view import FeatureViewProjection\n"
        "from store.types import Int64\n"
        "d = Entity(name='driver', join_keys=['driver_id'])\n"
        "fv = FeatureView(name='stats', entities=[d], schema=[Field(name='trips', dtype=Int64)],\n"
        "                 source=FileSource(path='s.parquet', timestamp_field='ts'))\n"
        "svc = FeatureService(name='svc', features=[FeatureViewProjection('nope', ('a',)),\n"
        "                     FeatureViewProjection('stats', ('trips', 'miles'))])\n"
    )
    with pytest.raises(RepoValidationError) as info:
        load_repo(tmp_path)
    assert info.value.problems == [
        "defs.py: feature service 'svc' names feature view 'nope', which no repository file "
        "declares; declare it or remove it from the service",
        "defs.py: feature service 'svc' names feature stats:miles, but that view has only trips",
    ]
