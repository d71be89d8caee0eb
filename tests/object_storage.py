"""An S3-compatible server for tests: moto's server mode, started as a process on localhost.

Nothing talks to the internet: the server keeps buckets in its own memory and is stopped
when the test session ends. Each test makes a bucket of its own (:func:`fresh_bucket`).
"""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from tests.services import unique_name

CREDENTIALS = {"key": "testing", "secret": "testing"}


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@contextmanager
def s3_server() -> Iterator[str]:
    """A moto S3 server process on a free localhost port; yields its endpoint URL."""
    port = _free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(300):  # up to 30 s on a busy machine
            try:
                with socket.create_connection(("127.0.0.1", port), 0.1):
                    break
            except OSError:
                if process.poll() is not None:
                    raise RuntimeError("moto's S3 server exited at start") from None
                time.sleep(0.1)
        else:
            raise RuntimeError("moto's S3 server did not start listening within 30 s")
        yield f"http://127.0.0.1:{port}"
    finally:
        process.terminate()
        process.wait(timeout=30)


def storage_options(endpoint: str) -> dict[str, Any]:
    """s3fs options for the test server."""
    return {**CREDENTIALS, "endpoint_url": endpoint, "client_kwargs": {"region_name": "us-east-1"}}


@contextmanager
def fresh_bucket(endpoint: str) -> Iterator[str]:
    """A new bucket on the test server; yields ``s3://bucket/prefix``, removed afterwards."""
    import s3fs

    fs = s3fs.S3FileSystem(**storage_options(endpoint), skip_instance_cache=True)
    bucket = unique_name("silage-test").replace("_", "-")
    # CreateBucket without a location constraint: us-east-1, which moto accepts.
    fs.call_s3("create_bucket", Bucket=bucket)
    try:
        yield f"s3://{bucket}/team"
    finally:
        fs.rm(bucket, recursive=True)
