"""The second-factor rules, in one place: which request needs a fresh code, and checking it.

Routes and services *declare* a purpose and call `require`:

- a package action (`authz.actions.Action`): the publishing-access matrix of
  docs/security.md (credential x account 2FA mode x package mfa policy);
- `Purpose.LOGIN`: a password login; every enabled 2FA mode needs a code;
- `Purpose.ACCOUNT`: account changes that are not credentials (profile edits, revoking a
  token): a code in auth-and-writes mode;
- `Purpose.CREDENTIALS`: creating a token, changing the password or the 2FA mode: a
  code in either mode.

A code is accepted once per account, strictly (RFC 6238 section 5.2; twofactor.service).
Wrong codes count per credential, so a stolen token cannot lock its owner out.

A challenge answered without any proof raises OtpMissing carrying a web_codes.Target (the
binding a browser-issued code must have: verb, package/stage/"account", the action in
words), so the web layer can offer npm's web 2FA (authUrl/doneUrl) for exactly it.

Further kinds of proof (passkeys, browser-issued one-time codes bound to an action and
targets) plug in through `register_verifier`: each `ProofVerifier` is asked, in order,
whether it recognises the proof the client sent (`npm-otp`), and the first that does
decides. TOTP and recovery codes are the built-in fallback.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

from airlock.accounts.models import User
from airlock.authz.actions import Action
from airlock.authz.principal import PackageRef, Principal, TokenKind
from airlock.context import AppContext
from airlock.twofactor.errors import OtpMissing, TwoFactorNeeded
from airlock.twofactor.service import PASSWORD, is_enabled, verify_code
from airlock.twofactor.web_codes import ACCOUNT, ACTION_LENGTH, Target

DECIDE_NEEDS_2FA = (
    "Enable two-factor authentication (npm profile enable-2fa auth-and-writes) to approve or "
    "reject staged versions."
)


class Purpose(StrEnum):
    LOGIN = "login"
    ACCOUNT = "account"
    CREDENTIALS = "credentials"


@dataclass(frozen=True)
class Challenge:
    """What a proof must be good for: whose, for which action, on what, sent by whom."""

    user_id: uuid.UUID
    purpose: Action | Purpose
    credential: str  # the token id, or "password"
    package: str | None = None
    # Further ids the action is about (e.g. the stage id being approved), so a proof bound
    # to one action and its targets can be checked against them.
    targets: tuple[str, ...] = ()
    # For a stage decision: "approve" or "reject" (a browser-issued code is bound to one).
    decision: str | None = None
    actor: str | None = None  # the account name, for the audit row of a consumed proof
    # The exact action in words ("Publish pkg@1.0.0", "Create a token"), from the call
    # site; None: built from the purpose and package (`describe`).
    description: str | None = None


# Short verbs of the writes a browser-issued code can be bound to (web_codes.VERBS).
_VERB = {Action.PUBLISH: "publish", Action.MANAGE: "manage", Action.GOVERN: "govern"}


def describe(challenge: Challenge) -> str:
    """The action in words, as the authUrl page shows it and the web code is bound to."""
    text = challenge.description
    if text is None:
        pkg = challenge.package or ""
        text = {
            Action.PUBLISH: f"Publish {pkg}",
            Action.MANAGE: f"Change {pkg}",
            Action.GOVERN: f"Change the settings of {pkg}",
            Purpose.ACCOUNT: "Change your account",
            Purpose.CREDENTIALS: "Change your credentials",
        }.get(challenge.purpose, str(challenge.purpose))
    if len(text) > ACTION_LENGTH:
        # Still one binding per action: a long one (many owners) keeps a digest of the rest.
        tail = f"… #{hashlib.sha256(text.encode()).hexdigest()[:16]}"
        text = text[: ACTION_LENGTH - len(tail)] + tail
    return text


def web_target(challenge: Challenge) -> Target | None:
    """What a browser-issued code for `challenge` must be bound to; None where the web flow
    does not apply (a password login, a batch over several packages)."""
    if challenge.purpose is Action.DECIDE:
        if challenge.decision is None or not challenge.targets:
            return None
        return Target(challenge.decision, challenge.targets[0])
    if challenge.purpose in (Purpose.ACCOUNT, Purpose.CREDENTIALS):
        return Target(str(challenge.purpose), ACCOUNT, describe(challenge))
    verb = _VERB.get(challenge.purpose) if isinstance(challenge.purpose, Action) else None
    if verb is None or challenge.package is None or len(set(challenge.targets)) > 1:
        return None
    return Target(verb, challenge.package, describe(challenge))


class ProofVerifier(Protocol):
    """Another kind of second factor (web engineer: passkeys, web one-time codes)."""

    def recognises(self, proof: str) -> bool:
        """Whether `proof` is this verifier's kind (e.g. by its length or prefix)."""
        ...

    async def verify(self, ctx: AppContext, challenge: Challenge, proof: str) -> None:
        """Accept (and consume) `proof` for `challenge`, or raise OtpRequired / OtpLocked."""
        ...


_VERIFIERS: list[ProofVerifier] = []


def register_verifier(verifier: ProofVerifier) -> None:
    """Add a kind of proof (called once at start-up, e.g. from web/app.py)."""
    if verifier not in _VERIFIERS:
        _VERIFIERS.append(verifier)


async def verify_proof(ctx: AppContext, challenge: Challenge, proof: str | None) -> None:
    """The one place a second factor is checked."""
    if proof is None or not proof.strip():
        # The web layer offers npm's browser flow (authUrl/doneUrl) for exactly this target.
        raise OtpMissing(challenge.user_id, web_target(challenge))
    for verifier in _VERIFIERS:
        if verifier.recognises(proof):
            await verifier.verify(ctx, challenge, proof)
            return
    await verify_code(ctx, challenge.user_id, proof, challenge.credential)


async def require(
    ctx: AppContext,
    principal: Principal,
    purpose: Action | Purpose,
    pkg: PackageRef | None = None,
    *,
    targets: tuple[str, ...] = (),
    decision: str | None = None,
    description: str | None = None,
) -> None:
    """Raise OtpRequired / Forbidden unless the request carries the second factor its
    purpose needs (or needs none). `description` names the exact action in words."""
    if isinstance(purpose, Action):
        assert pkg is not None
        await _package_action(ctx, principal, purpose, pkg, targets, decision, description)
        return
    user = principal.user
    assert user is not None
    if user.tfa_mode is None:
        return
    writes_only = purpose is Purpose.ACCOUNT and not _password(principal)
    if writes_only and user.tfa_mode != "auth-and-writes":
        return
    challenge = Challenge(
        user.id,
        purpose,
        principal.credential,
        targets=targets,
        actor=user.name,
        description=description,
    )
    await verify_proof(ctx, challenge, principal.otp)


async def require_login(ctx: AppContext, user: User, otp: str | None) -> None:
    """A password login (the password was just checked): a code whenever 2FA is on."""
    if is_enabled(user):
        await verify_proof(ctx, Challenge(user.id, Purpose.LOGIN, PASSWORD), otp)


def _password(principal: Principal) -> bool:
    # A password sent with the request is a login each time, and every 2FA mode needs a
    # code at login.
    return principal.via == "basic"


async def require_all(
    ctx: AppContext,
    principal: Principal,
    action: Action,
    pkgs: list[PackageRef],
    description: str | None = None,
) -> None:
    """One request acting on several packages (a batch publish): every refusal applies,
    and one proof covers them all (a code is single use, so it is checked once)."""
    needing = [pkg for pkg in pkgs if _needs_proof(principal, action, pkg)]
    if needing:
        assert principal.user is not None
        names = tuple(pkg.name for pkg in needing)
        challenge = Challenge(
            principal.user.id,
            action,
            principal.credential,
            names[0],
            names,
            actor=principal.user.name,
            description=description,
        )
        await verify_proof(ctx, challenge, principal.otp)


async def _package_action(
    ctx: AppContext,
    principal: Principal,
    action: Action,
    pkg: PackageRef,
    targets: tuple[str, ...],
    decision: str | None,
    description: str | None,
) -> None:
    if not _needs_proof(principal, action, pkg):
        return
    user = principal.user
    assert user is not None
    challenge = Challenge(
        user.id, action, principal.credential, pkg.name, targets, decision, user.name, description
    )
    await verify_proof(ctx, challenge, principal.otp)


def _needs_proof(principal: Principal, action: Action, pkg: PackageRef) -> bool:
    """Whether `action` on `pkg` needs a fresh proof; raises where no proof could do."""
    if action in (Action.STAGE, Action.READ):
        # Staging never needs one: that is the point of staging.
        return False
    token = principal.token
    user = principal.user
    assert user is not None
    if token is not None and token.kind is TokenKind.OIDC and action is not Action.DECIDE:
        # Trusted publishing: the CI identity is the proof; authz already limited the token
        # to the permissions of its trust relationship.
        return False
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
    if _password(principal) and mode is not None:
        mode = "auth-and-writes"
    if not needs_code(action, mode, pkg.mfa_policy, bypass=bypass):
        return False
    if user.tfa_mode is None:
        if action is Action.DECIDE:
            raise TwoFactorNeeded(DECIDE_NEEDS_2FA)
        raise TwoFactorNeeded(
            f"{pkg.name} requires two-factor authentication (npm access set "
            f"mfa={pkg.mfa_policy}). Enable it with `npm profile enable-2fa auth-and-writes`."
        )
    return True


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
