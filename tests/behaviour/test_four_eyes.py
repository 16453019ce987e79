"""Four-eyes review: the policy endpoints and the rule in the one approval path (in-process)."""

from __future__ import annotations

from tests.support.otp import code, enrol
from tests.support.staging import auth, set_maintainer, signup, staged_id, version_rows

POLICY = "/-/airlock/v1/package/pkg-a/policy"


async def _with_2fa(client, clock, name):
    token = await signup(client, name)
    secret, _ = await enrol(client, token, clock.now())
    clock.advance(30)
    return token, secret


def _otp(clock, secret):
    clock.advance(30)  # a fresh time-step: every code below is new
    return code(secret, clock.now())


async def _team(client, app_ctx, clock, *others):
    alice, a_secret = await _with_2fa(client, clock, "alice")
    first = await staged_id(client, alice, "pkg-a", "0.0.1")
    await client.post(f"/-/stage/{first}/approve", headers=auth(alice, _otp(clock, a_secret)))
    secrets = {"alice": (alice, a_secret)}
    for name in others:
        secrets[name] = await _with_2fa(client, clock, name)
        await set_maintainer(app_ctx, "pkg-a", name, True)
    return secrets


async def test_policy_get_put_needs_maintainer_and_fresh_code(client, app_ctx, clock):
    team = await _team(client, app_ctx, clock, "bob")
    alice, secret = team["alice"]
    assert (await client.get(POLICY, headers=auth(alice))).json() == {
        "package": "pkg-a",
        "fourEyes": False,
        "approvalsRequired": 1,
    }
    body = {"fourEyes": True, "approvalsRequired": 1}
    missing = await client.put(POLICY, json=body, headers=auth(alice))
    assert missing.status_code == 401 and missing.headers["www-authenticate"] == "OTP"
    ok = await client.put(POLICY, json=body, headers=auth(alice, _otp(clock, secret)))
    assert ok.status_code == 200, ok.text
    assert (await client.get(POLICY, headers=auth(alice))).json()["fourEyes"] is True
    carol = await signup(client, "carol")
    assert (await client.get(POLICY, headers=auth(carol))).status_code == 404
    assert (await client.put(POLICY, json=body, headers=auth(carol, "123456"))).status_code in (
        403,
        404,
    )
    for bad in ({"fourEyes": "yes"}, {"approvalsRequired": 0}, {"approvalsRequired": 3}, {"x": 1}):
        resp = await client.put(POLICY, json=bad, headers=auth(alice, _otp(clock, secret)))
        assert resp.status_code == 400 and resp.json()["error"], bad


async def test_stager_cannot_approve_another_maintainer_can(client, app_ctx, clock):
    team = await _team(client, app_ctx, clock, "bob")
    (alice, a_secret), (bob, b_secret) = team["alice"], team["bob"]
    resp = await client.put(
        POLICY, json={"fourEyes": True}, headers=auth(alice, _otp(clock, a_secret))
    )
    assert resp.status_code == 200
    stage = await staged_id(client, alice, "pkg-a", "1.0.0")
    own = await client.post(f"/-/stage/{stage}/approve", headers=auth(alice, _otp(clock, a_secret)))
    assert own.status_code == 403 and "four-eyes" in own.json()["error"]
    assert ("pkg-a", "1.0.0", "staged") in await version_rows(app_ctx)
    other = await client.post(f"/-/stage/{stage}/approve", headers=auth(bob, _otp(clock, b_secret)))
    assert other.status_code == 201, other.text
    assert ("pkg-a", "1.0.0", "published") in await version_rows(app_ctx)


async def test_two_maintainer_rule(client, app_ctx, clock):
    team = await _team(client, app_ctx, clock, "bob", "carol")
    (alice, a_secret), (bob, b_secret), (carol, c_secret) = (
        team["alice"],
        team["bob"],
        team["carol"],
    )
    await client.put(
        POLICY,
        json={"fourEyes": True, "approvalsRequired": 2},
        headers=auth(alice, _otp(clock, a_secret)),
    )
    stage = await staged_id(client, alice, "pkg-a", "1.0.0")
    first = await client.post(f"/-/stage/{stage}/approve", headers=auth(bob, _otp(clock, b_secret)))
    assert first.status_code == 202, first.text
    assert first.json()["approvals"] == 1 and "1 of 2" in first.headers["npm-notice"]
    assert ("pkg-a", "1.0.0", "staged") in await version_rows(app_ctx)
    again = await client.post(f"/-/stage/{stage}/approve", headers=auth(bob, _otp(clock, b_secret)))
    assert again.status_code == 409 and "already approved" in again.json()["error"]
    status = await client.get("/-/package/pkg-a/version/1.0.0/status", headers=auth(bob))
    assert status.json()["status"] == "staged"
    second = await client.post(
        f"/-/stage/{stage}/approve", headers=auth(carol, _otp(clock, c_secret))
    )
    assert second.status_code == 201, second.text
    assert ("pkg-a", "1.0.0", "published") in await version_rows(app_ctx)


async def test_stage_by_trusted_publisher_cannot_be_approved_by_its_owner(client, app_ctx, clock):
    from tests.support.staging import add_token

    team = await _team(client, app_ctx, clock, "bob")
    (alice, a_secret), (bob, b_secret) = team["alice"], team["bob"]
    await client.put(POLICY, json={"fourEyes": True}, headers=auth(alice, _otp(clock, a_secret)))
    # A trusted-publishing token acts as the account that created the trust relationship.
    ci = await add_token(app_ctx, "alice", kind="oidc", trust_permissions=["createStagedPackage"])
    stage = await staged_id(client, ci, "pkg-a", "1.0.0")
    own = await client.post(f"/-/stage/{stage}/approve", headers=auth(alice, _otp(clock, a_secret)))
    assert own.status_code == 403
    other = await client.post(f"/-/stage/{stage}/approve", headers=auth(bob, _otp(clock, b_secret)))
    assert other.status_code == 201, other.text


async def test_a_batch_code_obeys_four_eyes(client, app_ctx, clock):
    """One browser ceremony's code for several stages goes through the same approval path:
    the stager's own batch code approves none of them, another maintainer's approves all."""
    from airlock.accounts.service import get_user
    from airlock.twofactor.web_codes import mint

    team = await _team(client, app_ctx, clock, "bob")
    (alice, a_secret), (bob, _) = team["alice"], team["bob"]
    resp = await client.put(
        POLICY, json={"fourEyes": True}, headers=auth(alice, _otp(clock, a_secret))
    )
    assert resp.status_code == 200
    stages = [await staged_id(client, alice, "pkg-a", v) for v in ("1.0.0", "1.1.0")]
    for name, token, expected in (("alice", alice, 403), ("bob", bob, 201)):
        user = await get_user(app_ctx, name)
        assert user is not None
        batch = await mint(app_ctx, user.id, "approve", stages, "totp")
        for stage in stages:
            answer = await client.post(f"/-/stage/{stage}/approve", headers=auth(token, batch.code))
            assert answer.status_code == expected, answer.text
            assert expected == 201 or "four-eyes" in answer.json()["error"]
        state = "staged" if expected == 403 else "published"
        rows = await version_rows(app_ctx)
        assert {("pkg-a", v, state) for v in ("1.0.0", "1.1.0")} <= set(rows)
