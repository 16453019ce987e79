"""Whether a name may be created here, given the uplink (imports nothing of packages/, so the
one write path can ask it)."""

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
