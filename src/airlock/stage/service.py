"""Staging a version: the one write path of publish (packages/write.py), no second factor."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from airlock.authz.principal import Principal, TokenKind
from airlock.context import AppContext
from airlock.errors import Unauthorized
from airlock.packages.models import Package, Version
from airlock.packages.upload import Upload
from airlock.packages.write import STAGE, write_version
from airlock.stage.schemas import StageInfo

USER = "user"
AUTOMATION = "trusted automation"


async def stage_upload(ctx: AppContext, principal: Principal, upload: Upload) -> StageInfo:
    """Record `upload` as a staged version of its package and return the stage.

    Never asks for a second factor (authorize with Action.STAGE): CI stages with whatever
    credential it has, and a human approves later with a fresh code. A brand-new name is
    reserved for the stager (its only maintainer) while nothing about it is public;
    npmjs publishes a placeholder version instead.
    """
    if principal.user is None:
        raise Unauthorized(f"You must be logged in to stage {upload.name}. Run `npm login`.")

    def stage_fields(version: Version, package: Package) -> None:
        _stage_fields(ctx, principal, version)

    written = await write_version(ctx, principal, upload, STAGE, stage_fields)
    return StageInfo.of(written.version, written.package)


def _stage_fields(ctx: AppContext, principal: Principal, version: Version) -> None:
    assert principal.user is not None
    token = principal.token
    automation = token is not None and token.kind is TokenKind.OIDC
    identity: dict[str, Any] | None = token.trusted_publisher if token and automation else None
    # A workflow identity is not the account behind the trust config: it owns no stages.
    version.actor_id = None if automation else principal.user.id
    version.actor = principal.user.name
    version.actor_type = AUTOMATION if automation else USER
    version.actor_identity = identity
    version.expires_at = ctx.clock.now() + timedelta(seconds=ctx.settings.stage_expiry_seconds)
