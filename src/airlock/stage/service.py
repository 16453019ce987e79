"""Staging a version: the same validation and blob handling as publish, no second factor."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.audit.events import Event, record
from airlock.authz.actions import Action
from airlock.authz.policy import authorize
from airlock.authz.principal import Principal, TokenKind
from airlock.context import AppContext
from airlock.errors import Unauthorized
from airlock.packages import repository as packages_repo
from airlock.packages import service as packages
from airlock.packages.models import Package, Version
from airlock.packages.upload import Upload
from airlock.stage.cleanup import forget_blobs
from airlock.stage.errors import StageConflict
from airlock.stage.repository import STAGED
from airlock.stage.schemas import StageInfo
from airlock.uplink.service import guard_new_name

USER = "user"
AUTOMATION = "trusted automation"

Keys = tuple[str, str | None]


async def stage_upload(ctx: AppContext, principal: Principal, upload: Upload) -> StageInfo:
    """Record `upload` as a staged version of its package and return the stage.

    Never asks for a second factor (authorize with Action.STAGE): CI stages with whatever
    credential it has, and a human approves later with a fresh code.
    """
    if principal.user is None:
        raise Unauthorized(f"You must be logged in to stage {upload.name}. Run `npm login`.")
    # Permission first, before any blob is written, so strangers cannot fill the disk.
    async with ctx.db.read() as session:
        _, ref = await packages_repo.package_ref(session, upload.name, principal)
    await authorize(ctx, principal, Action.STAGE, ref)
    if not ref.exists:
        await guard_new_name(ctx, upload.name)  # no local name may shadow an uplink one
    keys = await packages.store_upload_blobs(ctx, upload)
    try:
        async with ctx.db.write() as session:
            info, freed = await _insert(ctx, session, principal, upload, keys)
    except IntegrityError as exc:
        await forget_blobs(ctx, keys)
        # Another process took this name or version between our check and our insert.
        raise StageConflict(
            f"{upload.name}@{upload.version} was staged or published at the same moment by "
            "another request. Check with `npm stage list` and try again if needed."
        ) from exc
    except BaseException:
        await forget_blobs(ctx, keys)
        raise
    await forget_blobs(ctx, freed)
    return info


async def _insert(
    ctx: AppContext, session: AsyncSession, principal: Principal, upload: Upload, keys: Keys
) -> tuple[StageInfo, list[str | None]]:
    """Insert the stage row; also returns the blob keys of a lapsed stage it replaced."""
    assert principal.user is not None
    # Ownership again inside the transaction: the name may have been taken meanwhile.
    package = await packages.locked_package(session, upload.name, principal)
    if package is None:
        # A brand-new name: reserved for the stager (its only maintainer) while nothing
        # about it is public. npmjs publishes a placeholder version instead.
        package = await packages.create_package(
            ctx, session, upload.name, principal.user.id, upload.access
        )
    now = ctx.clock.now()
    # A lapsed stage that the sweep has not deleted yet must not hold the number.
    freed = await packages_repo.delete_lapsed_stage(session, package.id, upload.version, now)
    await _refuse_taken_version(session, package, upload.version)
    version = _stage_row(ctx, principal, package, upload, keys, now)
    session.add(version)
    await session.flush()
    record(
        session,
        ctx.clock,
        Event.VERSION_STAGED,
        actor=principal.user.name,
        package=package.name,
        version=upload.version,
        stage_id=str(version.id),
        tag=version.tag,
    )
    return StageInfo.of(version, package), freed


def _stage_row(
    ctx: AppContext,
    principal: Principal,
    package: Package,
    upload: Upload,
    keys: Keys,
    now: datetime,
) -> Version:
    assert principal.user is not None
    token = principal.token
    automation = token is not None and token.kind is TokenKind.OIDC
    identity: dict[str, Any] | None = token.trusted_publisher if token and automation else None
    version = packages.new_version_row(ctx, package, upload, keys, state=STAGED)
    version.npm_user = packages.npm_user_for(principal)
    # A workflow identity is not the account behind the trust config: it owns no stages.
    version.actor_id = None if automation else principal.user.id
    version.actor = principal.user.name
    version.actor_type = AUTOMATION if automation else USER
    version.actor_identity = identity
    version.expires_at = now + timedelta(seconds=ctx.settings.stage_expiry_seconds)
    return version


async def _refuse_taken_version(session: AsyncSession, package: Package, version: str) -> None:
    existing = await packages_repo.get_version(session, package.id, version)
    if existing is None:
        return
    if existing.state == STAGED:
        raise StageConflict(
            f"{package.name}@{version} is already staged (stage id {existing.id}). A staged "
            f"version and its tag cannot be changed: reject it (npm stage reject "
            f"{existing.id}) and stage again."
        )
    # 409 rather than publish's 403: staging never overwrites, the number is simply taken.
    raise StageConflict(
        f"You cannot publish over the previously published versions: {version}. "
        f"{package.name}@{version} exists already; stage a new version number."
    )
