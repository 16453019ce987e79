"""A real S3-compatible server for tests: moto's server mode on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from types import TracebackType

import httpx

from tests.support.server import free_port

# AIRLOCK_TEST_STORAGE=s3 runs the live-server tests with S3 storage (make test-s3).
STORAGE = os.environ.get("AIRLOCK_TEST_STORAGE", "filesystem")
ACCESS_KEY = "testing-access-key"
SECRET_KEY = "testing-secret-key"


class MotoServer:
    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> MotoServer:
        exe = Path(sys.executable).with_name("moto_server")
        self.proc = subprocess.Popen(
            [str(exe), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
        )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                httpx.get(f"{self.url}/moto-api/", timeout=1)
                return self
            except httpx.HTTPError:
                time.sleep(0.1)
        self.stop()
        raise RuntimeError("moto_server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def __enter__(self) -> MotoServer:
        return self.start()

    def __exit__(
        self, t: type[BaseException] | None, v: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def create_bucket(self, name: str | None = None) -> str:
        bucket = name or f"airlock-{uuid.uuid4().hex[:12]}"
        self.boto().create_bucket(Bucket=bucket)
        return bucket

    def keys(self, bucket: str) -> set[str]:
        pages = self.boto().get_paginator("list_objects_v2").paginate(Bucket=bucket)
        return {obj["Key"] for page in pages for obj in page.get("Contents", [])}

    def boto(self):  # type: ignore[no-untyped-def]
        import boto3

        return boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=ACCESS_KEY,
            aws_secret_access_key=SECRET_KEY,
        )

    def env(self, bucket: str, prefix: str = "") -> dict[str, str]:
        """Settings for `airlock serve` to use this server."""
        return {
            "AIRLOCK_STORAGE": "s3",
            "AIRLOCK_S3_BUCKET": bucket,
            "AIRLOCK_S3_PREFIX": prefix,
            "AIRLOCK_S3_ENDPOINT_URL": self.url,
            "AIRLOCK_S3_REGION": "us-east-1",
            "AIRLOCK_S3_ACCESS_KEY_ID": ACCESS_KEY,
            "AIRLOCK_S3_SECRET_ACCESS_KEY": SECRET_KEY,
        }


def stored_tarballs(server) -> set[str]:  # type: ignore[no-untyped-def]
    """Tarball keys a live server's blob store holds, on disk or in its S3 bucket."""
    env = server.env
    if env.get("AIRLOCK_STORAGE") != "s3":
        root = server.data / "blobs"
        return {str(p.relative_to(root)) for p in root.rglob("*.tgz")}
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=env["AIRLOCK_S3_ENDPOINT_URL"],
        region_name=env["AIRLOCK_S3_REGION"],
        aws_access_key_id=env["AIRLOCK_S3_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AIRLOCK_S3_SECRET_ACCESS_KEY"],
    )
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=env["AIRLOCK_S3_BUCKET"])
    keys = {obj["Key"] for page in pages for obj in page.get("Contents", [])}
    return {k for k in keys if k.endswith(".tgz")}
