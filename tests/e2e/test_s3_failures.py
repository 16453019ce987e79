"""S3 refusing or not answering (issue #13: "S3 errors are 503 with a clear message and no
half-written state"), against real servers: moto's S3 server on 127.0.0.1 with IAM checks
turned on (wrong secret, a read-only key, a key that may not read), a tiny TCP server that
accepts and never answers, and live `airlock serve` processes with the npm CLI.

Self-contained (the tests start every server they use), so it runs in the normal suites;
IAM checks are on only during the tests that ask for them.
"""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import text

from airlock.db.engine import Database
from airlock.settings import normalise_database_url
from tests.support.packages import make_package_dir, publish_body
from tests.support.s3 import MotoServer, StallServer
from tests.support.users import signup

ALLOW_ALL = {"Effect": "Allow", "Action": "*", "Resource": "*"}
READ_ONLY = [
    {"Effect": "Allow", "Action": ["s3:GetObject", "s3:ListBucket"], "Resource": "*"},
    {"Effect": "Deny", "Action": ["s3:PutObject"], "Resource": "*"},
]
NO_READ = [
    {
        "Effect": "Allow",
        "Action": ["s3:PutObject", "s3:DeleteObject", "s3:ListBucket"],
        "Resource": "*",
    },
    {"Effect": "Deny", "Action": ["s3:GetObject"], "Resource": "*"},
]


@dataclass
class IamMoto:
    moto: MotoServer
    admin: tuple[str, str]
    read_only: tuple[str, str]
    no_read: tuple[str, str]

    def env(self, bucket: str, key: tuple[str, str], **extra: str) -> dict[str, str]:
        return {**self.moto.env(bucket, prefix="reg/", key=key), **extra}


_USERS: dict[int, IamMoto] = {}


@pytest.fixture
def iam(moto: MotoServer) -> Iterator[IamMoto]:
    """The worker's moto server checking every request against IAM for this one test
    (tests on a worker run one at a time; the IAM users are made once per server)."""
    keys = _USERS.get(moto.port)
    if keys is None:
        keys = _USERS[moto.port] = IamMoto(
            moto,
            admin=moto.iam_user("admin", [ALLOW_ALL]),
            read_only=moto.iam_user("reader", READ_ONLY),
            no_read=moto.iam_user("blind-writer", NO_READ),
        )
    moto.enforce_iam(keys.admin)
    try:
        yield keys
    finally:
        moto.relax_iam()


def _rows(server: Any) -> dict[str, int]:
    """How many package, version and blob-registry (claim) rows the database holds."""

    async def query() -> dict[str, int]:
        db = Database(normalise_database_url(server.database_url))
        try:
            async with db.read() as session:
                return {
                    table: (
                        await session.execute(text(f"SELECT count(*) FROM {table}"))
                    ).scalar_one()
                    for table in ("packages", "versions", "blobs")
                }
        finally:
            await db.dispose()

    return asyncio.run(query())


def _auth(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


def _publish(server: Any, token: str, name: str, version: str) -> httpx.Response:
    return httpx.put(
        f"{server.url}/{name}",
        json=publish_body(name, version),
        headers=_auth(token),
        timeout=60,
    )


def _app(tmp_path: Path) -> Path:
    app = tmp_path / f"app-{uuid.uuid4().hex[:6]}"
    app.mkdir()
    (app / "package.json").write_text('{"name": "app", "version": "1.0.0"}')
    return app


def test_a_wrong_secret_is_not_ready_and_a_publish_is_a_503_that_leaves_nothing(
    server_factory, npm_factory, iam, tmp_path
):
    bucket = iam.moto.create_bucket()
    key_id, secret = iam.admin
    wrong = f"wrong-secret-{uuid.uuid4().hex}"
    server = server_factory(env=iam.env(bucket, (key_id, wrong)))

    ready = httpx.get(f"{server.url}/-/ready", timeout=30)
    assert ready.status_code == 503, ready.text
    checks = ready.json()["checks"]
    assert checks["database"] == "ok"
    assert "credentials were rejected (SignatureDoesNotMatch)" in checks["blobs"], checks

    token = signup(server.url, "alice")
    alice = npm_factory(server, "alice", token)
    result = alice.run("publish", cwd=make_package_dir(tmp_path, "denied-pkg", "1.0.0"))
    assert result.code != 0
    assert "503" in result.output and "Blob storage is unavailable" in result.output, result.output

    resp = _publish(server, token, "denied-pkg", "1.0.0")
    assert resp.status_code == 503, resp.text
    error = resp.json()["error"]
    # The existence check (HEAD) comes first, and a HEAD's 403 has no body to tell a bad
    # secret from a denying policy: the message names both.
    assert "access denied" in error and "s3_secret_access_key" in error, error
    staged = httpx.post(
        f"{server.url}/-/stage/package/denied-pkg",
        json=publish_body("denied-pkg", "1.0.0"),
        headers=_auth(token),
        timeout=60,
    )
    assert staged.status_code == 503, staged.text

    # No half-written state: no package, no version, no claim, nothing in the bucket.
    assert _rows(server) == {"packages": 0, "versions": 0, "blobs": 0}
    assert httpx.get(f"{server.url}/denied-pkg").status_code == 404
    assert iam.moto.keys(bucket) == set()
    # No credential in what a client sees or in the server's log.
    log = server.log.read_text()
    assert "S3 check of" in log or "S3 write of" in log  # the operator is told
    for shown in (error, ready.text, result.output, log):
        assert wrong not in shown and secret not in shown and key_id not in shown


def test_a_read_only_key_refuses_publishes_and_still_serves_installs(
    server_factory, npm_factory, iam, tmp_path
):
    bucket = iam.moto.create_bucket()
    writer = server_factory(env=iam.env(bucket, iam.admin))
    token = signup(writer.url, "alice")
    npm_factory(writer, "alice", token).ok(
        "publish", cwd=make_package_dir(tmp_path, "ro-pkg", "1.0.0")
    )
    stored = iam.moto.keys(bucket)
    assert len(stored) == 1

    reader = server_factory(env=iam.env(bucket, iam.read_only))
    # Listing and reading work, so the instance is ready (it can serve installs).
    assert httpx.get(f"{reader.url}/-/ready", timeout=30).status_code == 200
    before = _rows(reader)

    alice = npm_factory(reader, "alice-reader", token)
    result = alice.run("publish", cwd=make_package_dir(tmp_path, "ro-pkg", "1.1.0"))
    assert result.code != 0
    assert "503" in result.output and "s3:PutObject" in result.output, result.output
    resp = _publish(reader, token, "ro-pkg", "1.2.0")
    assert resp.status_code == 503
    assert "access denied" in resp.json()["error"] and "s3:PutObject" in resp.json()["error"]

    assert _rows(reader) == before  # no version row, no claim row
    assert iam.moto.keys(bucket) == stored
    assert set(httpx.get(f"{reader.url}/ro-pkg").json()["versions"]) == {"1.0.0"}

    app = _app(tmp_path)
    npm_factory(reader, "anon").ok("install", "ro-pkg@1.0.0", cwd=app)
    assert (app / "node_modules/ro-pkg/package.json").exists()


def test_a_key_that_may_not_read_answers_tarball_gets_with_503(server_factory, iam):
    bucket = iam.moto.create_bucket()
    writer = server_factory(env=iam.env(bucket, iam.admin))
    token = signup(writer.url, "alice")
    assert _publish(writer, token, "blind-pkg", "1.0.0").status_code == 201

    blind = server_factory(env=iam.env(bucket, iam.no_read))
    tarball = httpx.get(f"{blind.url}/blind-pkg/-/blind-pkg-1.0.0.tgz", timeout=30)
    assert tarball.status_code == 503, tarball.text
    assert "s3:GetObject" in tarball.json()["error"]
    # The packument comes from the database: still served.
    assert httpx.get(f"{blind.url}/blind-pkg").status_code == 200
    assert httpx.get(f"{blind.url}/-/ready", timeout=30).status_code == 503
    # Publishing checks whether the blob is already there (HEAD, which needs s3:GetObject).
    before = _rows(blind)
    refused = _publish(blind, token, "blind-pkg", "1.1.0")
    assert refused.status_code == 503 and "s3:GetObject" in refused.json()["error"]
    assert _rows(blind) == before

    # Presigned redirects are signed locally, without asking S3: Airlock cannot know the
    # key may not read, so it redirects and S3 refuses the client (docs/production.md).
    # (moto's IAM mode cannot check presigned URLs at all: it answers them with a 500.)
    presigning = server_factory(env=iam.env(bucket, iam.no_read, AIRLOCK_S3_PRESIGN_SECONDS="60"))
    redirect = httpx.get(f"{presigning.url}/blind-pkg/-/blind-pkg-1.0.0.tgz", timeout=30)
    assert redirect.status_code == 307
    assert redirect.headers["location"].startswith(iam.moto.url)


def _published(server_factory, moto: MotoServer, name: str) -> tuple[str, str]:
    """A bucket in the ordinary moto server holding `name`@1.0.0; returns (bucket, token)."""
    bucket = moto.create_bucket()
    writer = server_factory(env=moto.env(bucket))
    token = signup(writer.url, "alice")
    assert _publish(writer, token, name, "1.0.0").status_code == 201
    return bucket, token


def test_a_store_that_never_answers_is_a_503_and_the_server_stays_responsive(server_factory, moto):
    bucket, token = _published(server_factory, moto, "slow-pkg")
    with StallServer("silent") as stall:
        slow = server_factory(
            env={
                **moto.env(bucket),
                "AIRLOCK_S3_ENDPOINT_URL": stall.url,
                "AIRLOCK_S3_TIMEOUT_SECONDS": "5",
            }
        )
        before = _rows(slow)
        answers: dict[str, httpx.Response] = {}

        def call(label: str, method: str, path: str, **kw: Any) -> None:
            answers[label] = httpx.request(method, f"{slow.url}{path}", timeout=90, **kw)

        calls = [
            threading.Thread(
                target=call,
                args=("publish", "PUT", "/slow-pkg"),
                kwargs={"json": publish_body("slow-pkg", "1.1.0"), "headers": _auth(token)},
            ),
            threading.Thread(
                target=call, args=("tarball", "GET", "/slow-pkg/-/slow-pkg-1.0.0.tgz")
            ),
        ]
        for thread in calls:
            thread.start()
        deadline = time.monotonic() + 60
        while stall.connections < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stall.connections >= 2  # both requests are waiting on S3 now
        # Meanwhile, what does not need S3 is answered.
        assert httpx.get(f"{slow.url}/-/ping", timeout=10).status_code == 200
        assert httpx.get(f"{slow.url}/slow-pkg", timeout=10).status_code == 200
        assert any(thread.is_alive() for thread in calls)
        for thread in calls:
            thread.join(90)
        for label in ("publish", "tarball"):
            assert answers[label].status_code == 503, (label, answers[label].text)
            assert "no answer within s3_timeout_seconds (5 s)" in answers[label].json()["error"]
        assert httpx.get(f"{slow.url}/-/ready", timeout=30).status_code == 503
        # Nothing half-written: no version, and the claim the HEAD made is released.
        assert _rows(slow) == before
        assert set(httpx.get(f"{slow.url}/slow-pkg").json()["versions"]) == {"1.0.0"}


def test_a_store_that_trickles_bytes_is_still_cut_off_at_the_timeout(server_factory, moto):
    bucket, token = _published(server_factory, moto, "drip-pkg")
    with StallServer("trickle") as stall:
        slow = server_factory(
            env={
                **moto.env(bucket),
                "AIRLOCK_S3_ENDPOINT_URL": stall.url,
                "AIRLOCK_S3_TIMEOUT_SECONDS": "2",
            }
        )
        tarball = httpx.get(f"{slow.url}/drip-pkg/-/drip-pkg-1.0.0.tgz", timeout=90)
        assert tarball.status_code == 503, tarball.text
        assert "no answer within s3_timeout_seconds (2 s)" in tarball.json()["error"]
        publish = _publish(slow, token, "drip-pkg", "1.1.0")
        assert publish.status_code == 503, publish.text


def test_a_tarball_whose_s3_body_stalls_is_cut_off_not_hung(server_factory, moto):
    bucket, _token = _published(server_factory, moto, "stall-pkg")
    with StallServer("stall-body") as stall:
        slow = server_factory(
            env={
                **moto.env(bucket),
                "AIRLOCK_S3_ENDPOINT_URL": stall.url,
                "AIRLOCK_S3_TIMEOUT_SECONDS": "2",
            }
        )
        with httpx.stream("GET", f"{slow.url}/stall-pkg/-/stall-pkg-1.0.0.tgz", timeout=90) as resp:
            # The head was sent when S3's was; the body then breaks off (no complete
            # chunked body), which every client treats as a failed download.
            assert resp.status_code == 200
            with pytest.raises(httpx.RemoteProtocolError):
                resp.read()
        assert httpx.get(f"{slow.url}/-/ping", timeout=10).status_code == 200
