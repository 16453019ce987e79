"""Credential rules (issue #8 points 3, 4, 5, 11, 12, 23), in-process over HTTP."""

from __future__ import annotations

import base64

from airlock.context import Throttles
from tests.support.otp import code, enrol
from tests.support.packages import publish_body
from tests.support.staging import auth, signup

PW = "correct-horse-9"


def basic(name: str, password: str) -> dict[str, str]:
    raw = base64.b64encode(f"{name}:{password}".encode()).decode()
    return {"authorization": f"Basic {raw}"}


async def test_a_password_on_the_request_is_refused_outside_login(client, clock):
    # Point 3: a phished password alone reads nothing, 2FA or not, and costs no argon2.
    alice = await signup(client, "alice")
    body = publish_body("@alice/secret", "1.0.0", access="restricted")
    assert (await client.put("/@alice%2fsecret", json=body, headers=auth(alice))).status_code == 201
    await enrol(client, alice, clock.now())
    for path in ["/@alice%2fsecret", "/-/stage", "/-/npm/v1/tokens", "/-/npm/v1/user", "/-/whoami"]:
        for password in (PW, "wrong-password"):
            resp = await client.get(path, headers=basic("alice", password))
            assert resp.status_code == 401, (path, resp.text)
            assert "only to log in" in resp.json()["error"]


async def test_login_with_2fa_needs_a_code_and_a_code_works_once(client, clock):
    alice = await signup(client, "alice")
    secret, _ = await enrol(client, alice, clock.now())
    body = {"name": "alice", "password": PW}
    resp = await client.put("/-/user/org.couchdb.user:alice", json=body)
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "OTP"
    clock.advance(30)
    otp = {"npm-otp": code(secret, clock.now())}
    resp = await client.put("/-/user/org.couchdb.user:alice", json=body, headers=otp)
    assert resp.status_code == 201, resp.text
    session = resp.json()["token"]
    # Point 4: the same code is refused for anything else, even from the session it made.
    resp = await client.post(
        "/-/npm/v1/tokens", json={"password": PW}, headers={**auth(session), **otp}
    )
    assert resp.status_code == 401 and "already used" in resp.json()["error"]


async def test_unpublish_works_with_one_code(client, clock):
    # npm unpublish pkg@1.0.1 --otp=X: PUT without the version, then the tarball DELETE,
    # both with X. The DELETE removes nothing more, so it needs no second code.
    alice = await signup(client, "alice")
    for v in ("1.0.0", "1.0.1"):
        body = publish_body("pkg-u", v)
        assert (await client.put("/pkg-u", json=body, headers=auth(alice))).status_code == 201
    secret, _ = await enrol(client, alice, clock.now())
    clock.advance(30)
    otp = code(secret, clock.now())
    doc = (await client.get("/pkg-u", headers=auth(alice))).json()
    del doc["versions"]["1.0.1"]
    rev = doc["_rev"]
    resp = await client.put(f"/pkg-u/-rev/{rev}", json=doc, headers=auth(alice, otp))
    assert resp.status_code in (200, 201), resp.text
    rev = (await client.get("/pkg-u", headers=auth(alice))).json()["_rev"]
    resp = await client.delete(f"/pkg-u/-/pkg-u-1.0.1.tgz/-rev/{rev}", headers=auth(alice, otp))
    assert resp.status_code == 200, resp.text
    # A DELETE of a still-published tarball is a real unpublish: it needs a fresh code.
    resp = await client.delete(f"/pkg-u/-/pkg-u-1.0.0.tgz/-rev/{rev}", headers=auth(alice, otp))
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "OTP"
    assert (await client.get("/pkg-u/-/pkg-u-1.0.0.tgz")).status_code == 200
    # Someone else gets no free DELETE either.
    bob = await signup(client, "bob")
    resp = await client.delete(f"/pkg-u/-/pkg-u-1.0.1.tgz/-rev/{rev}", headers=auth(bob))
    assert resp.status_code == 403


async def test_a_stolen_token_guessing_codes_locks_only_itself(client, clock):
    # Point 5: wrong codes count per credential; a recovery code clears the lock.
    alice = await signup(client, "alice")
    body = publish_body("pkg-a", "1.0.0")
    assert (await client.put("/pkg-a", json=body, headers=auth(alice))).status_code == 201
    secret, codes = await enrol(client, alice, clock.now())
    clock.advance(30)
    otp = {"npm-otp": code(secret, clock.now())}
    resp = await client.post(
        "/-/npm/v1/tokens",
        json={"password": PW, "packages_and_scopes_permission": "read-write"},
        headers={**auth(alice), **otp},
    )
    assert resp.status_code == 201, resp.text
    stolen = resp.json()["token"]
    tag = "/-/package/pkg-a/dist-tags/beta"
    statuses = []
    for _ in range(6):
        resp = await client.put(tag, json="1.0.0", headers=auth(stolen, "000000"))
        statuses.append(resp.status_code)
    assert statuses == [401, 401, 401, 401, 429, 429]
    assert int(resp.headers["retry-after"]) > 0
    # The owner's session is not locked out.
    clock.advance(30)
    resp = await client.put(tag, json="1.0.0", headers=auth(alice, code(secret, clock.now())))
    assert resp.status_code == 201, resp.text
    # A recovery code works while locked and clears the lock.
    resp = await client.put(tag, json="1.0.0", headers=auth(stolen, codes[0]))
    assert resp.status_code == 201, resp.text
    clock.advance(30)
    resp = await client.put(tag, json="1.0.0", headers=auth(stolen, code(secret, clock.now())))
    assert resp.status_code == 201, resp.text


async def test_failed_logins_are_throttled_per_account_and_address(client, app_ctx):
    await signup(client, "alice")
    limit = app_ctx.settings.login_failures_per_account
    bad = {"name": "alice", "password": "wrong-password"}
    for _ in range(limit):
        resp = await client.put("/-/user/org.couchdb.user:alice", json=bad)
        assert resp.status_code == 401
    resp = await client.put("/-/user/org.couchdb.user:alice", json=bad)
    assert resp.status_code == 429 and int(resp.headers["retry-after"]) > 0
    assert resp.json()["error"]
    # Even the right password waits (the throttle runs before the password check).
    good = {"name": "alice", "password": PW}
    assert (await client.put("/-/user/org.couchdb.user:alice", json=good)).status_code == 429


async def test_failed_logins_are_throttled_per_client_address(client, app_ctx):
    settings = app_ctx.settings.model_copy(
        update={"login_failures_per_address": 3, "login_failures_per_account": 100}
    )
    app_ctx.settings, app_ctx.throttles = settings, Throttles.of(settings)
    await signup(client, "alice")
    await signup(client, "carol")
    bad = {"name": "alice", "password": "wrong-password"}
    for _ in range(3):
        resp = await client.put("/-/user/org.couchdb.user:alice", json=bad)
        assert resp.status_code == 401
    body = {"name": "carol", "password": PW}
    resp = await client.put("/-/user/org.couchdb.user:carol", json=body)
    assert resp.status_code == 429, resp.text
    assert int(resp.headers["retry-after"]) > 0


async def _cidr_token(client, session: str) -> str:
    body = {"password": PW, "cidr_whitelist": ["10.0.0.0/8"]}
    resp = await client.post("/-/npm/v1/tokens", json=body, headers=auth(session))
    assert resp.status_code == 201, resp.text
    token: str = resp.json()["token"]
    return token


async def test_forwarded_for_is_ignored_unless_the_peer_is_a_trusted_proxy(client, app_ctx):
    alice = await signup(client, "alice")
    limited = await _cidr_token(client, alice)
    spoof = {**auth(limited), "x-forwarded-for": "10.9.9.9"}
    resp = await client.get("/-/whoami", headers=spoof)
    assert resp.status_code == 401 and "127.0.0.1" in resp.json()["error"]
    app_ctx.settings = app_ctx.settings.model_copy(update={"trusted_proxies": ["127.0.0.1/32"]})
    assert (await client.get("/-/whoami", headers=spoof)).status_code == 200
    # The right-most untrusted hop counts: a client cannot prepend its own claim.
    chain = {**auth(limited), "x-forwarded-for": "10.9.9.9, 203.0.113.5"}
    resp = await client.get("/-/whoami", headers=chain)
    assert resp.status_code == 401 and "203.0.113.5" in resp.json()["error"]


async def test_user_lookup_shows_the_email_only_to_its_owner(client):
    alice = await signup(client, "alice")
    bob = await signup(client, "bob")
    anonymous = (await client.get("/-/user/org.couchdb.user:alice")).json()
    assert anonymous == {"_id": "org.couchdb.user:alice", "name": "alice"}
    assert (
        "email"
        not in (await client.get("/-/user/org.couchdb.user:alice", headers=auth(bob))).json()
    )
    own = (await client.get("/-/user/org.couchdb.user:alice", headers=auth(alice))).json()
    assert own["email"] == "alice@example.com"
