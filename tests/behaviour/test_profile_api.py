"""`npm profile get|set` over HTTP (in-process): fields, password changes, bad input."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from airlock.accounts.models import User
from tests.support.otp import code, enrol

PW = "correct-horse-9"


@pytest.fixture
async def token(client):
    body = {"name": "alice", "password": PW, "email": "alice@example.com"}
    return (await client.put("/-/user/org.couchdb.user:alice", json=body)).json()["token"]


def auth(token: str, otp: str | None = None) -> dict[str, str]:
    return {"authorization": f"Bearer {token}", **({"npm-otp": otp} if otp else {})}


async def row(app_ctx) -> User:
    async with app_ctx.db.read() as session:
        return (await session.execute(select(User).where(User.name == "alice"))).scalar_one()


async def test_profile_get_has_the_fields_npm_prints(client, token):
    body = (await client.get("/-/npm/v1/user", headers=auth(token))).json()
    assert body["name"] == "alice" and body["email"] == "alice@example.com"
    assert body["tfa"] is False and body["email_verified"] is False
    assert body["created"].endswith("Z")
    assert (await client.get("/-/npm/v1/user")).status_code == 401


async def test_set_copies_all_keys_like_npm_and_nulls_clear(client, app_ctx, token):
    body = {
        "email": "alice@example.com",
        "fullname": "Alice A",
        "homepage": None,
        "freenode": None,
        "twitter": "@alice",
        "github": None,
    }
    resp = await client.post("/-/npm/v1/user", json=body, headers=auth(token))
    assert resp.status_code == 200 and resp.json()["fullname"] == "Alice A"
    resp = await client.post("/-/npm/v1/user", json={"twitter": ""}, headers=auth(token))
    assert resp.json()["twitter"] is None
    assert (await row(app_ctx)).fullname == "Alice A"


@pytest.mark.parametrize(
    ("body", "status"),
    [
        ({"email": "not-an-address"}, 400),
        ({"fullname": "x" * 256}, 400),
        ({"github": 42}, 400),
        ({"password": "new-password-1"}, 400),
        ({"password": {"old": PW, "new": "short"}}, 400),
        ({"password": {"old": "wrong-password", "new": "battery-staple-7"}}, 401),
        ({"tfa": "yes"}, 400),
        ({"tfa": ["123456", "654321"]}, 400),
    ],
)
async def test_bad_profile_changes_are_refused_and_change_nothing(
    client, app_ctx, token, body, status
):
    before = await row(app_ctx)
    resp = await client.post("/-/npm/v1/user", json=body, headers=auth(token))
    assert resp.status_code == status, resp.text
    assert resp.json()["error"]
    after = await row(app_ctx)
    assert (after.email, after.fullname, after.github, after.password_hash, after.tfa_mode) == (
        before.email,
        before.fullname,
        before.github,
        before.password_hash,
        before.tfa_mode,
    )


async def test_password_change_needs_a_code_even_in_auth_only(client, app_ctx, clock, token):
    login = {"name": "alice", "password": PW, "type": "user"}
    other_session = (await client.put("/-/user/org.couchdb.user:alice", json=login)).json()
    granular = (
        await client.post("/-/npm/v1/tokens", json={"password": PW}, headers=auth(token))
    ).json()["token"]
    secret, _ = await enrol(client, token, clock.now(), mode="auth-only")
    change = {"password": {"old": PW, "new": "battery-staple-7"}}
    before = (await row(app_ctx)).password_hash
    resp = await client.post("/-/npm/v1/user", json=change, headers=auth(token))
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "OTP"
    assert (await row(app_ctx)).password_hash == before
    # Other fields need no code in auth-only mode.
    resp = await client.post("/-/npm/v1/user", json={"fullname": "A"}, headers=auth(token))
    assert resp.status_code == 200
    clock.advance(30)
    resp = await client.post(
        "/-/npm/v1/user", json=change, headers=auth(token, code(secret, clock.now()))
    )
    assert resp.status_code == 200
    # Other login sessions end; this one and deliberate granular tokens stay.
    resp = await client.get("/-/whoami", headers=auth(other_session["token"]))
    assert resp.status_code == 401 and "revoked" in resp.json()["error"]
    assert (await client.get("/-/whoami", headers=auth(token))).status_code == 200
    assert (await client.get("/-/whoami", headers=auth(granular))).status_code == 200
    login = {"name": "alice", "password": "battery-staple-7", "type": "user"}
    clock.advance(30)
    resp = await client.put(
        "/-/user/org.couchdb.user:alice",
        json=login,
        headers={"npm-otp": code(secret, clock.now())},
    )
    assert resp.status_code == 201


async def test_field_edits_need_a_code_in_auth_and_writes(client, app_ctx, clock, token):
    await enrol(client, token, clock.now())
    resp = await client.post("/-/npm/v1/user", json={"fullname": "A"}, headers=auth(token))
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "OTP"
    assert (await row(app_ctx)).fullname is None


async def test_session_token_lives_for_the_configured_ttl(client, app_ctx, clock, token):
    ttl = app_ctx.settings.session_token_ttl_seconds
    clock.advance(ttl - 1)
    assert (await client.get("/-/whoami", headers=auth(token))).status_code == 200
    clock.advance(1)
    resp = await client.get("/-/whoami", headers=auth(token))
    assert resp.status_code == 401 and "expired" in resp.json()["error"]
