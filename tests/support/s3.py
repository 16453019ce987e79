"""A real S3-compatible server for tests: moto's server mode on a free 127.0.0.1 port."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from types import TracebackType
from typing import Any

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
        # The key the test helpers (create_bucket, keys, boto) use; see enforce_iam.
        self.access_key = ACCESS_KEY
        self.secret_key = SECRET_KEY

    def start(self) -> MotoServer:
        exe = Path(sys.executable).with_name("moto_server")
        self.proc = subprocess.Popen(
            [str(exe), "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env={**os.environ, "MOTO_ALLOW_NONEXISTENT_REGION": "true"},
        )
        deadline = time.monotonic() + 90  # a loaded machine takes a while to import moto
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
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )

    def env(
        self, bucket: str, prefix: str = "", key: tuple[str, str] | None = None
    ) -> dict[str, str]:
        """Settings for `airlock serve` to use this server (with `key`: that access key)."""
        access_key, secret_key = key or (self.access_key, self.secret_key)
        return {
            "AIRLOCK_STORAGE": "s3",
            "AIRLOCK_S3_BUCKET": bucket,
            "AIRLOCK_S3_PREFIX": prefix,
            "AIRLOCK_S3_ENDPOINT_URL": self.url,
            "AIRLOCK_S3_REGION": "us-east-1",
            "AIRLOCK_S3_ACCESS_KEY_ID": access_key,
            "AIRLOCK_S3_SECRET_ACCESS_KEY": secret_key,
        }

    # --- IAM: moto checks signatures and policies once told to (issue #13, access denied) ---

    def iam_user(self, name: str, statements: list[dict[str, Any]]) -> tuple[str, str]:
        """An IAM user with an inline policy of `statements`; returns (key id, secret).
        Call before enforce_iam (or with an admin key in place)."""
        import boto3

        iam = boto3.client(
            "iam",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=self.access_key,
            aws_secret_access_key=self.secret_key,
        )
        iam.create_user(UserName=name)
        policy = {"Version": "2012-10-17", "Statement": statements}
        iam.put_user_policy(
            UserName=name, PolicyName=f"{name}-policy", PolicyDocument=json.dumps(policy)
        )
        key = iam.create_access_key(UserName=name)["AccessKey"]
        return key["AccessKeyId"], key["SecretAccessKey"]

    def enforce_iam(self, admin: tuple[str, str]) -> None:
        """From now on every request is authenticated and authorized against IAM.

        moto's INITIAL_NO_AUTH_ACTION_COUNT, set at run time through /moto-api/reset-auth
        (count 0: no more free requests) rather than in the environment at start-up, so the
        setup does not have to count its own requests. The helpers then use `admin`."""
        self._auth_count(b"0")
        self.access_key, self.secret_key = admin

    def relax_iam(self) -> None:
        """Back to moto's default: no request is checked (any key works again)."""
        self._auth_count(b"inf")
        self.access_key, self.secret_key = ACCESS_KEY, SECRET_KEY

    def _auth_count(self, count: bytes) -> None:
        resp = httpx.post(f"{self.url}/moto-api/reset-auth", content=count, timeout=10)
        resp.raise_for_status()


class StallServer:
    """An "S3 endpoint" on 127.0.0.1 that accepts connections and never answers in time.

    mode "silent": reads the request and says nothing. "trickle": answers one byte of a
    response head every `interval` seconds, forever (a read timeout alone never fires).
    "stall-body": answers a GET with a whole response head and the first bytes of the
    body, then nothing (the stream stalls mid-tarball)."""

    def __init__(self, mode: str = "silent", interval: float = 0.2) -> None:
        self.mode = mode
        self.interval = interval
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.connections = 0
        self._stop = threading.Event()
        self._conns: list[socket.socket] = []

    def __enter__(self) -> StallServer:
        threading.Thread(target=self._accept, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self.sock.close()
        for conn in self._conns:
            conn.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            self._conns.append(conn)
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            if self.mode == "silent":
                self._stop.wait()
            elif self.mode == "trickle":
                head = b"HTTP/1.1 200 OK\r\nx-amz-filler: " + b"a" * 100_000
                for byte in head:
                    if self._stop.wait(self.interval):
                        return
                    conn.sendall(bytes([byte]))
            else:  # stall-body
                conn.recv(65536)
                conn.sendall(
                    b"HTTP/1.1 200 OK\r\nContent-Length: 1000000\r\n"
                    b'ETag: "0123456789abcdef"\r\n'
                    b"Last-Modified: Tue, 01 Dec 2026 12:00:00 GMT\r\n"
                    b"Content-Type: application/octet-stream\r\n\r\n" + b"x" * 1000
                )
                self._stop.wait()
        except OSError:
            return


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
