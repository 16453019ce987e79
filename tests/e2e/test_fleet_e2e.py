"""Many instances, one state (issue #13.2): three `airlock serve` processes on one PostgreSQL
database and one S3 bucket, each with its own data folder and the same secret key."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import pytest
from sqlalchemy import select

from airlock.audit.models import AuditEvent
from airlock.db.engine import Database
from airlock.settings import normalise_database_url
from tests.support.databases import BACKEND
from tests.support.otp import enrol_live
from tests.support.packages import make_package_dir, publish_body
from tests.support.server import LiveServer
from tests.support.users import signup

pytestmark = pytest.mark.skipif(
    BACKEND != "postgresql", reason="a fleet shares PostgreSQL (runs in the PostgreSQL run)"
)
CACHE_SECONDS = 1.0


def _fleet(server_factory, moto, tmp_path, **extra: str):
    bucket = moto.create_bucket()
    env = {
        **moto.env(bucket, prefix="fleet/"),
        "AIRLOCK_SECRET_KEY": "fleet-shared-secret-key-0123456789abcdef",
        "AIRLOCK_AUTH_CACHE_SECONDS": str(CACHE_SECONDS),
        **extra,
    }
    return [server_factory(env=env, data=tmp_path / f"node{i}") for i in range(3)]


def _at_once(calls: list[tuple[httpx.Client, str, str]]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(calls))
    answers: list[httpx.Response] = []

    def send(client: httpx.Client, path: str, otp: str) -> None:
        barrier.wait()
        answers.append(client.post(path, headers={"npm-otp": otp}))

    threads = [threading.Thread(target=send, args=call) for call in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return answers


def _count_events(server, event: str, stage_id: str) -> int:
    async def query() -> int:
        db = Database(normalise_database_url(server.database_url))
        try:
            async with db.read() as session:
                rows = await session.scalars(select(AuditEvent).where(AuditEvent.event == event))
                return sum(1 for r in rows if r.details.get("stage_id") == stage_id)
        finally:
            await db.dispose()

    return asyncio.run(query())


def test_publish_on_one_install_from_another_and_decide_anywhere(
    server_factory, npm_factory, moto, tmp_path
):
    a, b, c = _fleet(server_factory, moto, tmp_path)
    token = signup(a.url, "alice")
    alice_a = npm_factory(a, "alice", token)
    alice_a.ok("publish", cwd=make_package_dir(tmp_path, "fleet-pkg", "1.0.0"))
    app = tmp_path / "app"
    app.mkdir()
    (app / "package.json").write_text('{"name": "app", "version": "1.0.0"}')
    npm_factory(b, "anon-b").ok("install", "fleet-pkg@1.0.0", cwd=app)
    assert (app / "node_modules/fleet-pkg/package.json").exists()

    # TOTP secrets written through A decrypt on B and C: one shared secret key.
    _, codes = enrol_live(a.client(token))
    staged = a.client(token).post(
        "/-/stage/package/fleet-pkg", json=publish_body("fleet-pkg", "1.1.0")
    )
    assert staged.status_code == 201, staged.text
    approved = b.client(token).post(
        f"/-/stage/{staged.json()['stageId']}/approve", headers={"npm-otp": codes.pop()}
    )
    assert approved.status_code == 201, approved.text
    versions = json.loads(
        npm_factory(c, "anon-c").ok("view", "fleet-pkg", "versions", "--json").stdout
    )
    assert versions == ["1.0.0", "1.1.0"]

    # The same stage approved on B and C at once: exactly one publishes it.
    for rnd in range(3):
        version = f"2.0.{rnd}"
        staged = a.client(token).post(
            "/-/stage/package/fleet-pkg", json=publish_body("fleet-pkg", version)
        )
        stage_id = staged.json()["stageId"]
        answers = _at_once(
            [(srv.client(token), f"/-/stage/{stage_id}/approve", codes.pop()) for srv in (b, c)]
        )
        assert sorted(r.status_code for r in answers) == [201, 409], [r.text for r in answers]
        assert _count_events(a, "package:version:approved", stage_id) == 1
        for srv in (a, b, c):
            # Other instances see a write within read_cache_seconds (1 s by default).
            tgz = _eventually_ok(srv, f"/fleet-pkg/-/fleet-pkg-{version}.tgz", within=3.0)
            assert tgz.status_code == 200


def test_expiry_runs_once_per_stage_across_the_fleet(server_factory, moto, tmp_path):
    servers = _fleet(
        server_factory,
        moto,
        tmp_path,
        AIRLOCK_STAGE_EXPIRY_SECONDS="2",
        AIRLOCK_EXPIRY_SWEEP_SECONDS="0.2",
    )
    token = signup(servers[0].url, "alice")
    ids = []
    for i in range(4):
        resp = (
            servers[i % 3]
            .client(token)
            .post("/-/stage/package/exp-fleet", json=publish_body("exp-fleet", f"1.0.{i}"))
        )
        assert resp.status_code == 201, resp.text
        ids.append(resp.json()["stageId"])
    # A stage past its time is hidden at once; the sweeps delete it (and record it) later.
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if all(_count_events(servers[0], "package:version:expired", s) for s in ids):
            break
        time.sleep(0.3)
    time.sleep(1.0)  # every process has swept a few more times
    for stage_id in ids:
        assert _count_events(servers[0], "package:version:expired", stage_id) == 1


def test_a_token_revoked_on_one_is_refused_by_the_others_within_the_cache_time(
    server_factory, moto, tmp_path
):
    a, b, c = _fleet(server_factory, moto, tmp_path)
    owner = signup(a.url, "alice")
    victim = signup(a.url, "alice")  # a second session token of the same account
    for srv in (b, c):  # cached as valid on B and C
        assert srv.client(victim).get("/-/whoami").status_code == 200
    revoked = a.client(owner).delete(f"/-/npm/v1/tokens/token/{victim}")
    assert revoked.status_code == 204, revoked.text
    started = time.monotonic()
    assert a.client(victim).get("/-/whoami").status_code == 401  # at once where revoked
    refused_after = {}
    while len(refused_after) < 2 and time.monotonic() - started < 10:
        for srv in (b, c):
            if (
                srv.url not in refused_after
                and srv.client(victim).get("/-/whoami").status_code == 401
            ):
                refused_after[srv.url] = time.monotonic() - started
        time.sleep(0.05)
    assert len(refused_after) == 2, refused_after
    assert max(refused_after.values()) <= CACHE_SECONDS + 0.5, refused_after


def _eventually_ok(srv: LiveServer, path: str, within: float) -> httpx.Response:
    deadline = time.monotonic() + within
    while True:
        resp = srv.client().get(path)
        if resp.status_code == 200 or time.monotonic() > deadline:
            return resp
        time.sleep(0.1)
