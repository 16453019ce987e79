"""The one decision point for package writes: token limits, ownership, second factor
(authz.second_factor).

Callers describe the package with a PackageRef (they already loaded it) and call
`authorize`; it raises the npm-facing error or returns.
"""

from __future__ import annotations

from airlock.authz.actions import Action
from airlock.authz.principal import PackageRef, Principal, TokenKind, TokenPermission
from airlock.authz.second_factor import require
from airlock.context import AppContext
from airlock.errors import Forbidden, NotFound, Unauthorized

# Trusted-publishing permissions as npm's trust configs name them.
OIDC_PERMISSION = {Action.PUBLISH: "createPackage", Action.STAGE: "createStagedPackage"}


async def authorize(
    ctx: AppContext,
    principal: Principal,
    action: Action,
    pkg: PackageRef,
    *,
    fresh_factor: bool = True,
    targets: tuple[str, ...] = (),
    decision: str | None = None,
    description: str | None = None,
) -> None:
    """Raise unless `principal` may perform `action` on `pkg`. `description` names the
    exact action in words for web 2FA ("Add dist-tag beta to pkg").

    `fresh_factor=False` is for requests that change nothing a second factor protects
    (the tarball DELETE of `npm unpublish`, after its PUT already removed the version).
    """
    check_access(principal, action, pkg)
    if fresh_factor:
        await require(
            ctx,
            principal,
            action,
            pkg,
            targets=targets,
            decision=decision,
            description=description,
        )


def check_access(principal: Principal, action: Action, pkg: PackageRef) -> None:
    """`authorize` without the second factor: no side effects, so it can run first (before
    an upload's body is read) and again with the code later."""
    if principal.user is None:
        raise Unauthorized(f"You must be logged in to {_verb(action)} {pkg.name}. Run `npm login`.")
    if principal.token is not None:
        check_token_limits(principal, action, pkg)
    if pkg.exists and not pkg.is_maintainer:
        if not pkg.visible_to_outsiders or action is Action.DECIDE:
            # Not allowed to know it exists.
            raise NotFound(f"Package {pkg.name} not found.")
        raise Forbidden(
            f"You do not have permission to {_verb(action)} {pkg.name}. "
            "Are you logged in as the correct user?"
        )


def check_token_limits(principal: Principal, action: Action, pkg: PackageRef) -> None:
    token = principal.token
    assert token is not None
    if not token.covers_package(pkg.name):
        limits = ", ".join([*token.packages, *token.scopes])
        raise Forbidden(f"This token is limited to {limits} and cannot be used for {pkg.name}.")
    if token.kind is TokenKind.OIDC:
        wanted = OIDC_PERMISSION.get(action)
        if wanted is None or wanted not in token.trust_permissions:
            raise Forbidden(
                f"This trusted-publishing token may not {_verb(action)} {pkg.name}: the trust "
                f"relationship allows only {', '.join(token.trust_permissions) or 'nothing'}."
            )
        return
    if token.permission is TokenPermission.READ_ONLY:
        raise Forbidden(f"This token is read-only and cannot {_verb(action)} {pkg.name}.")
    if token.permission is TokenPermission.STAGE_ONLY and action is not Action.STAGE:
        if action is Action.PUBLISH:
            raise Forbidden(
                "This token can only stage versions. Run `npm stage publish` instead, then "
                "approve the stage with `npm stage approve <id>`."
            )
        raise Forbidden(
            f"This token can only stage versions; it cannot {_verb(action)} {pkg.name}."
        )


def _verb(action: Action) -> str:
    return {
        Action.READ: "read",
        Action.PUBLISH: "publish",
        Action.STAGE: "stage",
        Action.DECIDE: "approve or reject stages of",
        Action.MANAGE: "change",
        Action.GOVERN: "change the settings of",
    }[action]


__all__ = ["OIDC_PERMISSION", "PackageRef", "authorize", "check_access", "check_token_limits"]
