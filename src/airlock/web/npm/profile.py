"""npm wire routes: `npm profile get|set|enable-2fa|disable-2fa` (contract §5.4, §6.5)."""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.accounts import profile
from airlock.accounts.models import User
from airlock.authz import second_factor
from airlock.authz.principal import Principal
from airlock.authz.second_factor import Purpose
from airlock.clock import iso
from airlock.context import AppContext
from airlock.errors import BadRequest
from airlock.tokens.service import revoke_other_sessions
from airlock.twofactor import service as twofactor
from airlock.web.deps import Ctx, CurrentPrincipal, read_json_object
from airlock.web.npm.responses import json_response

router = APIRouter()


def profile_body(user: User) -> dict[str, Any]:
    tfa: Any = False
    if user.tfa_mode:
        tfa = {"pending": user.tfa_pending, "mode": user.tfa_mode}
    return {
        "name": user.name,
        "email": user.email,
        # Airlock sends no mail, so addresses are never verified.
        "email_verified": False,
        "tfa": tfa,
        "created": iso(user.created_at),
        "updated": iso(user.updated_at),
        "fullname": user.fullname,
        "homepage": user.homepage,
        "freenode": user.freenode,
        "twitter": user.twitter,
        "github": user.github,
        "cidr_whitelist": None,
    }


@router.get("/-/npm/v1/user")
async def get_profile(principal: CurrentPrincipal, ctx: Ctx) -> Response:
    user_id = profile.require_account_credential(principal, "read the profile", allow_granular=True)
    return json_response(profile_body(await profile.load(ctx, user_id)))


@router.post("/-/npm/v1/user")
async def post_profile(request: Request, principal: CurrentPrincipal, ctx: Ctx) -> Response:
    user_id = profile.require_account_credential(principal, "change the profile")
    body = await read_json_object(request)
    if "tfa" in body:
        extra = await _two_factor(ctx, principal, user_id, body["tfa"])
        return json_response({**profile_body(await profile.load(ctx, user_id)), **extra})
    changes = profile.validate_changes(body)
    new_password = None
    if body.get("password") is not None:
        old, new_password = profile.parse_password_change(body["password"])
        await profile.check_own_password(ctx, user_id, old, principal.client_ip)
    # A password change needs a code in either 2FA mode; other edits only in auth-and-writes.
    purpose = Purpose.ACCOUNT if new_password is None else Purpose.CREDENTIALS
    what: str | None = None
    if new_password is not None:
        what = "Change your password"
    else:
        what = "Change your profile: " + ", ".join(sorted(changes)) if changes else None
    await second_factor.require(ctx, principal, purpose, description=what)
    if new_password is not None:
        await profile.set_password(ctx, user_id, new_password)
        # Whoever knew the old password may hold a session: end all but this one.
        keep = principal.token.id if principal.token is not None else None
        await revoke_other_sessions(ctx, user_id, keep)
    user = await profile.update(ctx, user_id, changes)
    result = profile_body(user)
    if new_password is not None:
        result["password"] = "(changed)"
    return json_response(result)


async def _two_factor(
    ctx: AppContext, principal: Principal, user_id: uuid.UUID, tfa: Any
) -> dict[str, Any]:
    """The three 2FA steps npm sends through POST /-/npm/v1/user (contract §5.4)."""
    if isinstance(tfa, list):
        # Step 2 of enable-2fa: the first code; answer with the recovery codes (shown once).
        if len(tfa) != 1:
            raise BadRequest("Expected exactly one code from your authenticator app.")
        return {"tfa": await twofactor.confirm_enrolment(ctx, user_id, tfa[0])}
    if not isinstance(tfa, dict) or not isinstance(tfa.get("mode"), str):
        raise BadRequest('Invalid tfa: expected {"mode": ..., "password": ...} or [code].')
    otp = principal.otp
    mode = tfa["mode"]
    what = (
        "Turn off two-factor authentication"
        if mode == "disable"
        else f"Change two-factor authentication to {mode[:40]}"
    )

    async def proof() -> None:
        # After the password: the one second-factor rule (TOTP, recovery or web code).
        await second_factor.require(ctx, principal, Purpose.CREDENTIALS, description=what)

    who = {"client_ip": principal.client_ip, "credential": principal.credential}
    if mode == "disable":
        await twofactor.disable(ctx, user_id, tfa.get("password"), otp, **who, proof=proof)
        return {"tfa": False}
    url = await twofactor.start_enrolment(
        ctx, user_id, tfa.get("password"), mode, otp, **who, proof=proof
    )
    if url is None:
        return {"tfa": {"pending": False, "mode": tfa["mode"]}}
    return {"tfa": url}
