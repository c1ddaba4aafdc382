"""A real S3-compatible server for tests: moto's server mode (``moto[server]``) on a free loopback port.

The tests talk to it over HTTP with boto3 exactly as production talks to MinIO or AWS S3; nothing
in boto is mocked. ``s3_server`` skips, with the reason, when moto's server is not installed.
"""

from __future__ import annotations

import importlib.util
import sys
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from scripts.local_stack import free_port, start, stop

ACCESS_KEY = "partedit-test"
SECRET_KEY = "partedit-test-secret"
REGION = "us-east-1"


@dataclass
class S3Server:
    """A running S3-compatible endpoint and the environment that points PartEdit at one of its buckets."""

    endpoint_url: str

    def env(self, bucket: str) -> dict[str, str]:
        """PartEdit's environment variables for media storage in ``bucket`` on this server."""
        return {"PARTEDIT_STORAGE": "s3", "PARTEDIT_S3_BUCKET": bucket,
                "PARTEDIT_S3_ENDPOINT_URL": self.endpoint_url, "PARTEDIT_S3_REGION": REGION,
                "PARTEDIT_S3_ACCESS_KEY_ID": ACCESS_KEY, "PARTEDIT_S3_SECRET_ACCESS_KEY": SECRET_KEY}

    def storage_setting(self, bucket: str) -> dict[str, Any]:
        """The STORAGES["default"] entry webapp/settings.py builds from ``env(bucket)``."""
        return {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {
            "bucket_name": bucket, "endpoint_url": self.endpoint_url, "region_name": REGION,
            "access_key": ACCESS_KEY, "secret_key": SECRET_KEY, "addressing_style": "path",
            "signature_version": "s3v4", "file_overwrite": True, "default_acl": None,
            "querystring_auth": True}}

    def client(self) -> Any:
        """A boto3 S3 client of this server."""
        import boto3

        return boto3.client("s3", endpoint_url=self.endpoint_url, region_name=REGION,
                            aws_access_key_id=ACCESS_KEY, aws_secret_access_key=SECRET_KEY)

    def create_bucket(self, bucket: str) -> str:
        """Create ``bucket`` and return its name."""
        self.client().create_bucket(Bucket=bucket)
        return bucket

    def keys(self, bucket: str) -> list[str]:
        """Every object key in ``bucket``, sorted."""
        listing = self.client().list_objects_v2(Bucket=bucket)
        return sorted(item["Key"] for item in listing.get("Contents", []))


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 server on a free port for the whole session."""
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        pytest.skip("no S3-compatible server: moto's server mode is missing (pip install 'moto[server]')")
    port = free_port()
    log_path: Path = tmp_path_factory.mktemp("s3") / "moto.log"
    with log_path.open("wb") as log:
        server = start("moto s3", [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
                       {"PATH": "/usr/bin:/bin"}, log)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                urllib.request.urlopen(f"{url}/moto-api/", timeout=1).close()
                break
            except OSError as error:
                if not server.alive() or time.monotonic() > deadline:
                    message = f"moto's S3 server did not start:\n{log_path.read_text()}"
                    raise AssertionError(message) from error
                time.sleep(0.2)
        yield S3Server(url)
    finally:
        stop([server])
