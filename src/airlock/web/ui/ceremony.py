"""One browser ceremony for one or more stage decisions: the second factor is checked once
and turned into a web code bound to exactly the chosen stage ids (twofactor.web_codes),
which then goes through the same decide path as `npm stage approve --otp=CODE`."""

from __future__ import annotations

import uuid

from starlette.datastructures import FormData

from airlock.authz.principal import UserRef
from airlock.authz.second_factor import Challenge, web_target
from airlock.context import AppContext
from airlock.errors import BadRequest
from airlock.stage.errors import MalformedStageId
from airlock.twofactor import totp
from airlock.twofactor.service import verify_code
from airlock.twofactor.web_codes import (
    DECISIONS,
    Minted,
    Target,
    is_web_code,
    mint,
    verify_web_code,
)
from airlock.twofactor.webauthn import verify_passkey

MAX_BATCH = 100


def stage_ids(raw: list[str]) -> list[uuid.UUID]:
    if not raw:
        raise BadRequest("Tick at least one staged version.")
    if len(raw) > MAX_BATCH:
        raise BadRequest(f"Decide at most {MAX_BATCH} staged versions at once.")
    ids: list[uuid.UUID] = []
    for value in raw:
        try:
            ids.append(uuid.UUID(value))
        except ValueError as exc:
            raise MalformedStageId(value) from exc
    return list(dict.fromkeys(ids))


def verb_of(raw: str) -> str:
    if raw not in DECISIONS:
        raise BadRequest("Choose Approve or Reject.")
    return raw


async def ceremony(
    ctx: AppContext, user: UserRef, data: FormData, verb: str, ids: list[uuid.UUID]
) -> Minted:
    """Check one second factor (a passkey assertion with user verification, or a TOTP or
    recovery code) once; a web code for exactly `ids`."""
    return await ceremony_for(ctx, user, data, verb, [str(i) for i in ids])


async def ceremony_for(
    ctx: AppContext,
    user: UserRef,
    data: FormData,
    verb: str,
    refs: list[str],
    action: str | None = None,
) -> Minted:
    """The same for any target: stage ids, or one write (a package name or "account"
    with `action`, the write in words)."""
    if passkey_sent(data):
        await verify_passkey(
            ctx, user.id, _text(data, "passkey_handle"), _text(data, "passkey_response")
        )
        proof = "passkey"
    else:
        normal = totp.normalise(_text(data, "code"))
        await verify_code(ctx, user.id, normal)
        proof = "recovery" if totp.is_recovery_code(normal) else "totp"
    return await mint(ctx, user.id, verb, refs, proof, action)


def passkey_sent(data: FormData) -> bool:
    return bool(_text(data, "passkey_response"))


def decision_of(data: FormData) -> str:
    """The button pressed (a passkey button sets passkey_decision from script)."""
    chosen = _text(data, "passkey_decision") if passkey_sent(data) else ""
    return verb_of(chosen or _text(data, "decision"))


def _text(data: FormData, name: str) -> str:
    value = data.get(name)
    return value.strip() if isinstance(value, str) else ""


class WebCodeVerifier:
    """The authz.second_factor verifier for browser-issued codes (registered by web/app.py)."""

    def recognises(self, proof: str) -> bool:
        return is_web_code(proof)

    async def verify(self, ctx: AppContext, challenge: Challenge, proof: str) -> None:
        target: Target | None = web_target(challenge)
        actor = challenge.actor or str(challenge.user_id)
        await verify_web_code(ctx, challenge.user_id, actor, target, proof)


# One instance: register_verifier keeps a verifier once, however many apps are built.
WEB_CODES = WebCodeVerifier()
