"""The one decision point for package writes: token limits, ownership, second factor.

Callers describe the package with a PackageRef (they already loaded it) and call
`authorize`; it raises the npm-facing error or returns.
"""

from __future__ import annotations

from dataclasses import dataclass

from airlock.authz.actions import Action
from airlock.authz.principal import Principal, TokenKind, TokenPermission
from airlock.context import AppContext
from airlock.errors import Forbidden, NotFound, Unauthorized
from airlock.twofactor.policy import require_second_factor
from airlock.twofactor.web_codes import Target

# Trusted-publishing permissions as npm's trust configs name them.
OIDC_PERMISSION = {Action.PUBLISH: "createPackage", Action.STAGE: "createStagedPackage"}


@dataclass(frozen=True)
class PackageRef:
    name: str
    exists: bool
    is_maintainer: bool
    access: str = "public"  # public | restricted
    mfa_policy: str = "none"  # none | publish | automation

    @property
    def visible_to_outsiders(self) -> bool:
        return self.exists and self.access == "public"


async def authorize(
    ctx: AppContext,
    principal: Principal,
    action: Action,
    pkg: PackageRef,
    target: Target | None = None,
) -> None:
    """Raise unless `principal` may perform `action` on `pkg`."""
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
    await require_second_factor(ctx, principal, action, pkg, target)


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
