"""npm's web 2FA for every write, over raw HTTP in-process: the challenge (401 +
WWW-Authenticate: OTP + npm-notice + authUrl/doneUrl) for a token create, a publish and a
dist-tag change; and a browser-issued code approves exactly the write it was minted for
(account, verb, package or "account", the action in words), once."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from airlock.audit.models import AuditEvent
from airlock.twofactor.web_codes import ACCOUNT, mint
from tests.support.otp import code, enrol
from tests.support.packages import publish_body
from tests.support.staging import auth, signup

PW = "correct-horse-9"
WEB = {"npm-auth-type": "web"}


async def _user_id(app_ctx, name):
    from airlock.accounts.service import get_user

    user = await get_user(app_ctx, name)
    assert user is not None
    return user.id


def _challenged(resp) -> dict[str, str]:
    assert resp.status_code == 401, resp.text
    assert resp.headers["www-authenticate"] == "OTP"
    body = resp.json()
    assert "one-time pass" in body["error"]
    assert body["authUrl"].startswith("http://127.0.0.1:4873/-/web/cli/")
    assert body["doneUrl"].startswith("http://127.0.0.1:4873/-/v1/done?authId=")
    assert body["authUrl"] in resp.headers["npm-notice"]
    return body


async def test_token_create_gets_a_web_challenge_and_its_code_creates_one_token(
    client, app_ctx, clock
):
    alice = await signup(client, "alice")
    await enrol(client, alice, clock.now())
    made = {"password": PW, "readonly": False, "cidr_whitelist": []}
    resp = await client.post("/-/npm/v1/tokens", json=made, headers={**auth(alice), **WEB})
    body = _challenged(resp)
    # The doneUrl is a capability: no authorization, pending until the browser answers.
    pending = await client.get(body["doneUrl"])
    assert pending.status_code == 202 and pending.headers["retry-after"] == "2"
    # The page belongs to a signed-in browser: anonymous visitors go to sign-in.
    page = await client.get(body["authUrl"].removeprefix("http://127.0.0.1:4873"))
    assert page.status_code in (302, 303) and "/-/web/sign-in" in page.headers["location"]
    # --otp / --auth-type=legacy, and clients that did not ask for the web flow (pnpm,
    # yarn): the classic prompt, no URLs.
    for headers in ({"npm-auth-type": "legacy"}, {}):
        plain = await client.post("/-/npm/v1/tokens", json=made, headers={**auth(alice), **headers})
        assert plain.status_code == 401 and "authUrl" not in plain.json()
        assert plain.headers["www-authenticate"] == "OTP"

    alice_id = await _user_id(app_ctx, "alice")
    minted = await mint(app_ctx, alice_id, "credentials", [ACCOUNT], "totp", "Create a token")
    # Bound to the action: not a password change, not a token revoke.
    password = {"password": {"old": PW, "new": "battery-staple-7"}}
    other = await client.post("/-/npm/v1/user", json=password, headers=auth(alice, minted.code))
    assert other.status_code == 401 and "not issued for this action" in other.json()["error"]
    revoke = await client.delete("/-/npm/v1/tokens/token/abcdef", headers=auth(alice, minted.code))
    assert revoke.status_code == 401
    ok = await client.post("/-/npm/v1/tokens", json=made, headers=auth(alice, minted.code))
    assert ok.status_code == 201, ok.text
    again = await client.post("/-/npm/v1/tokens", json=made, headers=auth(alice, minted.code))
    assert again.status_code == 401 and "already used" in again.json()["error"]
    # Someone else's code is nothing to alice.
    bob = await signup(client, "bob")
    await enrol(client, bob, clock.now())
    theirs = await mint(
        app_ctx, await _user_id(app_ctx, "bob"), "credentials", [ACCOUNT], "totp", "Create a token"
    )
    foreign = await client.post("/-/npm/v1/tokens", json=made, headers=auth(alice, theirs.code))
    assert foreign.status_code == 401
    async with app_ctx.db.read() as session:
        used = (
            (
                await session.execute(
                    select(AuditEvent).where(AuditEvent.event == "user:2fa:web-code:used")
                )
            )
            .scalars()
            .all()
        )
    assert [(e.actor, e.details["verb"], e.details["action"]) for e in used] == [
        ("alice", "credentials", "Create a token")
    ]


async def test_a_publish_code_is_refused_for_another_package_version_and_for_dist_tag(
    client, app_ctx, clock
):
    alice = await signup(client, "alice")
    secret, _ = await enrol(client, alice, clock.now())
    first = await client.put(
        "/pkg-a",
        json=publish_body("pkg-a", "1.0.0"),
        headers=auth(alice, code(secret, clock.now() + timedelta(seconds=30))),
    )
    assert first.status_code in (200, 201), first.text
    # The challenge names the publish.
    resp = await client.put(
        "/pkg-a", json=publish_body("pkg-a", "1.0.1"), headers={**auth(alice), **WEB}
    )
    _challenged(resp)
    alice_id = await _user_id(app_ctx, "alice")
    minted = await mint(app_ctx, alice_id, "publish", ["pkg-a"], "totp", "Publish pkg-a@1.0.1")
    wrong = [
        ("/pkg-b", publish_body("pkg-b", "1.0.1")),  # another package
        ("/pkg-a", publish_body("pkg-a", "1.0.2")),  # another version of it
    ]
    for path, body in wrong:
        refused = await client.put(path, json=body, headers=auth(alice, minted.code))
        assert refused.status_code == 401, refused.text
    tag = await client.put(
        "/-/package/pkg-a/dist-tags/beta", json="1.0.0", headers=auth(alice, minted.code)
    )
    assert tag.status_code == 401 and "not issued" in tag.json()["error"]
    # None of those spent it: the publish it was made for goes through, once.
    ok = await client.put(
        "/pkg-a", json=publish_body("pkg-a", "1.0.1"), headers=auth(alice, minted.code)
    )
    assert ok.status_code in (200, 201), ok.text
    doc = (await client.get("/pkg-a")).json()
    assert sorted(doc["versions"]) == ["1.0.0", "1.0.1"] and "beta" not in doc["dist-tags"]
    assert (await client.get("/pkg-b")).status_code == 404

    # A dist-tag challenge names the tag, the package and the version.
    resp = await client.put(
        "/-/package/pkg-a/dist-tags/beta", json="1.0.0", headers={**auth(alice), **WEB}
    )
    _challenged(resp)
    tagged = await mint(
        app_ctx, alice_id, "manage", ["pkg-a"], "totp", "Add dist-tag beta to pkg-a@1.0.0"
    )
    other_tag = await client.put(
        "/-/package/pkg-a/dist-tags/next", json="1.0.0", headers=auth(alice, tagged.code)
    )
    assert other_tag.status_code == 401
    done = await client.put(
        "/-/package/pkg-a/dist-tags/beta", json="1.0.0", headers=auth(alice, tagged.code)
    )
    assert done.status_code in (200, 201), done.text


async def test_a_long_package_name_gets_a_challenge_and_its_code(client, app_ctx, clock):
    # Package names run to 214 characters, longer than a stage id: the binding holds them.
    alice = await signup(client, "alice")
    await enrol(client, alice, clock.now())
    name = "long-" + "x" * 200
    body = publish_body(name, "1.0.0")
    _challenged(await client.put(f"/{name}", json=body, headers={**auth(alice), **WEB}))
    alice_id = await _user_id(app_ctx, "alice")
    minted = await mint(app_ctx, alice_id, "publish", [name], "totp", f"Publish {name}@1.0.0")
    ok = await client.put(f"/{name}", json=body, headers=auth(alice, minted.code))
    assert ok.status_code in (200, 201), ok.text
