"""Approving and rejecting stages: a fresh second factor, then one conditional write.

Both decisions claim the row with `... WHERE id = :id AND state = 'staged' AND expires_at >
now` and look at the row count. On PostgreSQL the second of two concurrent writers waits for
the first one's row lock and then sees the row changed or gone; on SQLite every write
transaction starts with BEGIN IMMEDIATE, so they run one after the other. Either way exactly
one decision wins, across any number of Airlock processes.
"""

from __future__ import annotations

import dataclasses
import uuid
from typing import Any

from sqlalchemy import CursorResult, delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.audit.events import Event, record
from airlock.authz.actions import Action
from airlock.authz.policy import authorize
from airlock.authz.principal import Principal, UserRef
from airlock.context import AppContext
from airlock.errors import Forbidden, NotFound
from airlock.packages import repository as packages_repo
from airlock.packages import service as packages
from airlock.packages.models import Package, Version
from airlock.stage import policy as review_policy
from airlock.stage.cleanup import forget_blobs
from airlock.stage.errors import StageConflict, StageNotFound
from airlock.stage.integrity import blob_matches
from airlock.stage.models import StageApproval
from airlock.stage.permissions import signed_in, token_covers
from airlock.stage.repository import (
    PUBLISHED,
    is_live,
    live_stage,
    release_empty_reservations,
)
from airlock.stage.schemas import StageInfo


async def approve(ctx: AppContext, principal: Principal, stage_id: uuid.UUID) -> StageInfo:
    """Publish exactly the staged bytes under the staged tag, through the publish path."""
    user, info = await _decidable(ctx, principal, stage_id, "approve")
    # The bytes are checked again now: what a reviewer downloaded is what goes live.
    if not await blob_matches(ctx.blobs, info.blob_key, info.integrity):
        raise StageConflict(
            f"The stored tarball of stage {stage_id} no longer matches its integrity "
            f"{info.integrity}. Nothing was published; reject the stage and stage it again."
        )
    async with ctx.db.write() as session:
        progress = await _four_eyes(ctx, session, user, info)
        if progress is not None:
            return progress
        claimed = await session.execute(
            update(Version)
            .where(Version.id == stage_id, is_live(ctx.clock.now()))
            .values(approved_by=user.name)
        )
        if _rowcount(claimed) == 0:
            raise await _lost_race(session, stage_id)
        version = await session.get(Version, stage_id, populate_existing=True)
        assert version is not None
        package = await session.get(Package, version.package_id)
        assert package is not None
        await _refuse_if_published_meanwhile(session, version, package)
        npm_user = {
            **(version.npm_user or {}),
            "approver": {"name": user.name, "email": user.email},
        }
        await packages.make_live(ctx, session, package, version, info.tag, npm_user)
        record(
            session,
            ctx.clock,
            Event.VERSION_APPROVED,
            actor=user.name,
            package=package.name,
            version=version.version,
            stage_id=str(stage_id),
            staged_by=version.actor,
            tag=info.tag,
        )
    return info


async def _four_eyes(
    ctx: AppContext, session: AsyncSession, user: UserRef, info: StageInfo
) -> StageInfo | None:
    """Apply the package's review rule; a StageInfo means "recorded, not yet live".

    The stage row is locked first (FOR UPDATE on PostgreSQL; SQLite writers are serial),
    so two maintainers approving at once count each other's approval.
    """
    version = (
        await session.execute(
            select(Version).where(Version.id == info.id, is_live(ctx.clock.now())).with_for_update()
        )
    ).scalar_one_or_none()
    if version is None:
        raise await _lost_race(session, info.id)
    rule = await review_policy.rule_for(session, version.package_id)
    if rule.four_eyes and (version.actor_id == user.id or version.actor == user.name):
        raise Forbidden(
            f"{info.package} requires four-eyes review: stage {info.id} was staged by "
            f"{version.actor}, so another maintainer must approve it."
        )
    if rule.approvals_required <= 1:
        return None
    given = set(
        (
            await session.scalars(
                select(StageApproval.user_id).where(StageApproval.version_id == info.id)
            )
        ).all()
    )
    if user.id in given:
        raise StageConflict(
            f"You already approved stage {info.id}; it needs {rule.approvals_required} "
            f"approvals from different maintainers ({len(given)} so far)."
        )
    session.add(
        StageApproval(version_id=info.id, user_id=user.id, user_name=user.name, at=ctx.clock.now())
    )
    count = len(given) + 1
    if count >= rule.approvals_required:
        return None
    record(
        session,
        ctx.clock,
        Event.VERSION_APPROVAL_RECORDED,
        actor=user.name,
        package=info.package,
        version=info.version,
        stage_id=str(info.id),
        approvals=count,
        approvals_required=rule.approvals_required,
    )
    return dataclasses.replace(info, approvals=count, approvals_required=rule.approvals_required)


async def reject(ctx: AppContext, principal: Principal, stage_id: uuid.UUID) -> StageInfo:
    """Delete the stage and (after the commit) its blob."""
    user, info = await _decidable(ctx, principal, stage_id, "reject")
    async with ctx.db.write() as session:
        gone = await session.execute(
            delete(Version)
            .where(Version.id == stage_id, is_live(ctx.clock.now()))
            .returning(Version.package_id, Version.blob_key, Version.provenance_key)
        )
        row = gone.first()
        if row is None:
            raise await _lost_race(session, stage_id)
        await release_empty_reservations(session, {row.package_id})
        record(
            session,
            ctx.clock,
            Event.VERSION_REJECTED,
            actor=user.name,
            package=info.package,
            version=info.version,
            stage_id=str(stage_id),
            staged_by=info.actor,
        )
    await forget_blobs(ctx, [row.blob_key, row.provenance_key])
    return info


async def _decidable(
    ctx: AppContext, principal: Principal, stage_id: uuid.UUID, verb: str
) -> tuple[UserRef, StageInfo]:
    """The stage if the caller may decide it, else 404 (its existence must not leak)."""
    user = signed_in(principal)
    async with ctx.db.read() as session:
        found = await live_stage(session, stage_id, ctx.clock.now())
        if found is None:
            raise await _decided_or_absent(session, stage_id, user)
        version, package = found
        if not token_covers(principal, package.name):
            raise StageNotFound(stage_id)
        if not await packages_repo.is_maintainer(session, package.id, user.id):
            if version.actor_id != user.id:
                raise StageNotFound(stage_id)
            # The stager knows the stage exists (they can view it), so say why.
            raise NotFound(
                f"Only maintainers of {package.name} can approve or reject stage {stage_id}."
            )
        _, ref = await packages_repo.package_ref(session, package.name, principal)
        info = StageInfo.of(version, package)
    # Token limits and the fresh second factor (always required for DECIDE).
    await authorize(ctx, principal, Action.DECIDE, ref, targets=(str(stage_id),), decision=verb)
    return user, info


async def _decided_or_absent(
    session: AsyncSession, stage_id: uuid.UUID, user: UserRef
) -> Exception:
    """A maintainer deciding a stage someone already approved gets 409, as in a race."""
    row = (
        await session.execute(
            select(Version.package_id).where(
                Version.id == stage_id,
                Version.state == PUBLISHED,
                Version.approved_by.is_not(None),
            )
        )
    ).first()
    if row is not None and await packages_repo.is_maintainer(session, row.package_id, user.id):
        return StageConflict(f"Stage {stage_id} has already been approved and published.")
    return StageNotFound(stage_id)


async def _lost_race(session: AsyncSession, stage_id: uuid.UUID) -> Exception:
    """Why the conditional write matched nothing: decided by someone else, or gone."""
    state = await session.scalar(select(Version.state).where(Version.id == stage_id))
    if state == PUBLISHED:
        return StageConflict(f"Stage {stage_id} has already been approved and published.")
    return StageNotFound(stage_id)


async def _refuse_if_published_meanwhile(
    session: AsyncSession, version: Version, package: Package
) -> None:
    """409 (keeping the stage) if a semver-equal version went public since staging.

    The unique (package, version) index already stops the exact same string. What it cannot
    see is a version differing only in build metadata ("1.0.0" vs "1.0.0+ci.7"), which
    semver and npm treat as the same version.
    """
    core = version.version.split("+", 1)[0]
    clash = await session.scalar(
        select(Version.version).where(
            Version.package_id == package.id,
            Version.id != version.id,
            Version.state != "staged",
            or_(Version.version == core, Version.version.startswith(f"{core}+", autoescape=True)),
        )
    )
    if clash is not None:
        raise StageConflict(
            f"{package.name}@{clash} was published while this stage waited, so stage "
            f"{version.id} cannot be approved. It is kept; reject it to free it."
        )


def _rowcount(result: Any) -> int:
    assert isinstance(result, CursorResult)
    return int(result.rowcount)
