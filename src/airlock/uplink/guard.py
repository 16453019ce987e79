"""Whether a name may be created here, given the uplink (imports nothing of packages/, so the
one write path can ask it), and the review's re-check of a brand-new name (§4.4.3)."""

from __future__ import annotations

from airlock.context import AppContext
from airlock.namespaces import in_namespaces
from airlock.uplink.client import upstream_of
from airlock.uplink.errors import NameTakenUpstream, UplinkDown, UplinkUnavailable


def is_private(ctx: AppContext, name: str) -> bool:
    return in_namespaces(name, ctx.settings.private_namespaces)


async def guard_new_name(ctx: AppContext, name: str) -> None:
    """Before a publish or stage creates `name` here: refuse names the uplink serves."""
    upstream = upstream_of(ctx)
    if upstream is None or is_private(ctx, name):
        return
    if name.lower() in ctx.settings.uplink_allowed_names:
        return
    try:
        taken = await upstream.exists(name)
    except UplinkDown as exc:
        # Unknown is not "free": creating it could shadow a public package later.
        raise UplinkUnavailable(
            f"Cannot check whether {name} exists on the uplink ({exc}), so it cannot be "
            "created here now. Try again later, or ask an operator to list it in "
            "private_namespaces."
        ) from exc
    if taken:
        raise NameTakenUpstream(
            f"{name} already exists on the uplink {upstream.url}; a local package of that "
            "name would shadow it. Use a scope of your own (for example @yourorg/"
            f"{name.rsplit('/', 1)[-1]}), or ask an operator to add it to private_namespaces "
            "or uplink_allowed_names."
        )


async def upstream_claim(ctx: AppContext, name: str) -> bool | str | None:
    """For the review of a stage that creates `name`: whether the uplink has the name now.

    None: not a question here (no uplink, a private or operator-allowed name: never asked).
    True/False: the uplink's answer. A string: why it could not be asked (down, slow, open
    breaker); the review shows it and goes on. Bounded by `uplink_review_timeout_seconds`.
    """
    upstream = upstream_of(ctx)
    if upstream is None or is_private(ctx, name):
        return None
    if name.lower() in ctx.settings.uplink_allowed_names:
        return None
    try:
        return await upstream.exists(name, wait=ctx.settings.uplink_review_timeout_seconds)
    except UplinkDown as exc:
        return str(exc) or "the uplink did not answer"
