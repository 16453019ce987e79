"""`npm search`: a plain substring match over names, descriptions and keywords.

Only packages with something published are found; restricted ones only by their maintainers.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import String, and_, cast, func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.accounts.models import User
from airlock.authz.principal import Principal
from airlock.clock import iso
from airlock.context import AppContext
from airlock.errors import BadRequest
from airlock.packages import repository as repo
from airlock.packages.models import DistTag, Package, Version

MAX_SIZE = 250
MAX_TERMS = 10
# Far past any result list, and small enough for every database's integer OFFSET.
MAX_OFFSET = 1_000_000


async def search(
    ctx: AppContext, principal: Principal, text: str, size: int, offset: int
) -> dict[str, Any]:
    size = max(1, min(size, MAX_SIZE))
    if not 0 <= offset <= MAX_OFFSET:
        raise BadRequest(f"from must be between 0 and {MAX_OFFSET}.")
    async with ctx.db.read() as session:
        query = _query(text, principal)
        total = (await session.execute(select(func.count()).select_from(query.subquery()))).scalar()
        rows = await session.execute(query.order_by(Package.name).offset(offset).limit(size))
        objects = [await _object(session, pkg, ver) for pkg, ver in rows.all()]
    return {"objects": objects, "total": total or 0, "time": iso(ctx.clock.now())}


def _query(text: str, principal: Principal) -> Any:
    query = (
        select(Package, Version)
        .join(DistTag, and_(DistTag.package_id == Package.id, DistTag.tag == "latest"))
        .join(
            Version,
            and_(
                Version.package_id == Package.id,
                Version.version == DistTag.version,
                Version.state == "published",
            ),
        )
    )
    for term in text.lower().split()[:MAX_TERMS]:
        like = "%" + term.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                Package.name.like(like, escape="\\"),
                func.lower(Package.description).like(like, escape="\\"),
                func.lower(cast(Package.keywords, String)).like(like, escape="\\"),
            )
        )
    return query.where(repo.visible(principal))


async def _object(session: AsyncSession, package: Package, version: Version) -> dict[str, Any]:
    users: list[User] = list(await repo.maintainers(session, package.id))
    publisher = (version.npm_user or {}).get("name")
    doc: dict[str, Any] = {
        "name": package.name,
        "version": version.version,
        "description": package.description or "",
        "keywords": package.keywords or [],
        "date": iso(version.published_at or package.modified_at),
        "maintainers": [{"username": u.name, "email": u.email or ""} for u in users],
        "links": {},
    }
    if publisher:
        doc["publisher"] = {"username": publisher, "email": (version.npm_user or {}).get("email")}
    return {
        "package": doc,
        "score": {"final": 1.0, "detail": {"quality": 1.0, "popularity": 1.0, "maintenance": 1.0}},
        "searchScore": 1.0,
    }
