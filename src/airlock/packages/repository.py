"""Queries on packages, maintainers, versions and dist-tags (inside the caller's session)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Exists, bindparam, delete, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from airlock.accounts.models import User
from airlock.authz.policy import PackageRef
from airlock.authz.principal import Principal
from airlock.authz.visibility import PackageColumns, PackageFacts, visible_clause
from airlock.packages import statements as sql
from airlock.packages.models import DistTag, Maintainer, Package, Version


async def get_package(session: AsyncSession, name: str) -> Package | None:
    return (await session.execute(select(Package).where(Package.name == name))).scalar_one_or_none()


async def is_maintainer(session: AsyncSession, package_id: uuid.UUID, user_id: uuid.UUID) -> bool:
    row = await session.execute(
        select(Maintainer.id).where(
            Maintainer.package_id == package_id, Maintainer.user_id == user_id
        )
    )
    return row.first() is not None


async def maintainer_ids(session: AsyncSession, package_id: uuid.UUID) -> list[uuid.UUID]:
    rows = await session.execute(
        select(Maintainer.user_id).where(Maintainer.package_id == package_id)
    )
    return list(rows.scalars().all())


async def facts(
    session: AsyncSession, package_id: uuid.UUID, name: str, access: str, *, public_too: bool = True
) -> PackageFacts:
    """What the visibility rule (authz.visibility) needs. With `public_too=False` the
    maintainers of a public package are not loaded (the rule does not need them to decide
    whether a public package may be seen; hot read paths save the query)."""
    ids = await maintainer_ids(session, package_id) if public_too or access != "public" else []
    return PackageFacts.of(name, access, ids)


def maintained_by(user_id: uuid.UUID) -> ColumnElement[bool]:
    # An alias, so the clause also works in queries that join Maintainer themselves. An
    # uncorrelated IN: the database finds the user's packages once, not once per row
    # (a stage list over 10,000 stages).
    other = aliased(Maintainer)
    return Package.id.in_(select(other.package_id).where(other.user_id == user_id))


COLUMNS = PackageColumns(name=Package.name, access=Package.access, maintained_by=maintained_by)


def visible(principal: Principal) -> ColumnElement[bool]:
    """The visibility rule as a clause over `Package` (listings, search)."""
    return visible_clause(principal, COLUMNS)


def ref_for(package: Package | None, name: str, maintainer: bool) -> PackageRef:
    if package is None:
        return PackageRef(name=name, exists=False, is_maintainer=False)
    return PackageRef(
        name=package.name,
        exists=True,
        is_maintainer=maintainer,
        access=package.access,
        mfa_policy=package.mfa_policy,
    )


def _maintains(user_id: Any) -> Exists:
    return (
        select(Maintainer.id)
        .where(Maintainer.package_id == Package.id, Maintainer.user_id == user_id)
        .exists()
    )


# Built once (every write asks two or three times): the package with "is the caller a
# maintainer", and the same under the row's lock, reloaded as it is once the lock is ours.
_REF = select(Package, _maintains(bindparam("user_id"))).where(Package.name == bindparam("name"))
_LOCKED_REF = _REF.with_for_update(of=Package).execution_options(populate_existing=True)
_REF_ONLY = select(
    sql.packages.c.name,
    sql.packages.c.access,
    sql.packages.c.mfa_policy,
    select(sql.maintainers.c.id)
    .where(
        sql.maintainers.c.package_id == sql.packages.c.id,
        sql.maintainers.c.user_id == bindparam("user_id"),
    )
    .exists(),
).where(sql.packages.c.name == bindparam("name"))


async def package_ref(
    session: AsyncSession, name: str, principal: Principal, *, lock: bool = False
) -> tuple[Package | None, PackageRef]:
    """The package (if any) and what authorization needs to know about it, in one query.
    `lock`: take the row's lock (PostgreSQL; SQLite writes are serial) with the same query.

    One query also means one snapshot: read separately, a package deleted in between (the
    expiry sweep releasing a lapsed stage's reservation, which removes its maintainers with
    it) looked like someone else's package, a false 403.
    """
    user_id = principal.user.id if principal.user is not None else None
    params = {"name": name, "user_id": user_id}
    row = (await session.execute(_LOCKED_REF if lock else _REF, params)).first()
    if row is None:
        return None, ref_for(None, name, False)
    package, maintainer = row
    return package, ref_for(package, name, bool(maintainer) and user_id is not None)


async def ref_only(session: AsyncSession, name: str, principal: Principal) -> PackageRef:
    """`package_ref` without loading the row (the checks in front of a write)."""
    user_id = principal.user.id if principal.user is not None else None
    conn = await sql.connection(session)
    row = (await conn.execute(_REF_ONLY, {"name": name, "user_id": user_id})).first()
    if row is None:
        return PackageRef(name=name, exists=False, is_maintainer=False)
    found, access, mfa_policy, maintainer = row
    return PackageRef(
        name=found,
        exists=True,
        is_maintainer=bool(maintainer) and user_id is not None,
        access=access,
        mfa_policy=mfa_policy,
    )


async def maintainers(session: AsyncSession, package_id: uuid.UUID) -> Sequence[User]:
    rows = await session.execute(
        select(User)
        .join(Maintainer, Maintainer.user_id == User.id)
        .where(Maintainer.package_id == package_id)
        .order_by(Maintainer.added_at, User.name)
    )
    return rows.scalars().all()


async def maintainer_contacts(session: AsyncSession, package_id: uuid.UUID) -> list[dict[str, str]]:
    """`maintainers` of a packument ([{name, email}]), in `maintainers`' order, without
    loading whole user rows."""
    conn = await sql.connection(session)
    rows = await conn.execute(sql.MAINTAINER_CONTACTS, {"package_id": package_id})
    return [{"name": name, "email": email or ""} for name, email in rows]


async def maintainer_names(session: AsyncSession, package_id: uuid.UUID) -> list[str]:
    return [user.name for user in await maintainers(session, package_id)]


async def get_version(session: AsyncSession, package_id: uuid.UUID, version: str) -> Version | None:
    return (
        await session.execute(
            select(Version).where(Version.package_id == package_id, Version.version == version)
        )
    ).scalar_one_or_none()


async def versions_in_state(
    session: AsyncSession, package_id: uuid.UUID, state: str
) -> Sequence[Version]:
    rows = await session.execute(
        select(Version)
        .where(Version.package_id == package_id, Version.state == state)
        .order_by(Version.published_at, Version.created_at)
    )
    return rows.scalars().all()


async def dist_tags(session: AsyncSession, package_id: uuid.UUID) -> dict[str, str]:
    # Sorted here, not by the database: PostgreSQL's collation may order tags differently
    # from Python, and a publish sorts the tags it changed the same way (service._package_snapshot).
    conn = await sql.connection(session)
    rows = await conn.execute(sql.TAGS, {"package_id": package_id})
    return dict(sorted((tag, version) for tag, version in rows))


async def set_dist_tag(
    session: AsyncSession,
    package_id: uuid.UUID,
    tag: str,
    version: str,
    current: dict[str, str] | None = None,
) -> None:
    """Point `tag` at `version`. `current`: the package's tags as this transaction read
    them (dist_tags), which saves looking the row up."""
    if current is None:
        current = await dist_tags(session, package_id)
    conn = await sql.connection(session)
    if tag not in current:
        row = {"id": uuid.uuid4(), "package_id": package_id, "tag": tag, "version": version}
        await conn.execute(sql.INSERT_TAG, row)
    elif current[tag] != version:
        await conn.execute(sql.MOVE_TAG, {"p_id": package_id, "p_tag": tag, "p_version": version})
    current[tag] = version


async def delete_dist_tag(session: AsyncSession, package_id: uuid.UUID, tag: str) -> bool:
    row = (
        await session.execute(
            select(DistTag).where(DistTag.package_id == package_id, DistTag.tag == tag)
        )
    ).scalar_one_or_none()
    if row is None:
        return False
    await session.delete(row)
    return True


async def blob_in_use(session: AsyncSession, key: str) -> bool:
    """Whether any version row (staged, published or tombstone) points at this blob."""
    row = await session.execute(
        select(Version.id)
        .where((Version.blob_key == key) | (Version.provenance_key == key))
        .limit(1)
    )
    return row.first() is not None


async def delete_lapsed_stage(
    session: AsyncSession, package_id: uuid.UUID, version: str, now: datetime
) -> list[str | None]:
    """Delete an expired stage still holding `version` (the sweep has not run yet) and
    return its blob keys, so that an expired stage frees its number for publish and stage
    at once, not only after the next sweep."""
    rows = await session.execute(
        delete(Version)
        .where(
            Version.package_id == package_id,
            Version.version == version,
            Version.state == "staged",
            Version.expires_at <= now,
        )
        .returning(Version.blob_key, Version.provenance_key)
    )
    return [key for row in rows for key in row]
