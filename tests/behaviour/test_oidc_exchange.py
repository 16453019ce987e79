"""The OIDC token exchange in-process: a real issuer on 127.0.0.1, a frozen clock."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from sqlalchemy import func, select

from airlock.authz.actions import Action
from airlock.authz.policy import PackageRef, authorize
from airlock.authz.principal import Principal
from airlock.bootstrap import build_context
from airlock.clock import FrozenClock
from airlock.context import AppContext
from airlock.db.migrate import upgrade
from airlock.errors import Forbidden
from airlock.oidc.errors import ExchangeError, IssuerUnavailable
from airlock.oidc.exchange import exchange as oidc_exchange
from airlock.oidc.keys import KeyCache
from airlock.oidc.models import UsedIdToken
from airlock.settings import Settings, normalise_database_url
from airlock.tokens.models import Token
from airlock.web.app import create_app
from tests.support.oidc_issuer import (
    OidcIssuer,
    circleci_claims,
    github_claims,
    gitlab_claims,
    seed_package,
)

EXCHANGE = "/-/npm/v1/oidc/token/exchange/package/"
PKG = "pkg-a"


@pytest.fixture
def issuer() -> Iterator[OidcIssuer]:
    srv = OidcIssuer().start()
    yield srv
    srv.stop()


@pytest.fixture
async def ctx(
    tmp_path: Path, database: Any, clock: FrozenClock, issuer: OidcIssuer
) -> AsyncIterator[AppContext]:
    settings = Settings(
        data=tmp_path / "data",
        database_url=database.url,
        port=4873,
        oidc_github_issuer=issuer.github,
        oidc_gitlab_issuer=issuer.gitlab,
        oidc_circleci_issuer=issuer.circleci_prefix,
    )
    await asyncio.to_thread(upgrade, normalise_database_url(database.url))
    c = build_context(settings, clock=clock)
    yield c
    await c.db.dispose()


@pytest.fixture
async def http(ctx: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(ctx), client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:4873") as c:
        yield c


@pytest.fixture
async def alice(ctx: AppContext) -> str:
    return await seed_package(ctx, PKG, "alice")


async def trust(http: httpx.AsyncClient, token: str, config: dict[str, Any], pkg: str = PKG) -> str:
    resp = await http.post(f"/-/package/{pkg}/trust", json=[config], headers=_bearer(token))
    assert resp.status_code == 201, resp.text
    return str(resp.json()[0]["id"])


def github_config(
    repo: str = "alice/pkg",
    file: str = "release.yml",
    env: str | None = None,
    permissions: tuple[str, ...] = ("createPackage",),
) -> dict[str, Any]:
    claims: dict[str, Any] = {"repository": repo, "workflow_ref": {"file": file}}
    if env:
        claims["environment"] = env
    return {"type": "github", "claims": claims, "permissions": list(permissions)}


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def exchange(
    http: httpx.AsyncClient, id_token: str, pkg: str = PKG, command: str = "publish"
) -> httpx.Response:
    return await http.post(EXCHANGE + pkg, headers={**_bearer(id_token), "npm-command": command})


def now(clock: FrozenClock) -> float:
    return clock.now().timestamp()


async def test_exchange_mints_a_short_lived_token_bound_to_the_package(
    http, ctx, issuer, clock, alice
):
    trust_id = await trust(
        http, alice, github_config(permissions=("createPackage", "createStagedPackage"))
    )
    id_token = issuer.sign(github_claims(), now=now(clock))
    resp = await exchange(http, id_token)
    assert resp.status_code == 201, resp.text
    body = resp.json()
    assert body["token_type"] == "oidc"
    assert body["created"] == "2026-01-01T00:00:00.000Z"
    assert body["expires"] == "2026-01-01T00:15:00.000Z"
    async with ctx.db.read() as session:
        row = (await session.execute(select(Token).where(Token.kind == "oidc"))).scalar_one()
    assert row.packages == [PKG]
    assert str(row.trust_id) == trust_id
    assert row.permission == "read-write"
    # npm-command: publish narrows the token to what publish needs.
    assert row.trust_permissions == ["createPackage"]
    assert row.trusted_publisher["id"] == "github"
    assert row.trusted_publisher["oidcConfigId"] == trust_id
    assert row.trusted_publisher["repository"] == "alice/pkg"
    assert row.trusted_publisher["workflow"] == "release.yml"
    # It authenticates as the maintainer who set up trust.
    who = await http.get("/-/whoami", headers=_bearer(body["token"]))
    assert who.status_code == 200 and who.json()["username"] == "alice"


async def test_es256_signed_tokens_are_accepted(http, issuer, clock, alice):
    await trust(http, alice, github_config())
    resp = await exchange(http, issuer.sign(github_claims(), kid="ec-1", now=now(clock)))
    assert resp.status_code == 201, resp.text


async def test_stage_command_gets_stage_permission_only(http, ctx, issuer, clock, alice):
    await trust(http, alice, github_config(permissions=("createPackage", "createStagedPackage")))
    resp = await exchange(http, issuer.sign(github_claims(), now=now(clock)), command="stage")
    assert resp.status_code == 201
    async with ctx.db.read() as session:
        row = (await session.execute(select(Token).where(Token.kind == "oidc"))).scalar_one()
    assert row.trust_permissions == ["createStagedPackage"]


async def test_relationship_without_the_needed_permission_gives_a_token_that_cannot_publish(
    http, ctx, issuer, clock, alice
):
    await trust(http, alice, github_config(permissions=("createStagedPackage",)))
    resp = await exchange(http, issuer.sign(github_claims(), now=now(clock)), command="publish")
    # The token carries only what the relationship allows, and the one decision point for
    # package writes refuses to publish with it (npm prints this message, see e2e tests).
    assert resp.status_code == 201
    user, scope = await ctx.tokens.authenticate(resp.json()["token"], "127.0.0.1")
    principal = Principal(user=user, token=scope, via="bearer", client_ip="127.0.0.1")
    ref = PackageRef(name=PKG, exists=True, is_maintainer=True)
    with pytest.raises(Forbidden, match="allows only createStagedPackage"):
        await authorize(ctx, principal, Action.PUBLISH, ref)
    await authorize(ctx, principal, Action.STAGE, ref)
    for action in (Action.DECIDE, Action.MANAGE, Action.GOVERN):
        with pytest.raises(Forbidden):
            await authorize(ctx, principal, action, ref)
    other = PackageRef(name="pkg-b", exists=True, is_maintainer=True)
    with pytest.raises(Forbidden, match="limited to pkg-a"):
        await authorize(ctx, principal, Action.STAGE, other)


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("wrong audience", "audience is not npm:127.0.0.1"),
        ("expired", "expired"),
        ("not yet valid", "not valid yet"),
        ("issued in the future", "issued in the future"),
        ("bad signature", "signature is invalid"),
        ("unknown kid", "unknown key"),
        ("no exp", "no exp claim"),
        ("far future exp", "too far in the future"),
    ],
)
async def test_invalid_id_tokens_are_refused_with_401(
    http, ctx, issuer, clock, alice, case, expected
):
    await trust(http, alice, github_config())
    t = now(clock)
    claims = github_claims()
    kwargs: dict[str, Any] = {"now": t}
    if case == "wrong audience":
        kwargs["audience"] = "npm:registry.npmjs.org"
    elif case == "expired":
        kwargs["now"] = t - 400  # 300 s lifetime, 60 s leeway
    elif case in ("not yet valid", "issued in the future"):
        claims = {**claims, "nbf": int(t + 120)} if case == "not yet valid" else claims
        if case == "issued in the future":
            claims = {**claims, "iat": int(t + 120), "nbf": None}
    elif case == "bad signature":
        kwargs["key"] = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    elif case == "unknown kid":
        kwargs["headers"] = {"kid": "rsa-unknown"}
    elif case == "no exp":
        claims = {**claims, "exp": None}
    elif case == "far future exp":
        kwargs["lifetime"] = 30 * 24 * 3600
    resp = await exchange(http, issuer.sign(claims, **kwargs))
    assert resp.status_code == 401, resp.text
    body = resp.json()
    assert body["message"].startswith("OIDC token exchange error - ")
    assert expected in body["error"]
    async with ctx.db.read() as session:
        assert (
            await session.scalar(
                select(func.count()).select_from(Token).where(Token.kind == "oidc")
            )
            == 0
        )


async def test_leeway_accepts_a_token_that_just_expired(http, issuer, clock, alice):
    await trust(http, alice, github_config())
    # Expired 30 s ago; the default leeway is 60 s.
    resp = await exchange(http, issuer.sign(github_claims(), now=now(clock) - 330))
    assert resp.status_code == 201, resp.text


async def test_unknown_issuer_is_refused_before_any_key_fetch(http, issuer, clock, alice):
    await trust(http, alice, github_config())
    forged = issuer.sign(github_claims(), issuer=issuer.url + "/evil", now=now(clock))
    resp = await exchange(http, forged)
    assert resp.status_code == 401
    assert "is not trusted" in resp.json()["error"]
    assert issuer.jwks_requests == 0


@pytest.mark.parametrize("alg", ["HS256", "none"])
async def test_symmetric_and_unsigned_tokens_are_refused(http, issuer, clock, alice, alg):
    await trust(http, alice, github_config())
    payload = {
        "iss": issuer.github,
        "aud": "npm:127.0.0.1",
        "iat": int(now(clock)),
        "exp": int(now(clock)) + 300,
        **github_claims(),
    }
    token = jwt.encode(payload, "secret" if alg == "HS256" else None, algorithm=alg)
    resp = await exchange(http, token)
    assert resp.status_code == 401
    assert "unsupported signing algorithm" in resp.json()["error"]


async def test_a_replayed_id_token_is_refused(http, issuer, clock, alice):
    await trust(http, alice, github_config())
    id_token = issuer.sign(github_claims(), now=now(clock))
    assert (await exchange(http, id_token)).status_code == 201
    again = await exchange(http, id_token)
    assert again.status_code == 401
    assert "already been used" in again.json()["error"]


async def test_used_ids_are_pruned_once_expired(http, ctx, issuer, clock, alice):
    await trust(http, alice, github_config())
    assert (await exchange(http, issuer.sign(github_claims(), now=now(clock)))).status_code == 201
    clock.advance(3600)
    assert (await exchange(http, issuer.sign(github_claims(), now=now(clock)))).status_code == 201
    async with ctx.db.read() as session:
        assert await session.scalar(select(func.count()).select_from(UsedIdToken)) == 1


@pytest.mark.parametrize(
    "claims",
    [
        github_claims(repository="mallory/pkg"),
        # A fork's workflow file of the same name: another repository in workflow_ref.
        {
            **github_claims(),
            "workflow_ref": "mallory/pkg/.github/workflows/release.yml@refs/heads/main",
        },
        github_claims(workflow="nightly.yml"),
        {**github_claims(), "workflow_ref": "alice/pkg/.github/workflows/sub/release.yml@main"},
        github_claims(environment="staging"),
        {k: v for k, v in github_claims().items() if k != "environment"},
    ],
    ids=["other repo", "fork workflow", "other workflow", "nested path", "other env", "no env"],
)
async def test_claims_matching_no_relationship_are_404(http, ctx, issuer, clock, alice, claims):
    await trust(http, alice, github_config(env="production"))
    resp = await exchange(http, issuer.sign(claims, now=now(clock)))
    assert resp.status_code == 404, resp.text
    assert resp.json()["error"].startswith("OIDC token exchange error - no trust relationship")


async def test_environment_matches_case_insensitively(http, issuer, clock, alice):
    await trust(http, alice, github_config(env="Production"))
    resp = await exchange(
        http, issuer.sign(github_claims(environment="production"), now=now(clock))
    )
    assert resp.status_code == 201


async def test_missing_package_looks_like_no_match(http, issuer, clock, alice):
    resp = await exchange(http, issuer.sign(github_claims(), now=now(clock)), pkg="nope")
    assert resp.status_code == 404
    assert "no trust relationship of package nope" in resp.json()["error"]


async def test_several_relationships_pick_the_one_the_workflow_matches(
    http, ctx, issuer, clock, alice
):
    stage_id = await trust(http, alice, github_config(permissions=("createStagedPackage",)))
    nightly_id = await trust(http, alice, github_config(file="nightly.yml"))
    r1 = await exchange(http, issuer.sign(github_claims(), now=now(clock)), command="stage")
    r2 = await exchange(http, issuer.sign(github_claims(workflow="nightly.yml"), now=now(clock)))
    assert r1.status_code == r2.status_code == 201
    async with ctx.db.read() as session:
        rows = {
            str(t.trust_id): t
            for t in (await session.execute(select(Token).where(Token.kind == "oidc"))).scalars()
        }
    assert rows[stage_id].trust_permissions == ["createStagedPackage"]
    assert rows[nightly_id].trust_permissions == ["createPackage"]


async def test_the_token_stops_working_after_its_lifetime(http, issuer, clock, alice):
    await trust(http, alice, github_config())
    token = (await exchange(http, issuer.sign(github_claims(), now=now(clock)))).json()["token"]
    clock.advance(899)
    assert (await http.get("/-/whoami", headers=_bearer(token))).status_code == 200
    clock.advance(2)
    resp = await http.get("/-/whoami", headers=_bearer(token))
    assert resp.status_code == 401
    assert "expired" in resp.json()["error"]


async def test_the_maintainer_sees_and_can_revoke_live_ci_tokens(http, issuer, clock, alice):
    await trust(http, alice, github_config())
    token = (await exchange(http, issuer.sign(github_claims(), now=now(clock)))).json()["token"]
    listed = (await http.get("/-/npm/v1/tokens", headers=_bearer(alice))).json()["objects"]
    [ci] = [t for t in listed if t["type"] == "oidc"]
    resp = await http.delete(f"/-/npm/v1/tokens/token/{ci['key']}", headers=_bearer(alice))
    assert resp.status_code in (200, 204), resp.text
    assert (await http.get("/-/whoami", headers=_bearer(token))).status_code == 401


async def test_revoking_a_relationship_revokes_its_tokens(http, issuer, clock, alice):
    trust_id = await trust(http, alice, github_config())
    token = (await exchange(http, issuer.sign(github_claims(), now=now(clock)))).json()["token"]
    resp = await http.delete(f"/-/package/{PKG}/trust/{trust_id}", headers=_bearer(alice))
    assert resp.status_code == 204
    assert (await http.get("/-/whoami", headers=_bearer(token))).status_code == 401
    again = await exchange(http, issuer.sign(github_claims(), now=now(clock)))
    assert again.status_code == 404


async def test_keys_are_cached_and_refetched_for_an_unknown_kid(http, ctx, issuer, clock, alice):
    await trust(http, alice, github_config())
    for _ in range(2):
        assert (
            await exchange(http, issuer.sign(github_claims(), now=now(clock)))
        ).status_code == 201
    assert issuer.jwks_requests == 1
    # The issuer rotates in a new key: the first token signed with it triggers a refetch.
    keys = KeyCache(ttl=3600, refetch_after=0)
    await oidc_exchange(ctx, keys, PKG, issuer.sign(github_claims(), now=now(clock)), "publish")
    issuer.add_key("rsa-2")
    rotated = issuer.sign(github_claims(), kid="rsa-2", now=now(clock))
    await oidc_exchange(ctx, keys, PKG, rotated, "publish")
    assert keys.fetches == 2


async def test_junk_key_ids_cost_at_most_one_refetch(ctx, http, issuer, clock, alice):
    await trust(http, alice, github_config())
    keys = KeyCache(ttl=3600, refetch_after=10)
    for n in range(3):
        junk = issuer.sign(github_claims(), headers={"kid": f"junk-{n}"}, now=now(clock))
        with pytest.raises(ExchangeError, match="unknown key"):
            await oidc_exchange(ctx, keys, PKG, junk, "publish")
    assert keys.fetches == 1


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({}, 401),
        ({"authorization": "Bearer not-a-jwt"}, 400),
        ({"authorization": "Basic eDp5"}, 401),
    ],
)
async def test_missing_or_malformed_id_token(http, headers, status):
    resp = await http.post(EXCHANGE + PKG, headers=headers)
    assert resp.status_code == status
    assert resp.json()["message"].startswith("OIDC token exchange error - ")


async def test_scoped_package_names_route_in_every_spelling(http, ctx, issuer, clock):
    token = await seed_package(ctx, "@alice/pkg-s", "alice")
    await trust(http, token, github_config(), pkg="@alice%2fpkg-s")
    for spelling in ("@alice%2fpkg-s", "%40alice%2Fpkg-s"):
        resp = await exchange(http, issuer.sign(github_claims(), now=now(clock)), pkg=spelling)
        assert resp.status_code == 201, resp.text


async def test_gitlab_claims_match_project_and_config_file(http, issuer, clock, alice):
    await trust(
        http,
        alice,
        {
            "type": "gitlab",
            "claims": {
                "project_path": "grp/sub/proj",
                "ci_config_ref_uri": {"file": ".gitlab-ci.yml"},
            },
            "permissions": ["createPackage"],
        },
    )
    good = issuer.sign(gitlab_claims(), issuer=issuer.gitlab, now=now(clock))
    assert (await exchange(http, good)).status_code == 201
    other_file = issuer.sign(
        gitlab_claims(file="ci/other.yml"), issuer=issuer.gitlab, now=now(clock)
    )
    assert (await exchange(http, other_file)).status_code == 404
    # A GitHub token never matches a GitLab relationship, even with look-alike claims.
    cross = issuer.sign(gitlab_claims(), issuer=issuer.github, now=now(clock))
    assert (await exchange(http, cross)).status_code == 404


async def test_circleci_needs_the_org_issuer_and_every_configured_context(
    http, issuer, clock, alice
):
    org, proj, pipe, ctx_a, ctx_b = (
        "6f1a2b3c-0000-4000-8000-000000000001",
        "6f1a2b3c-0000-4000-8000-000000000002",
        "6f1a2b3c-0000-4000-8000-000000000003",
        "6f1a2b3c-0000-4000-8000-000000000004",
        "6f1a2b3c-0000-4000-8000-000000000005",
    )
    c = "oidc.circleci.com/"
    await trust(
        http,
        alice,
        {
            "type": "circleci",
            "claims": {
                c + "org-id": org,
                c + "project-id": proj,
                c + "pipeline-definition-id": pipe,
                c + "vcs-origin": "github.com/alice/pkg",
                c + "context-ids": [ctx_a],
            },
            "permissions": ["createStagedPackage"],
        },
    )
    org_issuer = f"{issuer.circleci_prefix}/{org}"
    claims = circleci_claims(org, proj, pipe, "github.com/alice/pkg", [ctx_a, ctx_b])
    ok = await exchange(
        http, issuer.sign(claims, issuer=org_issuer, now=now(clock)), command="stage"
    )
    assert ok.status_code == 201, ok.text
    no_ctx = circleci_claims(org, proj, pipe, "github.com/alice/pkg", [ctx_b])
    resp = await exchange(http, issuer.sign(no_ctx, issuer=org_issuer, now=now(clock)))
    assert resp.status_code == 404
    # An organisation's issuer cannot vouch for another organisation's claims.
    wrong_org = f"{issuer.circleci_prefix}/6f1a2b3c-0000-4000-8000-0000000000ff"
    resp = await exchange(http, issuer.sign(claims, issuer=wrong_org, now=now(clock)))
    assert resp.status_code == 401
    assert "organisation" in resp.json()["error"]


async def test_no_relationship_on_the_issuer_means_no_key_fetch(ctx, issuer, clock, alice):
    # Point 13: relationships are looked up before any outbound request.
    keys = KeyCache(ttl=3600)
    for n in range(3):
        token = issuer.sign(github_claims(), headers={"kid": f"junk-{n}"}, now=now(clock))
        with pytest.raises(ExchangeError, match="no trust relationship"):
            await oidc_exchange(ctx, keys, PKG, token, "publish")
    assert keys.fetches == 0


async def test_a_failed_key_fetch_is_remembered(ctx):
    keys = KeyCache(ttl=3600, failure_ttl=60)
    for _ in range(3):
        with pytest.raises(IssuerUnavailable):
            await keys.key("http://127.0.0.1:9/nowhere", "kid")
    assert keys.fetches == 1


async def test_the_key_cache_is_bounded(ctx):
    keys = KeyCache(ttl=3600, failure_ttl=60, max_issuers=2)
    for n in range(5):
        with pytest.raises(IssuerUnavailable):
            await keys.key(f"http://127.0.0.1:9/org-{n}", "kid")
    assert len(keys._entries) == 2


async def test_a_padded_copy_of_a_jti_less_token_is_a_replay(http, ctx, issuer, clock, alice):
    await trust(http, alice, github_config())
    token = issuer.sign({**github_claims(), "jti": None}, now=now(clock))
    assert "jti" not in jwt.decode(token, options={"verify_signature": False})
    keys = KeyCache(ttl=3600)
    await oidc_exchange(ctx, keys, PKG, token, "publish")
    with pytest.raises(ExchangeError, match="replayed"):
        await oidc_exchange(ctx, keys, PKG, token + "==", "publish")


async def test_the_exchange_is_rate_limited_per_client_address(http, ctx):
    limit = ctx.settings.oidc_exchanges_per_minute
    statuses = [
        (await http.post(EXCHANGE + PKG, headers={"authorization": "Bearer x.y.z"})).status_code
        for _ in range(limit + 1)
    ]
    assert 429 not in statuses[:limit] and statuses[limit] == 429


async def test_relationships_are_bound_to_their_issuer(http, ctx, issuer, clock, alice):
    ghes = issuer.url + "/ghes"
    ctx.settings = ctx.settings.model_copy(update={"oidc_extra_issuers": {"github:ghes": ghes}})
    await trust(http, alice, github_config())
    keys = KeyCache(ttl=3600)
    # The same owner/repo name on another issuer of the same provider is someone else.
    other = issuer.sign(github_claims(), issuer=ghes, now=now(clock))
    with pytest.raises(ExchangeError, match="no trust relationship"):
        await oidc_exchange(ctx, keys, PKG, other, "publish")
    assert keys.fetches == 0
    await oidc_exchange(ctx, keys, PKG, issuer.sign(github_claims(), now=now(clock)), "publish")
    # Binding the same claims to the extra issuer is a different relationship, chosen
    # explicitly; an unknown issuer name is refused.
    bound = {**github_config(), "issuer": "github:ghes"}
    await trust(http, alice, bound)
    resp = await http.post(
        f"/-/package/{PKG}/trust", json=[bound], headers={"authorization": f"Bearer {alice}"}
    )
    assert resp.status_code == 409
    bad = {**github_config(), "issuer": "github:nope"}
    resp = await http.post(
        f"/-/package/{PKG}/trust", json=[bad], headers={"authorization": f"Bearer {alice}"}
    )
    assert resp.status_code == 400 and "github:ghes" in resp.json()["error"]
    again = issuer.sign(github_claims(), issuer=ghes, now=now(clock))
    await oidc_exchange(ctx, keys, PKG, again, "publish")
