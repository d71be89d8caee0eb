"""Redis behind Sentinel (Feast's ``redis_type: redis_sentinel``): the connection string
lists sentinels, which name the master that Silage then writes to and reads from.

The test starts a real sentinel (``redis-server --sentinel``) on a free port, watching the
test Redis server as ``mymaster``, and runs writes and reads through it.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from store.errors import OnlineStoreError
from store.online.backends.redis import RedisBackend
from tests.services import delete_redis_keys, redis_server, unique_name
from tests.store.online.test_backend_conformance import STATS, batch, stats_row
from tests.store.online.test_redis import settings


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def sentinel(tmp_path: Path) -> Iterator[int]:
    """A sentinel on localhost watching the test Redis as ``mymaster``: its port."""
    import redis

    server = urlsplit(redis_server())
    binary = shutil.which("redis-server")
    if binary is None:
        message = "redis-server is not installed (it runs the sentinel): apt install redis-server"
        if os.environ.get("CI", "").lower() == "true":
            pytest.fail(f"CI=true: {message}", pytrace=False)
        pytest.skip(message)
    port = _free_port()
    config = tmp_path / "sentinel.conf"  # the sentinel rewrites its own file
    config.write_text(
        f"port {port}\nbind 127.0.0.1\ndaemonize no\ndir {tmp_path}\n"
        f"sentinel monitor mymaster {server.hostname} {server.port or 6379} 1\n"
    )
    process = subprocess.Popen(
        [binary, str(config), "--sentinel"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        client = redis.Redis(host="127.0.0.1", port=port)
        deadline = time.monotonic() + 20
        while True:
            try:
                if client.execute_command("SENTINEL", "get-master-addr-by-name", "mymaster"):
                    break
            except redis.ConnectionError:
                pass
            if time.monotonic() > deadline or process.poll() is not None:
                raise AssertionError("the sentinel did not start")
            time.sleep(0.05)
        client.close()
        yield port
    finally:
        process.terminate()
        process.wait(10)


def test_writes_and_reads_go_to_the_master_a_sentinel_names(sentinel: int) -> None:
    prefix = unique_name() + ":"
    db = urlsplit(redis_server()).path.strip("/") or "0"
    store = RedisBackend.from_settings(
        settings(
            redis_type="redis_sentinel",
            connection_string=f"127.0.0.1:{sentinel},db={db}",
            sentinel_master="mymaster",
            key_prefix=prefix,
        )
    )
    try:
        store.sync_tables("p", [STATS], drop_missing=True)
        store.write(STATS, [batch(STATS, [stats_row(1, 10, 100), stats_row(2, 20, 100)])])
        store.write(STATS, [batch(STATS, [stats_row(1, 11, 99), stats_row(2, 21, 101)])])
        assert store.read(STATS, ["trips"], [[2, 1, 3]]) == [(21, 101), (10, 100), (None, None)]
        # The keys are on the server the sentinel watches, under the prefix.
        import redis

        direct = redis.Redis.from_url(redis_server())
        assert any(direct.scan_iter(match=prefix + "*", count=1000))
        direct.close()
    finally:
        store.close()
        delete_redis_keys(redis_server(), prefix)


def test_a_master_the_sentinels_do_not_know_is_a_clear_error(sentinel: int) -> None:
    store = RedisBackend.from_settings(
        settings(
            redis_type="redis_sentinel",
            connection_string=f"127.0.0.1:{sentinel}",
            sentinel_master="elsewhere",
            key_prefix=unique_name() + ":",
        )
    )
    try:
        with pytest.raises(OnlineStoreError, match="elsewhere"):
            store.read(STATS, ["trips"], [[1]])
    finally:
        store.close()
