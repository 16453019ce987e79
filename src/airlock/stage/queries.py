"""Reading stages: list, view, download, and "is this version live yet?".

None of these needs a second factor. Callers see stages of packages they maintain plus
their own stages; anything else is reported as absent (404), never as forbidden.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.authz.principal import Principal
from airlock.authz.visibility import can_see, can_see_stage
from airlock.context import AppContext
from airlock.errors import BadRequest, NotFound
from airlock.packages import repository as packages_repo
from airlock.packages.models import DistTag, Package, Version
from airlock.stage.errors import StageNotFound
from airlock.stage.permissions import refuse_oidc, signed_in
from airlock.stage.repository import (
    PUBLISHED,
    STAGED,
    count,
    live_stage,
    visible_stages,
)
from airlock.stage.review import review
from airlock.stage.schemas import StageInfo, StagePage

DEFAULT_PER_PAGE = 10
# npm's API documents 100 as the largest page; larger requests get 100 (and say so).
MAX_PER_PAGE = 100
# OFFSET page * perPage must fit every database's integer type.
MAX_PAGE = 1_000_000


async def list_stages(
    ctx: AppContext, principal: Principal, page: int, per_page: int, package: str | None
) -> StagePage:
    """One page of the caller's visible stages, newest first, with the total count."""
    signed_in(principal)
    if not 0 <= page <= MAX_PAGE:
        raise BadRequest(f"page must be between 0 and {MAX_PAGE} (pages are numbered from 0).")
    if per_page < 1:
        raise BadRequest(f"perPage must be between 1 and {MAX_PER_PAGE}.")
    per_page = min(per_page, MAX_PER_PAGE)
    query = visible_stages(principal, ctx.clock.now(), package)
    async with ctx.db.read() as session:
        total = await count(session, query)
        rows = await session.execute(
            query.order_by(Version.created_at.desc(), Version.id.desc())
            .offset(page * per_page)
            .limit(per_page)
        )
        items = [StageInfo.of(version, pkg) for version, pkg in rows.all()]
    return StagePage(items=items, total=total, page=page, per_page=per_page)


async def view_stage(ctx: AppContext, principal: Principal, stage_id: uuid.UUID) -> StageInfo:
    """The stage if the caller maintains its package or staged it, else StageNotFound."""
    signed_in(principal)
    async with ctx.db.read() as session:
        found = await live_stage(session, stage_id, ctx.clock.now())
        if found is None:
            raise StageNotFound(stage_id)
        version, package = found
        facts = await packages_repo.facts(session, package.id, package.name, package.access)
        if not can_see_stage(principal, facts, version.actor_id):
            raise StageNotFound(stage_id)
        previous = await _latest_manifest(session, package.id)
        return StageInfo.of(version, package, review(version.manifest, previous))


async def _latest_manifest(session: AsyncSession, package_id: uuid.UUID) -> dict[str, Any] | None:
    """The manifest of the published version `latest` points at, if any."""
    row = await session.execute(
        select(Version.manifest)
        .join(
            DistTag,
            (DistTag.package_id == Version.package_id) & (DistTag.version == Version.version),
        )
        .where(
            DistTag.package_id == package_id, DistTag.tag == "latest", Version.state == PUBLISHED
        )
    )
    manifest: dict[str, Any] | None = row.scalar_one_or_none()
    return manifest


async def version_status(
    ctx: AppContext, principal: Principal, name: str, version: str
) -> tuple[str, uuid.UUID | None]:
    """("staged", stage id) or ("published", None), for those allowed to know; NotFound for
    everyone else.

    Published versions: whoever may read the package. Staged ones: its maintainers and the
    stager. Trusted-publishing tokens are refused (403): they may only stage.
    """
    refuse_oidc(principal)
    missing = NotFound(f"{name}@{version} not found.")
    async with ctx.db.read() as session:
        row = (
            await session.execute(
                select(Version, Package)
                .join(Package, Package.id == Version.package_id)
                .where(Package.name == name, Version.version == version)
            )
        ).first()
        if row is None:
            raise missing
        found, package = row
        facts = await packages_repo.facts(session, package.id, package.name, package.access)
    if found.state == PUBLISHED and can_see(principal, facts):
        return PUBLISHED, None
    lapse = found.expires_at
    live = found.state == STAGED and lapse is not None and lapse > ctx.clock.now()
    if live and can_see_stage(principal, facts, found.actor_id):
        return STAGED, found.id
    raise missing
