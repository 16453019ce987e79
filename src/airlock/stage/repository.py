"""Queries over staged versions. A stage is a `Version` row in state "staged".

Every read filters out stages whose `expires_at` has passed, so an expired stage is absent
even before the background sweep deletes it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, Select, delete, exists, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.authz.principal import Principal
from airlock.authz.visibility import stage_visible_clause
from airlock.packages.models import Package, Version
from airlock.packages.repository import COLUMNS

STAGED = "staged"
PUBLISHED = "published"


def is_live(now: datetime) -> ColumnElement[bool]:
    """A stage that is still waiting for a decision."""
    return (Version.state == STAGED) & (Version.expires_at > now)


def visible_stages(
    principal: Principal, now: datetime, package: str | None
) -> Select[Version, Package]:
    """Stages the caller may see (authz.visibility.can_see_stage): of packages they
    maintain, plus their own, within the token's limits."""
    query = (
        select(Version, Package)
        .join(Package, Package.id == Version.package_id)
        .where(is_live(now), stage_visible_clause(principal, COLUMNS, Version.actor_id))
    )
    if package is not None:
        query = query.where(Package.name == package)
    return query


async def count(session: AsyncSession, query: Select[Version, Package]) -> int:
    """How many rows `query` (a visible_stages query) gives, counted over the ids only:
    the subquery then needs no row columns (ix_versions_stage_list covers the filter)."""
    ids = query.with_only_columns(Version.id).order_by(None).subquery()
    total = await session.scalar(select(func.count()).select_from(ids))
    return int(total or 0)


async def live_stage(
    session: AsyncSession, stage_id: uuid.UUID, now: datetime
) -> tuple[Version, Package] | None:
    row = (
        await session.execute(
            select(Version, Package)
            .join(Package, Package.id == Version.package_id)
            .where(Version.id == stage_id, is_live(now))
        )
    ).first()
    return (row[0], row[1]) if row is not None else None


async def release_empty_reservations(
    session: AsyncSession, package_ids: set[uuid.UUID]
) -> list[str]:
    """Delete packages that only existed to reserve a name for stages that are now gone.

    A package with no version rows at all and nothing public was created by staging a
    brand-new name; once its last stage is rejected or expired the name is free again.
    """
    if not package_ids:
        return []
    result = await session.execute(
        delete(Package)
        .where(
            Package.id.in_(package_ids),
            Package.packument_full.is_(None),
            ~exists().where(Version.package_id == Package.id),
        )
        .returning(Package.name)
    )
    return list(result.scalars().all())
