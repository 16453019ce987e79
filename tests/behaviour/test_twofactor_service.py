"""Two-factor enrolment, verification, replay, lockout and recovery codes (in-process)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from airlock.accounts.models import RecoveryCode, User
from airlock.accounts.service import create_user
from airlock.errors import OtpRequired, TooManyRequests
from airlock.twofactor import service, totp
from airlock.twofactor.service import hash_recovery_code
from tests.support.otp import code, enrol

PW = "correct-horse-9"


async def login(client, name: str = "alice", otp: str | None = None):
    body = {"name": name, "password": PW, "email": f"{name}@example.com"}
    headers = {"npm-otp": otp} if otp else {}
    return await client.put(f"/-/user/org.couchdb.user:{name}", json=body, headers=headers)


async def user_row(app_ctx, name: str = "alice") -> User:
    async with app_ctx.db.read() as session:
        return (await session.execute(select(User).where(User.name == name))).scalar_one()


@pytest.fixture
async def token(client):
    resp = await login(client)
    assert resp.status_code == 201
    return resp.json()["token"]


async def test_enrolment_stores_encrypted_secret_and_hashed_recovery_codes(
    client, app_ctx, clock, token
):
    secret, codes = await enrol(client, token, clock.now())
    assert len(codes) == 10 and all(totp.is_recovery_code(c) for c in codes)
    user = await user_row(app_ctx)
    assert user.tfa_mode == "auth-and-writes" and not user.tfa_pending
    assert user.totp_secret_enc and secret.encode() not in user.totp_secret_enc
    async with app_ctx.db.read() as session:
        stored = {r.code_hash for r in (await session.execute(select(RecoveryCode))).scalars()}
    assert stored == {hash_recovery_code(c) for c in codes}
    assert not set(codes) & stored


async def test_profile_shows_pending_then_enabled_mode(client, clock, token):
    auth = {"authorization": f"Bearer {token}"}
    assert (await client.get("/-/npm/v1/user", headers=auth)).json()["tfa"] is False
    await enrol(client, token, clock.now(), mode="auth-only")
    body = (await client.get("/-/npm/v1/user", headers=auth)).json()
    assert body["tfa"] == {"pending": False, "mode": "auth-only"}


async def test_enabling_twice_is_a_conflict_and_changes_nothing(client, app_ctx, clock, token):
    await enrol(client, token, clock.now())
    before = (await user_row(app_ctx)).totp_secret_enc
    resp = await client.post(
        "/-/npm/v1/user",
        json={"tfa": {"mode": "auth-and-writes", "password": PW}},
        headers={"authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 409
    assert "already enabled" in resp.json()["error"]
    assert (await user_row(app_ctx)).totp_secret_enc == before


async def test_wrong_confirmation_code_keeps_enrolment_pending(client, app_ctx, token):
    auth = {"authorization": f"Bearer {token}"}
    resp = await client.post(
        "/-/npm/v1/user", json={"tfa": {"mode": "auth-only", "password": PW}}, headers=auth
    )
    assert resp.json()["tfa"].startswith("otpauth://")
    resp = await client.post("/-/npm/v1/user", json={"tfa": ["000000"]}, headers=auth)
    assert resp.status_code == 400
    user = await user_row(app_ctx)
    assert user.tfa_pending and user.totp_last_step is None


async def test_enrolment_needs_the_password(client, app_ctx, token):
    resp = await client.post(
        "/-/npm/v1/user",
        json={"tfa": {"mode": "auth-only", "password": "wrong-password"}},
        headers={"authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 401
    assert resp.headers["www-authenticate"] == "Basic"
    assert (await user_row(app_ctx)).tfa_mode is None


async def test_unknown_mode_is_refused(client, token):
    resp = await client.post(
        "/-/npm/v1/user",
        json={"tfa": {"mode": "always", "password": PW}},
        headers={"authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 400


async def test_code_is_accepted_once_per_account(app_ctx, client, clock, token):
    secret, _ = await enrol(client, token, clock.now())
    user = await user_row(app_ctx)
    clock.advance(30)
    fresh = code(secret, clock.now())
    await service.verify_code(app_ctx, user.id, fresh)
    with pytest.raises(OtpRequired, match="already used"):
        await service.verify_code(app_ctx, user.id, fresh)


async def test_code_of_an_earlier_step_is_refused_after_a_later_one(app_ctx, client, clock, token):
    secret, _ = await enrol(client, token, clock.now())
    user = await user_row(app_ctx)
    clock.advance(60)
    earlier = code(secret, clock.now() - timedelta(seconds=30))
    await service.verify_code(app_ctx, user.id, code(secret, clock.now()))
    # Still inside the window, but older than the last accepted step: a replay.
    with pytest.raises(OtpRequired, match="already used"):
        await service.verify_code(app_ctx, user.id, earlier)


async def test_out_of_window_and_malformed_codes_are_refused(app_ctx, client, clock, token):
    secret, _ = await enrol(client, token, clock.now())
    user = await user_row(app_ctx)
    clock.advance(120)
    with pytest.raises(OtpRequired, match="wrong or has expired"):
        await service.verify_code(
            app_ctx, user.id, code(secret, clock.now() - timedelta(seconds=60))
        )
    with pytest.raises(OtpRequired, match="Malformed"):
        await service.verify_code(app_ctx, user.id, "12ab56")
    with pytest.raises(OtpRequired, match="must provide"):
        await service.verify_code(app_ctx, user.id, None)
    assert (await user_row(app_ctx)).totp_last_step == totp.time_step(
        clock.now() - timedelta(seconds=120)
    )


async def test_wrong_codes_lock_second_factor_attempts(app_ctx, client, clock, token):
    secret, _ = await enrol(client, token, clock.now())
    user = await user_row(app_ctx)
    clock.advance(30)
    for _ in range(app_ctx.settings.otp_max_failures - 1):
        with pytest.raises(OtpRequired):
            await service.verify_code(app_ctx, user.id, "000000")
    with pytest.raises(TooManyRequests):
        await service.verify_code(app_ctx, user.id, "000000")
    # Even the right code is refused while locked...
    with pytest.raises(TooManyRequests, match="locked"):
        await service.verify_code(app_ctx, user.id, code(secret, clock.now()))
    assert (await user_row(app_ctx)).totp_last_step == totp.time_step(clock.now()) - 1
    # ...and accepted once the lockout is over.
    clock.advance(app_ctx.settings.otp_lockout_seconds + 1)
    await service.verify_code(app_ctx, user.id, code(secret, clock.now()))


async def test_lockout_answers_429_over_http(client, app_ctx, clock, token):
    await enrol(client, token, clock.now())
    clock.advance(30)
    auth = {"authorization": f"Bearer {token}", "npm-otp": "000000"}
    statuses = []
    for _ in range(app_ctx.settings.otp_max_failures + 1):
        resp = await client.post("/-/npm/v1/tokens", json={"password": PW}, headers=auth)
        statuses.append(resp.status_code)
    assert statuses[:-2] == [401] * (len(statuses) - 2)
    assert statuses[-2:] == [429, 429]
    assert "Too many wrong one-time passwords" in resp.json()["error"]


async def test_recovery_codes_are_single_use(app_ctx, client, clock, token):
    _, codes = await enrol(client, token, clock.now())
    user = await user_row(app_ctx)
    await service.verify_code(app_ctx, user.id, codes[0].upper())
    with pytest.raises(OtpRequired, match="recovery code"):
        await service.verify_code(app_ctx, user.id, codes[0])
    await service.verify_code(app_ctx, user.id, codes[1])


async def test_disable_needs_password_and_code(client, app_ctx, clock, token):
    secret, _ = await enrol(client, token, clock.now())
    auth = {"authorization": f"Bearer {token}"}
    body = {"tfa": {"mode": "disable", "password": PW}}
    resp = await client.post("/-/npm/v1/user", json=body, headers=auth)
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "OTP"
    assert (await user_row(app_ctx)).tfa_mode == "auth-and-writes"
    clock.advance(30)
    wrong_pw = {"tfa": {"mode": "disable", "password": "nope-nope-nope"}}
    resp = await client.post(
        "/-/npm/v1/user", json=wrong_pw, headers={**auth, "npm-otp": code(secret, clock.now())}
    )
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "Basic"
    resp = await client.post(
        "/-/npm/v1/user", json=body, headers={**auth, "npm-otp": code(secret, clock.now())}
    )
    assert resp.status_code == 200 and resp.json()["tfa"] is False
    user = await user_row(app_ctx)
    assert user.tfa_mode is None and user.totp_secret_enc is None
    async with app_ctx.db.read() as session:
        assert (await session.execute(select(RecoveryCode))).first() is None


async def test_disabling_when_not_enabled_is_refused(client, token):
    resp = await client.post(
        "/-/npm/v1/user",
        json={"tfa": {"mode": "disable", "password": PW}},
        headers={"authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 400
    assert "not enabled" in resp.json()["error"]


async def test_login_needs_a_code_in_either_mode(client, clock, token):
    secret, _ = await enrol(client, token, clock.now(), mode="auth-only")
    resp = await login(client)
    assert resp.status_code == 401 and resp.headers["www-authenticate"] == "OTP"
    assert resp.json()["error"].startswith("You must provide a one-time pass.")
    clock.advance(30)
    resp = await login(client, otp=code(secret, clock.now()))
    assert resp.status_code == 201 and resp.json()["token"]


async def test_mode_switch_needs_a_code(client, app_ctx, clock, token):
    secret, _ = await enrol(client, token, clock.now(), mode="auth-only")
    auth = {"authorization": f"Bearer {token}"}
    body = {"tfa": {"mode": "auth-and-writes", "password": PW}}
    resp = await client.post("/-/npm/v1/user", json=body, headers=auth)
    assert resp.status_code == 401
    assert (await user_row(app_ctx)).tfa_mode == "auth-only"
    clock.advance(30)
    resp = await client.post(
        "/-/npm/v1/user", json=body, headers={**auth, "npm-otp": code(secret, clock.now())}
    )
    assert resp.json()["tfa"] == {"pending": False, "mode": "auth-and-writes"}


async def test_operator_created_user_can_enrol(app_ctx, client, clock):
    await create_user(app_ctx, "bob", PW, None)
    resp = await login(client, "bob")
    _, codes = await enrol(client, resp.json()["token"], clock.now())
    assert codes


async def test_rotate_secrets_reencrypts_with_the_new_key(app_ctx, client, clock, token):
    from airlock.context import AppContext

    secret, _ = await enrol(client, token, clock.now())
    new_key = "rotated-key-" + "z" * 24
    rotated = app_ctx.settings.model_copy(
        update={"secret_key": new_key, "old_secret_keys": [app_ctx.settings.secret_key]}
    )
    ctx2 = AppContext(
        settings=rotated, db=app_ctx.db, blobs=app_ctx.blobs, clock=clock, tokens=app_ctx.tokens
    )
    assert await service.rotate_secrets(ctx2) == 1
    only_new = app_ctx.settings.model_copy(update={"secret_key": new_key, "old_secret_keys": []})
    ctx3 = AppContext(
        settings=only_new, db=app_ctx.db, blobs=app_ctx.blobs, clock=clock, tokens=app_ctx.tokens
    )
    user = await user_row(app_ctx)
    clock.advance(30)
    await service.verify_code(ctx3, user.id, code(secret, clock.now()))


async def test_a_code_is_single_use_even_for_the_token_that_sent_it(app_ctx, client, clock, token):
    # RFC 6238 section 5.2: no "same token may repeat" window (it let one code used for a
    # publish also mint a bypass-2FA token).
    secret, codes = await enrol(client, token, clock.now())
    user = await user_row(app_ctx)
    clock.advance(30)
    fresh = code(secret, clock.now())
    await service.verify_code(app_ctx, user.id, fresh, "token-1")
    for credential in ("token-1", "token-2", service.PASSWORD):
        with pytest.raises(OtpRequired, match="already used"):
            await service.verify_code(app_ctx, user.id, fresh, credential)
    await service.verify_code(app_ctx, user.id, codes[0], "token-1")
    with pytest.raises(OtpRequired, match="recovery code"):
        await service.verify_code(app_ctx, user.id, codes[0], "token-1")


async def test_lockout_is_per_credential_and_a_recovery_code_clears_it(
    app_ctx, client, clock, token
):
    secret, codes = await enrol(client, token, clock.now())
    user = await user_row(app_ctx)
    clock.advance(30)
    for _ in range(app_ctx.settings.otp_max_failures - 1):
        with pytest.raises(OtpRequired):
            await service.verify_code(app_ctx, user.id, "000000", "stolen")
    with pytest.raises(TooManyRequests):
        await service.verify_code(app_ctx, user.id, "000000", "stolen")
    # The stolen token is locked, even with a right code...
    with pytest.raises(TooManyRequests):
        await service.verify_code(app_ctx, user.id, code(secret, clock.now()), "stolen")
    # ...but the owner's own credentials are not.
    await service.verify_code(app_ctx, user.id, code(secret, clock.now()), "session")
    # A correct recovery code is accepted while locked, and clears the lock.
    await service.verify_code(app_ctx, user.id, codes[1], "stolen")
    clock.advance(30)
    await service.verify_code(app_ctx, user.id, code(secret, clock.now()), "stolen")
