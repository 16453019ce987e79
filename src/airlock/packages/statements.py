"""Core statements of the write path, built once (docs/performance.md, "Publishing").

A publish runs about fifteen statements while it holds the database's write lock. Through
the ORM each one was built again (`select(...).where(...)`), given a fresh cache key,
and run through the session's ORM execution (compile state, autoflush, entity loading):
most of a publish's CPU. These are plain Core statements over the tables with bound
parameters, built at import, so SQLAlchemy finds the compiled form in its cache by a
memoized key, and run on the session's connection (`connection`), which skips the ORM
layer. They return plain rows; nothing here is tracked by the session.
"""

from __future__ import annotations

from sqlalchemy import bindparam, func, insert, or_, select, update
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession

from airlock.accounts.models import User
from airlock.db.base import table_of
from airlock.packages.models import DistTag, Maintainer, Package, Version

packages = table_of(Package)
versions = table_of(Version)
dist_tags = table_of(DistTag)
maintainers = table_of(Maintainer)
users = table_of(User)


async def connection(session: AsyncSession) -> AsyncConnection:
    """The session's connection for these statements. Core statements do not autoflush, so
    this does what an ORM query would: flush what the session holds unwritten (a new
    package row, changed documents) unless autoflush is off (`session.no_autoflush`)."""
    sync = session.sync_session
    if sync.autoflush and (sync.new or sync.dirty or sync.deleted):
        await session.flush()
    return await session.connection()


# The oldest row whose number equals :version up to build metadata (:core, :core_plus:
# "1.0.0" and "1.0.0+%" with LIKE's wildcards escaped).
SAME_NUMBER = (
    select(versions.c.id, versions.c.version, versions.c.state, versions.c.expires_at)
    .where(
        versions.c.package_id == bindparam("package_id"),
        or_(
            versions.c.version == bindparam("core"),
            versions.c.version.like(bindparam("core_plus"), escape="/"),
        ),
    )
    .order_by(versions.c.created_at)
    .limit(1)
)

VERSION_COUNT = (
    select(func.count())
    .select_from(versions)
    .where(versions.c.package_id == bindparam("package_id"))
)

INSERT_VERSION = insert(versions)
VERSION_COLUMNS = tuple(column.key for column in versions.columns)

TAGS = select(dist_tags.c.tag, dist_tags.c.version).where(
    dist_tags.c.package_id == bindparam("package_id")
)

INSERT_TAG = insert(dist_tags)

MOVE_TAG = (
    update(dist_tags)
    .where(dist_tags.c.package_id == bindparam("p_id"), dist_tags.c.tag == bindparam("p_tag"))
    .values(version=bindparam("p_version"))
)

STORED_DOCUMENTS = select(
    packages.c.packument_full, packages.c.packument_abbrev, packages.c.packument_base
).where(packages.c.id == bindparam("package_id"))

MAINTAINER_CONTACTS = (
    select(users.c.name, users.c.email)
    .join(maintainers, maintainers.c.user_id == users.c.id)
    .where(maintainers.c.package_id == bindparam("package_id"))
    .order_by(maintainers.c.added_at, users.c.name)
)


def like_prefix(text: str) -> str:
    """`text` followed by anything, for SAME_NUMBER's LIKE (escape character "/")."""
    escaped = text.replace("/", "//").replace("%", "/%").replace("_", "/_")
    return f"{escaped}%"
