"""Who may see and decide stages (on top of authz.policy, which guards the writes)."""

from __future__ import annotations

from airlock.authz.principal import Principal, TokenKind, UserRef
from airlock.authz.visibility import token_allows
from airlock.errors import Forbidden, Unauthorized


def signed_in(principal: Principal) -> UserRef:
    """The caller's account; trusted-publishing tokens are refused everything but staging."""
    if principal.user is None:
        raise Unauthorized("You must be logged in to review staged packages. Run `npm login`.")
    refuse_oidc(principal)
    return principal.user


def refuse_oidc(principal: Principal) -> None:
    # A short-lived CI identity may put versions in front of a human, never look at or
    # decide them: that is what keeps a compromised workflow from publishing.
    if principal.token is not None and principal.token.kind is TokenKind.OIDC:
        raise Forbidden(
            "Trusted-publishing tokens may only stage versions (npm stage publish); "
            "reviewing and deciding stages needs a maintainer's own credentials."
        )


def token_covers(principal: Principal, package: str) -> bool:
    return token_allows(principal, package)
