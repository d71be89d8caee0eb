"""Feature-service logging: a service with a ``logging_config`` logs what it served (keys,
request values, stored and on-demand features, statuses, times, request id) to Parquet,
sampled per request (1.0: all, 0: none, a fraction: the same requests every time), written
in the background and read back as one table."""

from __future__ import annotations

import logging
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from store import (
    DefinitionError,
    FeatureService,
    FeatureStore,
    FileLoggingDestination,
    LoggingConfig,
    RequestError,
)
from store.cli import main
from store.errors import FeatureLogError
from store.online.read import NOT_FOUND, PRESENT
from store.serving.feature_log import FeatureLogger, is_sampled
from store.serving.server import create_app
from tests.conftest import T0
from tests.object_storage import CREDENTIALS, fresh_bucket, storage_options
from tests.services import unique_name
from tests.store.online.test_push import open_push_store, rows

H = timedelta(hours=1)


def served(make_repo: Callable[..., Path]) -> FeatureStore:
    fs = open_push_store(make_repo)
    fs.push("stats_push", rows([1001, 1002], T0 + 5 * H, [50, 51]))
    return fs


def test_every_request_is_logged_at_rate_one(make_repo: Callable[..., Path]) -> None:
    fs = served(make_repo)
    service = fs.get_feature_service("driver_activity")
    before = datetime.now(UTC)
    fs.get_online_features(
        service,
        [{"driver_id": 1001, "bonus": 1.0}, {"driver_id": 7, "bonus": 2.0}],
        request_id="first",
    )
    fs.get_online_features(service, {"driver_id": [1002], "bonus": [0.5]}, request_id="second")
    logs = fs.read_feature_logs("driver_activity")
    assert logs["__request_id"].tolist() == ["first", "first", "second"]
    assert logs["driver_id"].tolist() == [1001, 7, 1002]
    assert logs["bonus"].tolist() == [1.0, 2.0, 0.5]  # request values
    assert logs["avg_daily_trips"].tolist()[::2] == [50, 51]
    assert logs["avg_daily_trips__status"].tolist() == [PRESENT, NOT_FOUND, PRESENT]
    assert logs["rate_plus_bonus"].tolist()[0] == pytest.approx(1.9)  # an on-demand output
    assert logs["conv_rate__timestamp"].tolist()[0] == T0 + 5 * H
    assert (logs["__log_timestamp"] >= before).all()
    # the time window selects by when the rows were served
    assert fs.read_feature_logs("driver_activity", end_date=before - H).empty
    assert len(fs.read_feature_logs("driver_activity", start_date=before)) == 3
    files = list((fs.repo_path / "data" / "feature_logs" / "driver_activity").rglob("*"))
    assert [f for f in files if f.suffix == ".parquet"]
    assert not [f for f in files if f.name.startswith(".")]  # no temporary file left


def test_nothing_is_logged_at_rate_zero(make_repo: Callable[..., Path]) -> None:
    fs = served(make_repo)
    service = fs.get_feature_service("silent_activity")
    for i in range(20):
        fs.get_online_features(service, [{"driver_id": 1001}], request_id=f"r{i}")
    assert fs.read_feature_logs(service).empty


def test_a_fraction_samples_the_same_requests_every_time(make_repo: Callable[..., Path]) -> None:
    fs = served(make_repo)
    service = fs.get_feature_service("sampled_activity")  # sample_rate=0.3
    ids = [f"request-{i}" for i in range(300)]
    for request_id in ids:
        fs.get_online_features(service, [{"driver_id": 1001}], request_id=request_id)
    logged = fs.read_feature_logs(service)["__request_id"].tolist()
    expected = [i for i in ids if is_sampled(i, 0.3)]
    assert logged == expected
    assert 0.2 * len(ids) < len(expected) < 0.4 * len(ids)


def test_rows_are_written_in_the_background(make_repo: Callable[..., Path]) -> None:
    fs = served(make_repo)
    fs.get_online_features(
        fs.get_feature_service("sampled_activity"), [{"driver_id": 1}], request_id="request-1"
    )  # sampled at 0.3 (checked below)
    assert is_sampled("request-1", 0.3)
    folder = fs.repo_path / "data" / "feature_logs" / "sampled_activity"
    deadline = time.monotonic() + 10
    while not list(folder.rglob("*.parquet")) and time.monotonic() < deadline:
        time.sleep(0.05)  # no flush asked for: the writer thread writes within a second
    assert list(folder.rglob("*.parquet"))
    fs.close()


def test_services_without_logging_log_nothing_and_say_so(make_repo: Callable[..., Path]) -> None:
    fs = served(make_repo)
    plain = FeatureService(name="plain", features=[fs.get_feature_view("driver_stats_fresh")])
    fs.get_online_features(plain, [{"driver_id": 1001}])
    assert not (fs.repo_path / "data" / "feature_logs").exists()
    with pytest.raises(RequestError, match="'plain' has no logging_config"):
        fs.read_feature_logs(plain)


def test_http_reads_of_a_logged_service_are_logged(make_repo: Callable[..., Path]) -> None:
    fs = served(make_repo)
    with TestClient(create_app(fs, refresh_seconds=0)) as client:
        answer = client.post(
            "/get-online-features",
            json={
                "feature_service": "driver_activity",
                "entities": {"driver_id": [1002], "bonus": [1.0]},
                "request_id": "over-http",
            },
        )
        assert answer.status_code == 200, answer.text
    logs = fs.read_feature_logs("driver_activity")
    assert logs["__request_id"].tolist() == ["over-http"]
    assert logs["avg_daily_trips"].tolist() == [51]


def test_service_skew_compares_the_log_with_the_sources(
    make_repo: Callable[..., Path], capsys: pytest.CaptureFixture[str]
) -> None:
    """The log feeds the training-serving comparison: values pushed to both stores equal
    what a training set reads at the time they were served (the on-demand output computed
    from the logged request value included); a value pushed online only is a difference."""
    fs = open_push_store(make_repo)
    service = fs.get_feature_service("driver_activity")
    at = datetime.now(UTC) - timedelta(minutes=1)
    fs.push("stats_push", rows([1001], at, [50]), to="online_and_offline")
    fs.get_online_features(service, [{"driver_id": 1001, "bonus": 1.0}], request_id="a")
    same = fs.service_skew("driver_activity")
    assert same.predictions == 1
    assert same.consistent, same.render()
    assert {f.feature for f in same.features} >= {"avg_daily_trips", "rate_plus_bonus"}
    fs.push("stats_push", rows([1001], at + timedelta(seconds=30), [77]), to="online")
    fs.get_online_features(service, [{"driver_id": 1001, "bonus": 2.0}], request_id="b")
    skewed = fs.service_skew(service)
    trips = {f.feature: f for f in skewed.features}["avg_daily_trips"]
    assert (skewed.predictions, trips.compared, trips.different) == (2, 2, 1)
    assert trips.examples[0]["served"] == 77
    assert trips.examples[0]["offline"] == 50
    fs.flush_feature_logs()
    with pytest.raises(SystemExit) as exit_info:
        main(["--repo", str(fs.repo_path), "monitor", "service-skew", "driver_activity"])
    assert exit_info.value.code == 1  # skew found
    assert "served 77, sources 50" in capsys.readouterr().out


# --- logs in S3, for serving processes on several hosts ---------------------------------------


def _log_to(repo: Path, uri: str, endpoint: str) -> None:
    """Point every logged service of the push repository at ``uri`` on ``endpoint``."""
    path = repo / "definitions.py"
    path.write_text(
        path.read_text().replace(
            'FileLoggingDestination(path="data/feature_logs")',
            f'FileLoggingDestination(path="{uri}", s3_endpoint_override="{endpoint}")',
        )
    )


def test_two_hosts_log_to_one_s3_folder_and_read_it_as_one_table(
    make_repo: Callable[..., Path],
    s3_endpoint: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Two checkouts (two serving hosts) log one service to the same bucket; each reads
    both hosts' rows. The first finds its credentials in the AWS environment, the second in
    its artifact store's storage_options (an S3 artifact store lends them to S3 logs)."""
    with fresh_bucket(s3_endpoint) as bucket:
        first = make_repo("push")
        _log_to(first, f"{bucket}/feature_logs", s3_endpoint)
        monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["key"])
        monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["secret"])
        monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
        a = served(lambda _name: first)
        service = a.get_feature_service("driver_activity")
        a.get_online_features(service, {"driver_id": [1001], "bonus": [1.0]}, request_id="a1")
        a.flush_feature_logs()
        assert not (first / "data" / "feature_logs").exists()  # nothing on the host's disk

        second = Path(shutil.copytree(first, tmp_path / "elsewhere"))
        config = second / "feature_store.yaml"
        options = {"key": CREDENTIALS["key"], "secret": CREDENTIALS["secret"]}
        config.write_text(
            config.read_text()
            + f"artifact_store: {{uri: '{bucket}/artifacts', storage_options: {options}}}\n"
        )
        for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
            monkeypatch.delenv(name)
        b = FeatureStore(repo_path=second)
        b.get_online_features(service, {"driver_id": [1002], "bonus": [2.0]}, request_id="b1")

        for reader in (b, a):
            logs = reader.read_feature_logs("driver_activity")
            assert logs["__request_id"].tolist() == ["a1", "b1"]
            assert logs["driver_id"].tolist() == [1001, 1002]
            assert logs["avg_daily_trips"].tolist() == [50, 51]
        a.close()
        b.close()


def test_an_unwritable_s3_folder_keeps_the_rows_and_says_where(
    make_repo: Callable[..., Path], s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing bucket: the write fails with the destination named, the rows wait in
    memory, and once the bucket exists the next flush writes them."""
    import s3fs

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["secret"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    bucket = unique_name("silage-absent").replace("_", "-")
    repo = make_repo("push")
    _log_to(repo, f"s3://{bucket}/logs", s3_endpoint)
    fs = served(lambda _name: repo)
    service = fs.get_feature_service("driver_activity")
    fs.get_online_features(service, {"driver_id": [1001], "bonus": [1.0]}, request_id="kept")
    with pytest.raises(
        FeatureLogError,
        match=rf"'driver_activity' to s3://{bucket}/logs/driver_activity: FileNotFoundError",
    ):
        fs.flush_feature_logs()
    client = s3fs.S3FileSystem(**storage_options(s3_endpoint), skip_instance_cache=True)
    client.call_s3("create_bucket", Bucket=bucket)
    try:
        assert fs.read_feature_logs(service)["__request_id"].tolist() == ["kept"]
    finally:
        fs.close()
        client.rm(bucket, recursive=True)


def test_log_destinations_are_checked_where_declared() -> None:
    with pytest.raises(DefinitionError, match="an S3 URI such as 's3://bucket/feature_logs'"):
        FileLoggingDestination(path="gs://bucket/logs")
    with pytest.raises(DefinitionError, match="s3_endpoint_override is for s3:// paths"):
        FileLoggingDestination(path="data/logs", s3_endpoint_override="http://minio:9000")
    assert FileLoggingDestination(path="s3://b/logs/").path == "s3://b/logs"
    with pytest.raises(DefinitionError, match="a Path cannot hold a URI"):
        FileLoggingDestination(path=Path("s3://b/logs"))  # type: ignore[arg-type]


def test_an_unreachable_destination_bounds_the_buffer_and_the_writer_lives_on(
    make_repo: Callable[..., Path], caplog: pytest.LogCaptureFixture
) -> None:
    """Nothing listens at the endpoint (botocore's errors are not OSErrors): every request
    still answers, at most max_buffered_rows rows wait (the oldest dropped, counted), flush
    names the destination, and the background writer keeps trying, warning once."""
    repo = make_repo("push")
    _log_to(repo, "s3://nowhere/logs", "http://127.0.0.1:1")
    fs = served(lambda _name: repo)
    options = {
        **CREDENTIALS,
        "config_kwargs": {"connect_timeout": 1, "retries": {"max_attempts": 1}},
    }
    logger = FeatureLogger(repo, storage_options=options, flush_seconds=600, max_buffered_rows=3)
    fs.__dict__["_feature_logger"] = logger
    service = fs.get_feature_service("driver_activity")
    for i in range(5):
        fs.get_online_features(service, {"driver_id": [1001], "bonus": [1.0]}, request_id=f"r{i}")
    with pytest.raises(
        FeatureLogError,
        match=r"to s3://nowhere/logs/driver_activity: Endpoint.*3 rows not written",
    ):
        fs.flush_feature_logs()
    logger._flush_seconds = 0.05  # let the writer run: it fails, warns, backs off
    with caplog.at_level(logging.WARNING, logger="store.serving.feature_log"):
        logger._wake.set()
        deadline = time.monotonic() + 60
        while logger._failures < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
    assert logger._failures >= 2
    assert logger._thread is not None
    assert logger._thread.is_alive()
    warnings = [r.getMessage() for r in caplog.records]
    assert sum("EndpointConnectionError" in w for w in warnings) == 1  # once per streak
    assert any("2 rows dropped" in w for w in warnings)
    with pytest.raises(FeatureLogError, match=r"3 rows not written.*closing: those rows are lost"):
        fs.close()  # the rows cannot be written; everything else is closed all the same


def test_s3_logs_without_credentials_say_so(
    make_repo: Callable[..., Path], s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    repo = make_repo("push")
    _log_to(repo, "s3://some-bucket/logs", s3_endpoint)
    fs = served(lambda _name: repo)
    service = fs.get_feature_service("driver_activity")
    fs.get_online_features(service, {"driver_id": [1001], "bonus": [1.0]})
    with pytest.raises(FeatureLogError, match=r"some-bucket/logs/driver_activity: NoCredentials"):
        fs.read_feature_logs(service)
    with pytest.raises(FeatureLogError, match="NoCredentialsError"):
        fs.close()


EXITS_WITHOUT_CLOSE = """
import sys
from store import FeatureStore
fs = FeatureStore(repo_path=sys.argv[1])
service = fs.get_feature_service("driver_activity")
fs.get_online_features(service, {"driver_id": [1001], "bonus": [1.0]}, request_id="last")
"""


def test_rows_buffered_at_exit_reach_s3(
    make_repo: Callable[..., Path], s3_endpoint: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A script that logs and exits without closing the store: its exit hook writes the
    row before the thread pool s3fs resolves names on shuts down."""
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["key"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["secret"])
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    with fresh_bucket(s3_endpoint) as bucket:
        repo = make_repo("push")
        _log_to(repo, f"{bucket}/feature_logs", s3_endpoint)
        fs = served(lambda _name: repo)
        done = subprocess.run(
            [sys.executable, "-c", EXITS_WITHOUT_CLOSE, str(repo)],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "lost" not in done.stderr
        logs = fs.read_feature_logs("driver_activity")
        assert logs["__request_id"].tolist() == ["last"]
        fs.close()


def test_request_values_of_mixed_number_types_are_logged(
    make_repo: Callable[..., Path],
) -> None:
    """JSON's 1 and 1.5 for one request value: both rows kept, read back as floats."""
    fs = served(make_repo)
    service = fs.get_feature_service("driver_activity")
    fs.get_online_features(service, {"driver_id": [1001], "bonus": [1]}, request_id="int")
    fs.flush_feature_logs()  # one file with an integer column...
    fs.get_online_features(service, {"driver_id": [1002], "bonus": [1.5]}, request_id="float")
    fs.get_online_features(service, {"driver_id": [1001], "bonus": [2]}, request_id="int2")
    logs = fs.read_feature_logs(service)  # ...and one mixing both
    assert logs["__request_id"].tolist() == ["int", "float", "int2"]
    assert logs["bonus"].tolist() == [1.0, 1.5, 2.0]


def test_one_unwritable_destination_does_not_hold_up_the_others(
    make_repo: Callable[..., Path],
) -> None:
    fs = served(make_repo)
    blocker = fs.repo_path / "blocker"
    blocker.write_text("a file where a folder should be")
    healthy = fs.get_feature_service("driver_activity")
    broken = FeatureService(
        name="broken",
        features=[fs.get_feature_view("driver_stats_fresh")[["conv_rate"]]],
        logging_config=LoggingConfig(destination=FileLoggingDestination(path="blocker/logs")),
    )
    for _ in range(2):  # the broken rows go back first; the healthy ones are still tried
        fs.get_online_features(broken, [{"driver_id": 1001}], request_id="b")
        fs.get_online_features(healthy, {"driver_id": [1001], "bonus": [1.0]}, request_id="h")
        with pytest.raises(FeatureLogError, match=rf"'broken' to {blocker}/logs/broken: "):
            fs.flush_feature_logs()
    written = list((fs.repo_path / "data" / "feature_logs" / "driver_activity").rglob("*.parquet"))
    assert len(written) == 2
    with pytest.raises(FeatureLogError, match="2 rows not written"):
        fs.close()  # the broken service's two requests, re-queued each time
