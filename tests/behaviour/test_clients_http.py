"""What pnpm and yarn need over HTTP, in-process: HEAD everywhere, logins that never
create accounts, e-mail validation, pnpm's access status and version documents, the
atomic batch publish, and error texts in the requesting client's words."""

from __future__ import annotations

import httpx
import pytest
from sqlalchemy import func, select

from airlock.accounts.models import User
from tests.support.otp import code, enrol
from tests.support.packages import make_tarball, publish_body
from tests.support.staging import auth, blob_files, signup, swept_blob_files, version_rows

PW = "correct-horse-9"
NPM_UA = "npm/11.19.1 node/v20.20.2 linux x64 workspaces/false"
PNPM_UA = "pnpm/12.23.0 npm/? node/v20.20.2 linux x64"
YARN_UA = "yarn/4.18.1 npm/? node/v20.20.2 linux x64"


async def users(app_ctx) -> int:
    async with app_ctx.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(User)) or 0)


async def published(client: httpx.AsyncClient, token: str, name: str, version: str) -> None:
    resp = await client.put(
        f"/{name.replace('/', '%2f')}", json=publish_body(name, version), headers=auth(token)
    )
    assert resp.status_code == 201, resp.text


# -- HEAD ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/-/ping", "/head-pkg", "/head-pkg/-/head-pkg-1.0.0.tgz", "/head-pkg/1.0.0", "/missing"],
)
async def test_head_answers_like_get_without_a_body(client, path):
    token = await signup(client, "head-alice")
    await published(client, token, "head-pkg", "1.0.0")
    for encoding in ("identity", "gzip"):
        headers = {"accept-encoding": encoding}
        got = await client.get(path, headers=headers)
        head = await client.head(path, headers=headers)
        assert head.status_code == got.status_code
        assert head.content == b""
        assert head.headers["content-length"] == got.headers["content-length"]
        if encoding == "identity":
            assert int(head.headers["content-length"]) == len(got.content) > 0
        for key in ("content-type", "content-encoding", "etag", "cache-control"):
            assert head.headers.get(key) == got.headers.get(key)


async def test_head_of_a_restricted_package_is_a_404_to_others(client):
    token = await signup(client, "head-bob")
    body = publish_body("@head-bob/sec", "1.0.0", access="restricted")
    assert (await client.put("/@head-bob%2fsec", json=body, headers=auth(token))).status_code == 201
    assert (await client.head("/@head-bob%2fsec")).status_code == 404
    assert (await client.head("/@head-bob%2fsec", headers=auth(token))).status_code == 200


# -- login and sign-up -----------------------------------------------------------------


def couch(name: str, **extra: str) -> dict[str, str]:
    return {
        "_id": f"org.couchdb.user:{name}",
        "name": name,
        "password": PW,
        "type": "user",
        **extra,
    }


async def test_yarn_login_for_an_unknown_name_is_a_401_and_creates_nothing(client, app_ctx):
    before = await users(app_ctx)
    resp = await client.put(
        "/-/user/org.couchdb.user:nobody", json=couch("nobody"), headers={"user-agent": YARN_UA}
    )
    assert resp.status_code == 401, resp.text
    assert resp.json()["error"] == "Incorrect username or password."
    assert await users(app_ctx) == before


async def test_npm_login_for_an_unknown_name_is_npms_400_and_creates_nothing(client, app_ctx):
    resp = await client.put(
        "/-/user/org.couchdb.user:nobody",
        json=couch("nobody"),
        headers={"npm-command": "login", "user-agent": NPM_UA},
    )
    assert resp.status_code == 400
    assert "There is no user with the username" in resp.json()["error"]
    assert await users(app_ctx) == 0


@pytest.mark.parametrize(
    "headers",
    [{"npm-command": "adduser"}, {}],  # npm adduser; pnpm's login (an e-mail, no npm-command)
)
async def test_a_sign_up_with_an_email_creates_the_account(client, app_ctx, headers):
    resp = await client.put(
        "/-/user/org.couchdb.user:newbie",
        json=couch("newbie", email="Newbie@Example.COM"),
        headers=headers,
    )
    assert resp.status_code == 201, resp.text
    async with app_ctx.db.read() as session:
        user = (await session.execute(select(User).where(User.name == "newbie"))).scalar_one()
    assert user.email == "Newbie@example.com"  # the domain normalised


async def test_a_known_user_logs_in_from_yarn_without_an_email(client):
    await signup(client, "known")
    resp = await client.put("/-/user/org.couchdb.user:known", json=couch("known"))
    assert resp.status_code == 201 and resp.json()["token"]


@pytest.mark.parametrize("email", ["not an email", "a@@b.com", "alice@", "x@y .com", "x@-y.com"])
async def test_sign_up_refuses_a_bad_email(client, app_ctx, email):
    resp = await client.put(
        "/-/user/org.couchdb.user:bademail",
        json=couch("bademail", email=email),
        headers={"npm-command": "adduser"},
    )
    assert resp.status_code == 400 and "Invalid e-mail address" in resp.json()["error"]
    assert await users(app_ctx) == 0


@pytest.mark.parametrize("email", ["bench@example.invalid", "dev@corp.local", "ci@build.test"])
async def test_sign_up_accepts_reserved_mail_domains(client, app_ctx, email):
    """Well-formed, and used by company networks (.local) and the shared benchmark."""
    resp = await client.put(
        "/-/user/org.couchdb.user:reserved",
        json=couch("reserved", email=email),
        headers={"npm-command": "adduser"},
    )
    assert resp.status_code == 201, resp.text
    assert await users(app_ctx) == 1


async def test_adduser_without_an_email_is_refused(client, app_ctx):
    resp = await client.put(
        "/-/user/org.couchdb.user:noemail",
        json=couch("noemail"),
        headers={"npm-command": "adduser"},
    )
    assert resp.status_code == 400 and "e-mail address is required" in resp.json()["error"]
    assert await users(app_ctx) == 0


async def test_profile_refuses_a_bad_email_and_keeps_the_old_one(client):
    token = await signup(client, "prof")
    resp = await client.post("/-/npm/v1/user", json={"email": "not an email"}, headers=auth(token))
    assert resp.status_code == 400
    got = await client.get("/-/npm/v1/user", headers=auth(token))
    assert got.json()["email"] == "prof@example.com"


# -- pnpm access status, version documents ---------------------------------------------


async def test_access_status_has_the_shape_pnpm_reads(client):
    token = await signup(client, "acc")
    await published(client, token, "acc-pub", "1.0.0")
    body = publish_body("@acc/sec", "1.0.0", access="restricted")
    assert (await client.put("/@acc%2fsec", json=body, headers=auth(token))).status_code == 201
    resp = await client.get("/-/package/acc-pub/access")
    assert resp.json() == {"access": "public", "publish_requires_tfa": False}
    resp = await client.get("/-/package/@acc%2fsec/access", headers=auth(token))
    assert resp.json() == {"access": "restricted", "publish_requires_tfa": False}
    assert (await client.get("/-/package/@acc%2fsec/access")).status_code == 404


async def test_version_document_by_version_or_tag(client):
    token = await signup(client, "vdoc")
    await published(client, token, "vdoc-pkg", "1.0.0")
    full = (await client.get("/vdoc-pkg")).json()
    for spec in ("latest", "1.0.0"):
        resp = await client.get(f"/vdoc-pkg/{spec}")
        assert resp.status_code == 200
        assert resp.json() == full["versions"]["1.0.0"]
    assert (await client.get("/vdoc-pkg/9.9.9")).status_code == 404
    assert (await client.get("/vdoc-pkg/nope")).json()["error"]


# -- batch publish -----------------------------------------------------------------------


def batch(*docs: dict) -> dict:
    return {"packages": list(docs)}


async def test_batch_publishes_every_package(client, app_ctx):
    token = await signup(client, "bat")
    resp = await client.put(
        "/-/pnpr/v0/publish",
        headers=auth(token),
        json=batch(
            publish_body("bat-one", "1.0.0"), publish_body("@bat/two", "2.0.0", access="public")
        ),
    )
    assert resp.status_code == 201, resp.text
    assert resp.json()["ok"] is True and resp.json()["success"] is True
    assert await version_rows(app_ctx) == [
        ("@bat/two", "2.0.0", "published"),
        ("bat-one", "1.0.0", "published"),
    ]
    assert (await client.get("/@bat%2ftwo")).json()["dist-tags"]["latest"] == "2.0.0"


@pytest.mark.parametrize(
    "second, status, words",
    [
        (publish_body("bat-taken", "2.0.0"), 403, "bat-taken@2.0.0: You do not have permission"),
        (publish_body("bat-mine", "1.0.0"), 403, "bat-mine@1.0.0: You cannot publish over"),
        ({**publish_body("bat-bad", "1.0.0"), "_attachments": {}}, 400, "bat-bad@1.0.0: "),
        (publish_body("bat-new", "1.0.0"), 400, "bat-new appears twice"),
    ],
)
async def test_a_batch_with_one_refusal_publishes_nothing(client, app_ctx, second, status, words):
    other = await signup(client, "bat-other")
    await published(client, other, "bat-taken", "1.0.0")
    token = await signup(client, "bat-me")
    await published(client, token, "bat-mine", "1.0.0")
    rows, blobs = await version_rows(app_ctx), blob_files(app_ctx)
    docs = [publish_body("bat-new", "1.0.0", make_tarball("bat-new", "1.0.0", {"x": 1})), second]
    resp = await client.put("/-/pnpr/v0/publish", headers=auth(token), json=batch(*docs))
    assert resp.status_code == status, resp.text
    assert words in resp.json()["error"]
    assert await version_rows(app_ctx) == rows
    assert await swept_blob_files(app_ctx) == blobs
    assert (await client.get("/bat-new")).status_code == 404


@pytest.mark.parametrize(
    "body, words",
    [
        ({"packages": []}, "empty"),
        ({}, "packages"),
        ({"packages": [1]}, "packages[0]"),
        ({"packages": [{"name": "x"}] * 101}, "at most 100"),
    ],
)
async def test_malformed_batches_are_400s(client, body, words):
    token = await signup(client, "bat-bad")
    resp = await client.put("/-/pnpr/v0/publish", headers=auth(token), json=body)
    assert resp.status_code == 400 and words in resp.json()["error"]


async def test_batch_needs_a_login(client):
    resp = await client.put("/-/pnpr/v0/publish", json=batch(publish_body("anon", "1.0.0")))
    assert resp.status_code == 401


async def test_batch_asks_for_a_code_once_and_accepts_it_for_every_package(client, app_ctx, clock):
    token = await signup(client, "bat-2fa")
    secret, _ = await enrol(client, token, clock.now())
    docs = batch(publish_body("bat-f1", "1.0.0"), publish_body("bat-f2", "1.0.0"))
    resp = await client.put("/-/pnpr/v0/publish", headers=auth(token), json=docs)
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "OTP"
    assert await version_rows(app_ctx) == []
    clock.advance(seconds=30)
    resp = await client.put(
        "/-/pnpr/v0/publish", json=docs, headers=auth(token, code(secret, clock.now()))
    )
    assert resp.status_code == 201, resp.text
    assert [r[0] for r in await version_rows(app_ctx)] == ["bat-f1", "bat-f2"]


# -- client-neutral messages -----------------------------------------------------------


@pytest.mark.parametrize(
    "ua, expected",
    [
        (NPM_UA, "Run `npm login`."),
        (PNPM_UA, "Run `pnpm login`."),
        (YARN_UA, "Run `yarn npm login`."),
        ("curl/8", "Run `npm login`, `pnpm login`, `yarn npm login`."),
    ],
)
async def test_errors_name_the_command_of_the_requesting_client(client, ua, expected):
    resp = await client.put(
        "/some-pkg", json=publish_body("some-pkg", "1.0.0"), headers={"user-agent": ua}
    )
    assert resp.status_code == 401
    assert resp.json()["error"].endswith(expected)
