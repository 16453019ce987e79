"""Token create/list/revoke over HTTP (in-process), and tokens used beyond their limits."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from airlock.tokens.models import Token
from airlock.tokens.secrets import is_well_formed, new_token
from tests.support.otp import code, enrol

PW = "correct-horse-9"


@pytest.fixture
async def session_token(client):
    body = {"name": "alice", "password": PW, "email": "alice@example.com"}
    resp = await client.put("/-/user/org.couchdb.user:alice", json=body)
    return resp.json()["token"]


def auth(token: str, otp: str | None = None) -> dict[str, str]:
    headers = {"authorization": f"Bearer {token}"}
    if otp:
        headers["npm-otp"] = otp
    return headers


async def count_tokens(app_ctx) -> int:
    async with app_ctx.db.read() as session:
        return (await session.execute(select(func.count()).select_from(Token))).scalar_one()


async def test_create_with_npm_field_names_and_read_back(client, clock, session_token):
    body = {
        "name": "ci",
        "password": PW,
        "description": "deploys",
        "packages": ["pkg-a", "@alice/pkg-s"],
        "scopes": ["@alice"],
        "packages_and_scopes_permission": "read-write",
        "expires": 30,
        "cidr_whitelist": ["10.0.0.0/8", "192.168.0.1"],
        "bypass_2fa": True,
    }
    resp = await client.post("/-/npm/v1/tokens", json=body, headers=auth(session_token))
    assert resp.status_code == 201, resp.text
    made = resp.json()
    assert made["token"].startswith("npm_") and len(made["token"]) == 40
    assert is_well_formed(made["token"])
    assert re.fullmatch(r"[0-9a-f]{32}", made["key"])
    assert made["cidr_whitelist"] == made["cidr"] == ["10.0.0.0/8", "192.168.0.1/32"]
    assert made["expires"] == made["expiry"]
    assert made["expires"].startswith((clock.now() + timedelta(days=30)).date().isoformat())
    assert made["permission"] == "read-write" and made["bypass_2fa"] is True
    assert made["description"] == made["token_description"] == "deploys"
    listed = (await client.get("/-/npm/v1/tokens", headers=auth(session_token))).json()
    keys = {t["key"]: t for t in listed["objects"]}
    assert made["key"] in keys
    # The listing shows a plain prefix of the secret, never the secret.
    assert made["token"].startswith(keys[made["key"]]["token"])
    assert keys[made["key"]]["token"] != made["token"]
    assert listed["urls"]["next"] is None


async def test_openapi_field_names_and_stage_only_permission(client, session_token):
    body = {
        "password": PW,
        "token_description": "stager",
        "permission": "stage-only",
        "cidr": ["127.0.0.1/32"],
        "expiry": 2,
    }
    resp = await client.post("/-/npm/v1/tokens", json=body, headers=auth(session_token))
    assert resp.status_code == 201, resp.text
    assert resp.json()["permission"] == "stage-only"
    assert resp.json()["description"] == "stager"


async def test_default_expiry_is_token_default_days(client, clock, app_ctx, session_token):
    resp = await client.post("/-/npm/v1/tokens", json={"password": PW}, headers=auth(session_token))
    days = app_ctx.settings.token_default_days
    assert resp.json()["expires"].startswith(
        (clock.now() + timedelta(days=days)).date().isoformat()
    )


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ({"cidr_whitelist": ["10.0.0.300/8"]}, "Invalid CIDR"),
        ({"cidr_whitelist": "not-a-net"}, "Invalid CIDR"),
        ({"expires": 91}, "beyond this registry's maximum of 90 days"),
        ({"expires": 0}, "Invalid expiry"),
        ({"expires": "soon"}, "Invalid expiry"),
        ({"packages_and_scopes_permission": "no-access"}, "Invalid permission"),
        ({"permission": "admin"}, "Invalid permission"),
        ({"packages": ["../x"]}, "Invalid package name"),
        ({"scopes": ["@Bad Scope"]}, "Invalid scope"),
        ({"orgs": ["acme"]}, "no organisations"),
        ({"bypass_2fa": "yes"}, "bypass_2fa"),
    ],
)
async def test_bad_token_requests_are_400_and_store_nothing(
    client, app_ctx, session_token, extra, message
):
    before = await count_tokens(app_ctx)
    resp = await client.post(
        "/-/npm/v1/tokens", json={"password": PW, **extra}, headers=auth(session_token)
    )
    assert resp.status_code == 400, resp.text
    assert message in resp.json()["error"]
    assert await count_tokens(app_ctx) == before


async def test_create_needs_the_password(client, app_ctx, session_token):
    before = await count_tokens(app_ctx)
    for body in ({"name": "x"}, {"password": "wrong-password"}):
        resp = await client.post("/-/npm/v1/tokens", json=body, headers=auth(session_token))
        assert resp.status_code == 401
        assert resp.headers["www-authenticate"] == "Basic"
    assert await count_tokens(app_ctx) == before


async def test_create_needs_a_code_with_auth_only_2fa(client, app_ctx, clock, session_token):
    secret, _ = await enrol(client, session_token, clock.now(), mode="auth-only")
    before = await count_tokens(app_ctx)
    resp = await client.post("/-/npm/v1/tokens", json={"password": PW}, headers=auth(session_token))
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "OTP"
    assert await count_tokens(app_ctx) == before
    clock.advance(30)
    resp = await client.post(
        "/-/npm/v1/tokens",
        json={"password": PW},
        headers=auth(session_token, code(secret, clock.now())),
    )
    assert resp.status_code == 201


async def test_revoke_by_key_and_by_full_value(client, app_ctx, session_token):
    made = [
        (
            await client.post(
                "/-/npm/v1/tokens", json={"password": PW}, headers=auth(session_token)
            )
        ).json()
        for _ in range(2)
    ]
    resp = await client.delete(
        f"/-/npm/v1/tokens/token/{made[0]['key']}", headers=auth(session_token)
    )
    assert resp.status_code == 204
    resp = await client.delete(
        f"/-/npm/v1/tokens/token/{made[1]['token']}", headers=auth(session_token)
    )
    assert resp.status_code == 204
    for item in made:
        resp = await client.get("/-/whoami", headers=auth(item["token"]))
        assert resp.status_code == 401 and "revoked" in resp.json()["error"]
    again = await client.delete(
        f"/-/npm/v1/tokens/token/{made[0]['key']}", headers=auth(session_token)
    )
    assert again.status_code == 404


async def test_revoke_needs_a_code_with_auth_and_writes(client, clock, session_token):
    made = (
        await client.post("/-/npm/v1/tokens", json={"password": PW}, headers=auth(session_token))
    ).json()
    secret, _ = await enrol(client, session_token, clock.now())
    resp = await client.delete(f"/-/npm/v1/tokens/token/{made['key']}", headers=auth(session_token))
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "OTP"
    assert (await client.get("/-/whoami", headers=auth(made["token"]))).status_code == 200
    clock.advance(30)
    resp = await client.delete(
        f"/-/npm/v1/tokens/token/{made['key']}",
        headers=auth(session_token, code(secret, clock.now())),
    )
    assert resp.status_code == 204


async def test_cannot_revoke_someone_elses_token(client, session_token):
    body = {"name": "bob", "password": PW, "email": "bob@example.com"}
    bob = (await client.put("/-/user/org.couchdb.user:bob", json=body)).json()["token"]
    made = (await client.post("/-/npm/v1/tokens", json={"password": PW}, headers=auth(bob))).json()
    resp = await client.delete(f"/-/npm/v1/tokens/token/{made['key']}", headers=auth(session_token))
    assert resp.status_code == 404
    assert (await client.get("/-/whoami", headers=auth(made["token"]))).status_code == 200


async def test_granular_tokens_cannot_manage_tokens_or_profile(client, session_token):
    made = (
        await client.post("/-/npm/v1/tokens", json={"password": PW}, headers=auth(session_token))
    ).json()
    granular = auth(made["token"])
    resp = await client.post("/-/npm/v1/tokens", json={"password": PW}, headers=granular)
    assert resp.status_code == 403 and "granular" in resp.json()["error"]
    resp = await client.post("/-/npm/v1/user", json={"fullname": "X"}, headers=granular)
    assert resp.status_code == 403
    # Reading is fine.
    assert (await client.get("/-/npm/v1/tokens", headers=granular)).status_code == 200
    assert (await client.get("/-/npm/v1/user", headers=granular)).status_code == 200


async def test_list_is_paginated_with_urls_next(client, session_token):
    for _ in range(3):
        await client.post("/-/npm/v1/tokens", json={"password": PW}, headers=auth(session_token))
    seen = []
    url = "/-/npm/v1/tokens?perPage=2"
    while url:
        page = (await client.get(url, headers=auth(session_token))).json()
        assert page["total"] == 4  # three granular + the session
        seen += [t["key"] for t in page["objects"]]
        url = page["urls"]["next"]
    assert len(seen) == len(set(seen)) == 4
    resp = await client.get("/-/npm/v1/tokens?perPage=abc", headers=auth(session_token))
    assert resp.status_code == 400


async def test_expired_tokens_are_refused_and_unlisted(client, clock, session_token):
    made = (
        await client.post(
            "/-/npm/v1/tokens", json={"password": PW, "expires": 1}, headers=auth(session_token)
        )
    ).json()
    clock.advance(24 * 3600 + 1)
    resp = await client.get("/-/whoami", headers=auth(made["token"]))
    assert resp.status_code == 401 and "expired" in resp.json()["error"]
    assert resp.headers["www-authenticate"] == "Bearer"
    # The session from login (12 h) has expired as well by now.
    resp = await client.get("/-/whoami", headers=auth(session_token))
    assert resp.status_code == 401


async def test_token_outside_its_cidr_is_refused_naming_the_limit(client, session_token):
    made = (
        await client.post(
            "/-/npm/v1/tokens",
            json={"password": PW, "cidr_whitelist": ["10.0.0.0/8"]},
            headers=auth(session_token),
        )
    ).json()
    resp = await client.get("/-/whoami", headers=auth(made["token"]))
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "ipaddress"
    assert "10.0.0.0/8" in resp.json()["error"]


async def test_web_login_answers_login_and_done_urls(client):
    resp = await client.post("/-/v1/login", json={})
    assert resp.status_code == 200
    body = resp.json()
    assert body["loginUrl"].startswith("http://127.0.0.1:4873/-/web/login/")
    done = await client.get(body["doneUrl"])
    assert done.status_code == 202 and done.headers["retry-after"] == "2"


async def test_trusted_publishing_tokens_cannot_use_account_routes(client, app_ctx, session_token):
    from airlock.tokens.secrets import display_prefix, hash_token

    user_id = (await client.get("/-/npm/v1/user", headers=auth(session_token))).json()
    assert user_id["name"] == "alice"
    secret = "airlock_oidc-test-token-value-0123456789"
    async with app_ctx.db.write() as session:
        owner = (
            await session.execute(select(Token.user_id).where(Token.kind == "session"))
        ).scalar_one()
        session.add(
            Token(
                user_id=owner,
                token_hash=hash_token(secret),
                display=display_prefix(secret),
                kind="oidc",
                permission="read-write",
                created_at=app_ctx.clock.now(),
                expires_at=app_ctx.clock.now() + timedelta(minutes=15),
                trust_permissions=["createPackage"],
            )
        )
    oidc = auth(secret)
    for method, url, body in [
        ("GET", "/-/npm/v1/tokens", None),
        ("POST", "/-/npm/v1/tokens", {"password": PW}),
        ("DELETE", "/-/npm/v1/tokens/token/" + secret, None),
        ("GET", "/-/npm/v1/user", None),
        ("POST", "/-/npm/v1/user", {"fullname": "CI"}),
    ]:
        resp = await client.request(method, url, json=body, headers=oidc)
        assert resp.status_code == 403, (method, url, resp.text)
        assert "trusted-publishing token" in resp.json()["error"]
    assert (await client.get("/-/whoami", headers=oidc)).status_code == 200


async def test_npm_spelling_of_stage_only_tokens(client, session_token):
    body = {"password": PW, "packages_and_scopes_permission": "read-write-stage-only"}
    resp = await client.post("/-/npm/v1/tokens", json=body, headers=auth(session_token))
    assert resp.status_code == 201, resp.text
    assert resp.json()["permission"] == "stage-only"
    stage_only = resp.json()["token"]
    resp = await client.put("/pkg-z", json={}, headers=auth(stage_only))
    assert resp.status_code in (400, 403)


@pytest.mark.parametrize("field", ["publish_policy", "allowed_ips", "orgs_only"])
async def test_unknown_restricting_fields_are_refused(client, app_ctx, session_token, field):
    before = await count_tokens(app_ctx)
    body = {"password": PW, field: "anything"}
    resp = await client.post("/-/npm/v1/tokens", json=body, headers=auth(session_token))
    assert resp.status_code == 400 and field in resp.json()["error"]
    assert await count_tokens(app_ctx) == before


async def test_revoke_by_short_id_full_key_or_dashed_key(client, session_token):
    made = []
    for _ in range(3):
        resp = await client.post(
            "/-/npm/v1/tokens", json={"password": PW}, headers=auth(session_token)
        )
        made.append(resp.json())
    refs = [made[0]["key"][:8], made[1]["key"], str(uuid.UUID(made[2]["key"]))]
    for ref, token in zip(refs, made, strict=True):
        resp = await client.delete(f"/-/npm/v1/tokens/token/{ref}", headers=auth(session_token))
        assert resp.status_code == 204, resp.text
        assert (await client.get("/-/whoami", headers=auth(token["token"]))).status_code == 401


def test_secrets_have_npms_shape_with_a_checksum():
    secret = new_token()
    assert re.fullmatch(r"npm_[A-Za-z0-9]{36}", secret) and is_well_formed(secret)
    broken = secret[:-1] + ("A" if secret[-1] != "A" else "B")
    assert not is_well_formed(broken)
