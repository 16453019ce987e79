"""Four-eyes: a package's review rule, read and set by its maintainers.

`fourEyes`: whoever staged a version (or the maintainer whose trust relationship staged
it: short-lived tokens act as that account) cannot approve it. `approvalsRequired`: how
many distinct maintainers must approve before the version goes live. The rule is applied
in stage.decide.approve, the one approval path (npm, the web UI and batch approval).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from airlock.audit.events import Event, record
from airlock.authz.actions import Action
from airlock.authz.policy import authorize
from airlock.authz.principal import Principal
from airlock.context import AppContext
from airlock.errors import BadRequest, NotFound
from airlock.packages import repository as packages_repo
from airlock.stage.models import PackagePolicy
from airlock.stage.permissions import signed_in, token_covers
from airlock.twofactor.errors import TwoFactorNeeded

MAX_APPROVALS = 10


@dataclass(frozen=True)
class ReviewRule:
    four_eyes: bool = False
    approvals_required: int = 1

    def as_json(self) -> dict[str, Any]:
        return {"fourEyes": self.four_eyes, "approvalsRequired": self.approvals_required}


async def rule_for(session: AsyncSession, package_id: Any) -> ReviewRule:
    row = await session.get(PackagePolicy, package_id)
    if row is None:
        return ReviewRule()
    return ReviewRule(row.four_eyes, row.approvals_required)


async def get_rule(ctx: AppContext, principal: Principal, name: str) -> ReviewRule:
    """The rule of a package its caller maintains (anyone else: 404)."""
    user = signed_in(principal)
    async with ctx.db.read() as session:
        package = await packages_repo.get_package(session, name)
        if (
            package is None
            or not token_covers(principal, name)
            or not await packages_repo.is_maintainer(session, package.id, user.id)
        ):
            raise NotFound(f"Package {name} not found.")
        return await rule_for(session, package.id)


def parse_rule(body: dict[str, Any]) -> ReviewRule:
    unknown = set(body) - {"fourEyes", "approvalsRequired"}
    if unknown:
        raise BadRequest(f"Unknown policy fields: {', '.join(sorted(unknown))}.")
    four_eyes = body.get("fourEyes", False)
    if not isinstance(four_eyes, bool):
        raise BadRequest("fourEyes must be true or false.")
    required = body.get("approvalsRequired", 1)
    if not isinstance(required, int) or isinstance(required, bool):
        raise BadRequest("approvalsRequired must be a whole number.")
    if not 1 <= required <= MAX_APPROVALS:
        raise BadRequest(f"approvalsRequired must be between 1 and {MAX_APPROVALS}.")
    return ReviewRule(four_eyes, required)


async def set_rule(
    ctx: AppContext, principal: Principal, name: str, body: dict[str, Any]
) -> ReviewRule:
    """Replace the rule. Needs a maintainer with 2FA and a fresh code (npm-otp)."""
    user = signed_in(principal)
    rule = parse_rule(body)
    async with ctx.db.read() as session:
        package, ref = await packages_repo.package_ref(session, name, principal)
    if package is None:
        raise NotFound(f"Package {name} not found.")
    if ref.is_maintainer and user.tfa_mode is None:
        # GOVERN asks for a code whenever the account has 2FA; a review rule is only
        # worth something if changing it needs one, so an account without 2FA cannot.
        raise TwoFactorNeeded(
            "Enable two-factor authentication (npm profile enable-2fa auth-and-writes) "
            "to change the review policy of a package."
        )
    what = f"Set the review policy of {name}: {rule.approvals_required} approval(s)" + (
        ", two maintainers" if rule.four_eyes else ""
    )
    await authorize(ctx, principal, Action.GOVERN, ref, description=what)
    async with ctx.db.write() as session:
        maintainers = await packages_repo.maintainer_names(session, package.id)
        possible = len(maintainers) - (1 if rule.four_eyes else 0)
        if rule.approvals_required > max(possible, 1):
            raise BadRequest(
                f"{name} has {len(maintainers)} maintainer(s): {rule.approvals_required} "
                "approvals could never be given"
                + (" when the stager cannot approve." if rule.four_eyes else ".")
            )
        row = await session.get(PackagePolicy, package.id)
        if row is None:
            row = PackagePolicy(package_id=package.id, updated_at=ctx.clock.now())
            session.add(row)
        row.four_eyes = rule.four_eyes
        row.approvals_required = rule.approvals_required
        row.updated_at = ctx.clock.now()
        row.updated_by = user.name
        record(
            session,
            ctx.clock,
            Event.POLICY_CHANGED,
            actor=user.name,
            package=name,
            **rule.as_json(),
        )
    return rule
