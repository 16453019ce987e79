"""Queries over staged versions. A stage is a `Version` row in state "staged".

Every read filters out stages whose `expires_at` has passed, so an expired stage is absent
even before the background sweep deletes it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import ColumnElement, Select, delete, exists, false, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.authz.principal import TokenScope
from airlock.packages.models import Maintainer, Package, Version

STAGED = "staged"
PUBLISHED = "published"


def is_live(now: datetime) -> ColumnElement[bool]:
    """A stage that is still waiting for a decision."""
    return (Version.state == STAGED) & (Version.expires_at > now)


def maintains(user_id: uuid.UUID) -> ColumnElement[bool]:
    return exists().where(Maintainer.package_id == Package.id, Maintainer.user_id == user_id)


def token_covers(token: TokenScope | None) -> ColumnElement[bool] | None:
    """The SQL form of TokenScope.covers_package (None: no limit)."""
    if token is None or (not token.packages and not token.scopes):
        return None
    clauses: list[ColumnElement[bool]] = []
    if token.packages:
        clauses.append(Package.name.in_(token.packages))
    clauses.extend(Package.name.startswith(f"{scope}/", autoescape=True) for scope in token.scopes)
    return or_(false(), *clauses)


def visible_stages(
    user_id: uuid.UUID, token: TokenScope | None, now: datetime, package: str | None
) -> Select[Version, Package]:
    """Stages the caller may see: of packages they maintain, plus their own."""
    query = (
        select(Version, Package)
        .join(Package, Package.id == Version.package_id)
        .where(is_live(now), or_(maintains(user_id), Version.actor_id == user_id))
    )
    limit = token_covers(token)
    if limit is not None:
        query = query.where(limit)
    if package is not None:
        query = query.where(Package.name == package)
    return query


async def count(session: AsyncSession, query: Select[Version, Package]) -> int:
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
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
