"""The silage command line: commands, output and exit status (0 ok, 1 user error, 2 usage)."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from store.cli import main


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(list(args))
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def test_plan_apply_list_describe(
    make_repo: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = str(make_repo("basic"))
    code, out, _ = run(capsys, "--repo", repo, "plan")
    assert code == 0
    assert "+ create feature view driver_hourly_stats" in out
    code, out, _ = run(capsys, "--repo", repo, "apply")
    assert code == 0
    assert "4 created, 0 updated, 0 deleted; 1 online table change(s)." in out
    code, out, _ = run(capsys, "--repo", repo, "list", "feature-views")
    assert out.splitlines() == [
        "NAME                 VERSION  ENTITIES  FEATURES  TTL  ONLINE",
        "driver_hourly_stats  1        driver    3         1d   yes",
    ]
    code, out, _ = run(capsys, "--repo", repo, "list", "entities")
    assert out.splitlines()[1].split() == ["driver", "driver_id", "A", "driver"]
    code, out, _ = run(capsys, "--repo", repo, "describe", "driver_hourly_stats")
    assert out.startswith("feature view driver_hourly_stats v1 (hash ")
    assert "├── ttl_seconds: 86400" in out
    code, out, _ = run(capsys, "--repo", repo, "describe", "driver_hourly_stats", "--json")
    (described,) = json.loads(out)
    assert (described["kind"], described["version"]) == ("feature_view", 1)
    assert described["spec"]["ttl_seconds"] == 86400
    code, out, _ = run(capsys, "--repo", repo, "plan")
    assert "No changes" in out


def test_user_errors_exit_1_with_a_message_and_no_traceback(
    make_repo: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(capsys, "--repo", str(make_repo("dup_names")), "apply")
    assert code == 1
    assert err.startswith("Error: ")
    assert "declared twice" in err
    assert "Traceback" not in err
    code, _, err = run(capsys, "--repo", str(make_repo("bad_yaml", data=False)), "plan")
    assert (code, "not valid YAML at line 2" in err) == (1, True)
    code, _, err = run(capsys, "--repo", str(make_repo("basic")), "describe", "nope")
    assert code == 1
    assert "no object named 'nope'" in err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "list", "widgets")
    assert code == 2
    assert "Invalid value" in err
    code, _, _ = run(capsys, "no-such-command")
    assert code == 2


def test_list_before_apply_says_what_to_do(
    make_repo: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(capsys, "--repo", str(make_repo("basic")), "list", "feature-services")
    assert (code, out.strip()) == (0, "No feature services registered; run `silage apply`.")


def test_teardown_asks_unless_yes(
    make_repo: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = str(make_repo("basic"))
    run(capsys, "--repo", repo, "apply")
    code, out, _ = run(capsys, "--repo", repo, "teardown", "--yes")
    assert code == 0
    assert "removed" in out
    code, out, _ = run(capsys, "--repo", repo, "list", "feature-views")
    assert "No feature views registered" in out


def test_init_creates_a_repository_that_applies(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    target = tmp_path / "new_repo"
    code, out, _ = run(capsys, "init", str(target))
    assert code == 0
    assert (target / "feature_store.yaml").is_file()
    code, out, _ = run(capsys, "--repo", str(target), "apply")
    assert code == 0, out
    assert "created feature view driver_hourly_stats" in out
    code, _, err = run(capsys, "init", str(target))
    assert code == 1
    assert "already exists" in err


def test_registry_upgrade_and_version(
    make_repo: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = str(make_repo("basic"))
    code, out, _ = run(capsys, "--repo", repo, "registry", "upgrade")
    from registry import migrate

    head = migrate.HEAD_REVISION
    assert (code, out.strip()) == (0, f"Registry upgraded from revision (empty) to {head}.")
    code, out, _ = run(capsys, "--repo", repo, "registry", "upgrade")
    assert out.strip() == f"Registry already at revision {head}."
    code, out, _ = run(capsys, "version")
    assert out.startswith("silage ")


def test_console_script_runs_in_a_fresh_process(make_repo: Callable[..., Path]) -> None:
    repo = make_repo("basic")
    result = subprocess.run(
        [sys.executable, "-m", "store.cli", "--repo", str(repo), "plan"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("Project basic:")
    failing = subprocess.run(
        [sys.executable, "-m", "store.cli", "--repo", str(repo / "missing"), "plan"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert failing.returncode == 1
    assert "silage init" in failing.stderr


def test_materialize_commands_print_plainly_off_a_terminal(
    make_repo: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    repo = str(make_repo("basic"))
    run(capsys, "--repo", repo, "apply")
    code, out, _ = run(capsys, "--repo", repo, "materialize", "2026-01-01", "2026-01-01T02:00:00Z")
    assert code == 0
    assert out.startswith(
        "driver_hourly_stats: 3 rows from 2026-01-01 00:00:00 to 2026-01-01 02:00:00 UTC in "
    )
    assert "\r" not in out
    code, out, _ = run(capsys, "--repo", repo, "materialize-incremental", "2026-01-01T03:00:00")
    assert "driver_hourly_stats: 3 rows from 2026-01-01 02:00:00 to 2026-01-01 03:00:00" in out
    code, _, err = run(capsys, "--repo", repo, "materialize", "2026-01-02", "2026-01-01")
    assert (code, "is before start_date" in err) == (1, True)
    code, _, err = run(capsys, "--repo", repo, "materialize", "soon", "2026-01-01")
    assert code == 2
    assert "is not an ISO time" in err


def test_model_registry_commands(
    make_repo: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from store import FeatureStore

    repo = make_repo("basic")
    with FeatureStore(repo_path=repo) as fs:
        fs.apply()
        fs.model_registry.register_model(
            "ranker", {"w": 1}, metrics={"auc": 0.7}, serializer="pickle"
        )
        fs.model_registry.register_model(
            "ranker", {"w": 2}, metrics={"auc": 0.8}, serializer="pickle"
        )
    r = str(repo)
    code, out, _ = run(capsys, "--repo", r, "models", "list")
    assert out.splitlines()[1].split() == ["ranker", "2", "2", "-"]
    code, out, _ = run(capsys, "--repo", r, "models", "alias", "ranker", "champion", "2")
    assert out.strip().endswith("- -> v2")
    code, out, _ = run(
        capsys,
        "--repo",
        r,
        "deploy",
        "ranker",
        "production",
        "1",
        "--canary",
        "2:10",
        "--reason",
        "try",
    )
    assert code == 0
    assert "v1 primary 90%, v2 canary 10% - try" in out
    code, out, _ = run(capsys, "--repo", r, "promote", "ranker", "production")
    assert "revision 2 (promote)" in out
    code, out, _ = run(capsys, "--repo", r, "rollback", "ranker", "production")
    assert "revision 3 (rollback)" in out
    code, out, _ = run(capsys, "--repo", r, "deployments")
    assert out.splitlines()[1].split()[:3] == ["production", "ranker", "3"]
    code, out, _ = run(
        capsys, "--repo", r, "deployments", "ranker", "production", "--at", "2999-01-01"
    )
    assert out.startswith("ranker in production: revision 3 (rollback)")
    code, out, _ = run(capsys, "--repo", r, "models", "search", "alias = 'champion'")
    assert out.splitlines()[1].split()[:2] == ["ranker", "2"]
    code, out, _ = run(capsys, "--repo", r, "models", "show", "ranker", "--alias", "champion")
    assert out.startswith("ranker v2 (champion): builtins.dict, registered ")
    assert "├── metrics\n│   └── auc: 0.8" in out
    code, out, _ = run(capsys, "--repo", r, "models", "show", "ranker", "--json")
    assert json.loads(out)["version"] == 2
    # the version is an argument, as for models card and lineage; --version still works
    for args in (["1"], ["--version", "1"]):
        code, out, _ = run(capsys, "--repo", r, "models", "show", "ranker", *args, "--json")
        assert (code, json.loads(out)["version"]) == (0, 1)
    code, _, err = run(capsys, "--repo", r, "models", "show", "ranker", "1", "--version", "2")
    assert (code, "VERSION 1 and --version 2 disagree" in err) == (2, True)
    code, _, err = run(
        capsys, "--repo", r, "deploy", "ranker", "staging", "--version", "1", "--canary", "2:150"
    )
    assert (code, "not in 0..100" in err) == (1, True)
    code, out, _ = run(capsys, "--repo", r, "training-sets", "list")
    assert out.strip() == "No training sets saved."


def test_every_command_but_serve_takes_json() -> None:
    import click

    from store.cli import cli

    def commands(group: click.Group, path: str) -> list[tuple[str, click.Command]]:
        found = []
        for name, command in group.commands.items():
            if isinstance(command, click.Group):
                found += commands(command, f"{path} {name}")
            else:
                found.append((f"{path} {name}", command))
        return found

    missing = [
        path
        for path, command in commands(cli, "silage")
        if path != "silage serve" and "--json" not in {o for p in command.params for o in p.opts}
    ]
    assert missing == []


def test_json_output_is_the_value_people_see_as_text(
    make_repo: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from store import FeatureStore

    repo = make_repo("basic")
    r = str(repo)
    code, out, _ = run(capsys, "--repo", r, "apply", "--json")
    applied = json.loads(out)
    assert (code, applied["project"]) == (0, "basic")
    assert {o["action"] for o in applied["objects"]} == {"create"}
    with FeatureStore(repo_path=repo) as fs:
        fs.model_registry.register_model("ranker", {"w": 1}, serializer="pickle")
    code, out, _ = run(capsys, "--repo", r, "list", "feature-views", "--json")
    assert [v["name"] for v in json.loads(out)] == ["driver_hourly_stats"]
    code, out, _ = run(capsys, "--repo", r, "deploy", "ranker", "production", "1", "--json")
    deployed = json.loads(out)
    assert (deployed["revision"], deployed["targets"][0]["version"]) == (1, 1)
    assert deployed["created_at"].endswith("+00:00")
    code, out, _ = run(capsys, "--repo", r, "models", "list", "--json")
    assert json.loads(out) == [{"name": "ranker", "versions": 1, "latest": 1, "aliases": {}}]
    code, out, _ = run(capsys, "--repo", r, "version", "--json")
    assert set(json.loads(out)) == {"version"}


def test_promote_errors_name_the_command_that_fixes_them(
    make_repo: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    from store import FeatureStore

    repo = make_repo("basic")
    with FeatureStore(repo_path=repo) as fs:
        fs.apply()
        fs.model_registry.register_model("ranker", {"w": 1}, serializer="pickle")
    r = str(repo)
    code, _, err = run(capsys, "--repo", r, "promote", "ranker", "nowhere")
    assert code == 1
    assert "ranker is not deployed in environment 'nowhere'" in err
    assert "`silage deploy ranker nowhere VERSION`" in err
    run(capsys, "--repo", r, "deploy", "ranker", "production", "1")
    code, _, err = run(capsys, "--repo", r, "promote", "ranker", "production")
    assert code == 1
    assert "`silage deploy ranker production PRIMARY --canary VERSION:SHARE`" in err


def test_lineage_is_a_tree_with_each_source_once(
    make_repo: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    import pandas as pd

    from store import FeatureStore
    from tests.conftest import T0

    repo = make_repo("basic")
    with FeatureStore(repo_path=repo) as fs:
        fs.apply()
        entities = pd.DataFrame({"driver_id": [1001, 1002], "event_timestamp": [T0, T0]})
        features = [
            "driver_hourly_stats:conv_rate",
            "driver_hourly_stats:acc_rate",
            "driver_hourly_stats:avg_daily_trips",
        ]
        fs.get_historical_features(entities, features).save("small")
        fs.model_registry.register_model(
            "ranker", {"w": 1}, training_set="small", serializer="pickle"
        )
    code, out, _ = run(capsys, "--repo", str(repo), "models", "lineage", "ranker", "1")
    assert code == 0
    lines = out.splitlines()
    assert lines[:3] == [
        "ranker v1",
        "└── training set small",
        "    └── source data/driver_stats.parquet",
    ]
    assert lines[3] == "        └── view driver_hourly_stats v1"
    assert [line.split()[-1] for line in lines[4:]] == ["conv_rate", "acc_rate", "avg_daily_trips"]
    assert sum("source " in line for line in lines) == 1
    code, out, _ = run(
        capsys,
        "--repo",
        str(repo),
        "models",
        "lineage",
        "driver_hourly_stats",
        "--feature",
        "conv_rate",
    )
    assert out.splitlines() == [
        "feature view driver_hourly_stats, feature conv_rate",
        "└── ranker v1",
    ]
    code, out, _ = run(capsys, "--repo", str(repo), "models", "lineage", "ranker", "1", "--json")
    assert json.loads(out)["training_set"] == "small"
