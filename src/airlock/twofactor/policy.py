"""When a write needs a fresh second factor: credential x account 2FA mode x package policy.

The full matrix, with the reasons, is in docs/security.md ("Publishing-access matrix").
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from airlock.authz.actions import Action
from airlock.authz.principal import Principal, TokenKind
from airlock.context import AppContext
from airlock.twofactor.errors import OtpMissing, TwoFactorNeeded
from airlock.twofactor.service import verify_code
from airlock.twofactor.web_codes import Target, is_web_code, verify_web_code

if TYPE_CHECKING:
    from airlock.authz.policy import PackageRef

DECIDE_NEEDS_2FA = (
    "Enable two-factor authentication (npm profile enable-2fa auth-and-writes) to approve or "
    "reject staged versions."
)


async def require_second_factor(
    ctx: AppContext,
    principal: Principal,
    action: Action,
    pkg: PackageRef,
    target: Target | None = None,
) -> None:
    """Raise OtpRequired / Forbidden when the write needs a code that was not (validly) given.

    Staging never needs one: that is the point of staging.
    """
    if action in (Action.STAGE, Action.READ):
        return
    token = principal.token
    user = principal.user
    assert user is not None
    if token is not None and token.kind is TokenKind.OIDC and action is not Action.DECIDE:
        # Trusted publishing: the CI identity is the proof; authz already limited the token
        # to the permissions of its trust relationship.
        return
    granular = token is not None and token.kind is TokenKind.GRANULAR
    if pkg.mfa_policy == "publish" and granular:
        raise TwoFactorNeeded(
            f"{pkg.name} requires two-factor authentication and does not accept access tokens "
            "(npm access set mfa=publish). Use the session from `npm login` with a one-time "
            "password, stage the version instead (`npm stage publish`), or use trusted "
            "publishing."
        )
    bypass = granular and token is not None and token.bypass_2fa
    mode = user.tfa_mode
    if principal.via == "basic" and mode is not None:
        # A password sent with the request is a login each time, and every 2FA mode
        # needs a code at login.
        mode = "auth-and-writes"
    if not needs_code(action, mode, pkg.mfa_policy, bypass=bypass):
        return
    if user.tfa_mode is None:
        if action is Action.DECIDE:
            raise TwoFactorNeeded(DECIDE_NEEDS_2FA)
        raise TwoFactorNeeded(
            f"{pkg.name} requires two-factor authentication (npm access set "
            f"mfa={pkg.mfa_policy}). Enable it with `npm profile enable-2fa auth-and-writes`."
        )
    if not principal.otp:
        raise OtpMissing(user.id, target)
    if is_web_code(principal.otp):
        # A code minted by a browser ceremony for explicit stage ids (web 2FA, batches).
        await verify_web_code(ctx, user.id, user.name, target, principal.otp)
        return
    # Each approval or rejection needs a code of its own, even from the same token.
    repeatable = None if action is Action.DECIDE else credential_of(principal)
    await verify_code(ctx, user.id, principal.otp, repeatable)


def credential_of(principal: Principal) -> str | None:
    """Which token sent a code (None for a password): see verify_code."""
    return str(principal.token.id) if principal.token is not None else None


def needs_code(action: Action, tfa_mode: str | None, mfa_policy: str, *, bypass: bool) -> bool:
    """Whether a fresh code is required (the refusals are decided before this)."""
    if action is Action.DECIDE:
        # Approval is the human proof of presence staging exists for: no bypass.
        return True
    if action is Action.GOVERN:
        # Changing owners, access or the mfa policy: a bypass token must not switch off the
        # protection it is bound by.
        return tfa_mode is not None or mfa_policy != "none"
    if mfa_policy == "publish":
        return True
    if mfa_policy == "automation":
        return not bypass
    return tfa_mode == "auth-and-writes" and not bypass
