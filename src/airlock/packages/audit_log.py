"""Asking the audit log: filtered, paged, limited to what the caller may see.

Operators (the `operators` setting) see everything. Everyone else sees the events of
packages they maintain now, plus events about their own account (their own actions
without a package: sign-in, tokens, 2FA).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.audit.models import AuditEvent
from airlock.authz.principal import Principal
from airlock.context import AppContext
from airlock.errors import BadRequest, NotFound, Unauthorized
from airlock.packages.models import Maintainer, Package

PER_PAGE = 50


@dataclass(frozen=True)
class Filters:
    package: str | None = None
    actor: str | None = None
    event: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    page: int = 0


def parse_time(raw: str | None, name: str) -> datetime | None:
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00"))
    except ValueError as exc:
        raise BadRequest(f"{name} must be an ISO 8601 time, e.g. 2026-12-01T00:00:00Z.") from exc
    if value.tzinfo is None:
        raise BadRequest(f"{name} must include a time zone (Z or +00:00).")
    return value


def item(row: AuditEvent) -> dict[str, Any]:
    return {
        "id": str(row.id),
        "time": row.at.isoformat().replace("+00:00", "Z"),
        "event": row.event,
        "actor": row.actor,
        "credential": {"kind": row.credential_kind, "id": row.credential_id},
        "client": row.client,
        "package": row.package,
        "version": row.version,
        "details": row.details or {},
    }


def is_operator(ctx: AppContext, principal: Principal) -> bool:
    return principal.user is not None and principal.user.name in ctx.settings.operators


def _visible(principal: Principal) -> ColumnElement[bool]:
    assert principal.user is not None
    maintained = (
        select(Package.name)
        .join(Maintainer, Maintainer.package_id == Package.id)
        .where(Maintainer.user_id == principal.user.id)
    )
    own_account = and_(AuditEvent.package.is_(None), AuditEvent.actor == principal.user.name)
    return or_(AuditEvent.package.in_(maintained), own_account)


def _filtered(query: Select[Any], f: Filters) -> Select[Any]:
    if f.package:
        query = query.where(AuditEvent.package == f.package)
    if f.actor:
        query = query.where(AuditEvent.actor == f.actor)
    if f.event:
        query = query.where(AuditEvent.event == f.event)
    if f.since:
        query = query.where(AuditEvent.at >= f.since)
    if f.until:
        query = query.where(AuditEvent.at < f.until)
    return query


async def page_of(
    session: AsyncSession, f: Filters, limit: ColumnElement[bool] | None
) -> dict[str, Any]:
    if f.page < 0:
        raise BadRequest("page must be 0 or more (pages are numbered from 0).")
    query = _filtered(select(AuditEvent), f)
    if limit is not None:
        query = query.where(limit)
    total = await session.scalar(select(func.count()).select_from(query.subquery()))
    rows = await session.scalars(
        query.order_by(AuditEvent.at.desc(), AuditEvent.id.desc())
        .offset(f.page * PER_PAGE)
        .limit(PER_PAGE)
    )
    return {
        "items": [item(r) for r in rows.all()],
        "page": f.page,
        "perPage": PER_PAGE,
        "total": int(total or 0),
    }


async def search(ctx: AppContext, principal: Principal, f: Filters) -> dict[str, Any]:
    if principal.user is None:
        raise Unauthorized("You must be logged in to read the audit log.")
    limit = None if is_operator(ctx, principal) else _visible(principal)
    async with ctx.db.read() as session:
        return await page_of(session, f, limit)


async def package_events(
    ctx: AppContext, principal: Principal, name: str, f: Filters
) -> dict[str, Any]:
    """A package's audit page: its maintainers (and operators) only; anyone else gets the
    404 an unknown package gets, not an empty list that would confirm it exists."""
    if principal.user is None:
        raise Unauthorized("You must be logged in to read the audit log.")
    if not is_operator(ctx, principal):
        async with ctx.db.read() as session:
            maintained = await session.scalar(
                select(func.count())
                .select_from(Package)
                .join(Maintainer, Maintainer.package_id == Package.id)
                .where(Package.name == name, Maintainer.user_id == principal.user.id)
            )
        if not maintained:
            raise NotFound(f"Package {name} not found.")
    return await search(ctx, principal, replace(f, package=name))
