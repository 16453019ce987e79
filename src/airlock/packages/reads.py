"""Reading packages: stored packuments, tarballs, dist-tags, collaborators, search.

Who may see what is decided by authz.visibility (one rule); anything else is a 404, as if
missing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import defer

from airlock.accounts.models import User
from airlock.authz.principal import Principal
from airlock.authz.visibility import can_see, maintains
from airlock.context import AppContext
from airlock.packages import repository as repo
from airlock.packages.errors import PackageNotFound
from airlock.packages.models import Maintainer, Package, Version
from airlock.packages.names import version_from_filename


@dataclass(frozen=True)
class StoredDoc:
    body: bytes
    etag: str
    gzipped: bool
    restricted: bool


# The stored documents can be large: reads that only need the package's metadata skip them.
_WITHOUT_DOCUMENTS = (
    defer(Package.packument_full),
    defer(Package.packument_abbrev),
    defer(Package.packument_full_gz),
    defer(Package.packument_abbrev_gz),
)


async def visible_package(session: AsyncSession, name: str, principal: Principal) -> Package:
    """The package if the caller may know it exists, else PackageNotFound.

    Outsiders see only public packages with something published (a name reserved by a
    stage, or fully unpublished, looks like a missing one); maintainers always see theirs.
    """
    package = (
        await session.execute(
            select(Package).where(Package.name == name).options(*_WITHOUT_DOCUMENTS)
        )
    ).scalar_one_or_none()
    if package is None:
        raise PackageNotFound(name)
    facts = await repo.facts(session, package.id, package.name, package.access)
    if not can_see(principal, facts) or (package.etag is None and not maintains(principal, facts)):
        raise PackageNotFound(name)
    return package


async def packument(
    ctx: AppContext, principal: Principal, name: str, *, abbreviated: bool, gzip: bool
) -> StoredDoc:
    """The stored document bytes; no request ever builds one."""
    column = {
        (False, False): Package.packument_full,
        (False, True): Package.packument_full_gz,
        (True, False): Package.packument_abbrev,
        (True, True): Package.packument_abbrev_gz,
    }[(abbreviated, gzip)]
    async with ctx.db.read() as session:
        row = (
            await session.execute(
                select(Package.id, Package.access, Package.etag, column).where(Package.name == name)
            )
        ).first()
        if row is None:
            raise PackageNotFound(name)
        package_id, access, etag, body = row
        if body is None and gzip and etag is not None:
            # A large document is stored without its gzip form (packument.GZIP_STORED_MAX;
            # the fast path compresses and caches it): send the plain bytes.
            plain = Package.packument_abbrev if abbreviated else Package.packument_full
            body = await session.scalar(
                select(plain).where(Package.id == package_id, Package.etag == etag)
            )
            gzip = False
        if body is None or etag is None:
            # Nothing published (only staged versions, or all unpublished): like a missing name.
            raise PackageNotFound(name)
        facts = await repo.facts(session, package_id, name, access, public_too=False)
        if not can_see(principal, facts):
            raise PackageNotFound(name)
    tag = f'"{etag}-c"' if abbreviated else f'"{etag}"'
    return StoredDoc(body=body, etag=tag, gzipped=gzip, restricted=access != "public")


async def tarball(
    ctx: AppContext, principal: Principal, name: str, filename: str
) -> tuple[str, bool]:
    """(blob key, restricted) of a published version's tarball: one narrow query, plus a
    maintainer check only for restricted packages (this is the hottest read path)."""
    version = version_from_filename(name, filename)
    if version is None:
        raise PackageNotFound(f"{name}/-/{filename}")
    async with ctx.db.read() as session:
        row = (
            await session.execute(
                select(Package.id, Package.access, Version.state, Version.blob_key)
                .join(Version, Version.package_id == Package.id)
                .where(Package.name == name, Version.version == version)
            )
        ).first()
        if row is None:
            raise PackageNotFound(f"{name}@{version}")
        package_id, access, state, blob_key = row
        restricted = access != "public"
        facts = await repo.facts(session, package_id, name, access, public_too=False)
        if not can_see(principal, facts):
            raise PackageNotFound(f"{name}@{version}")
    if state != "published" or blob_key is None:
        raise PackageNotFound(f"{name}@{version}")
    return blob_key, restricted


async def provenance(ctx: AppContext, principal: Principal, name: str, version: str) -> bytes:
    async with ctx.db.read() as session:
        package = await visible_package(session, name, principal)
        row = await repo.get_version(session, package.id, version)
    if row is None or row.state != "published" or row.provenance_key is None:
        raise PackageNotFound(f"{name}@{version} provenance")
    return await ctx.blobs.read(row.provenance_key)


async def dist_tags(ctx: AppContext, principal: Principal, name: str) -> dict[str, str]:
    async with ctx.db.read() as session:
        package = await visible_package(session, name, principal)
        return await repo.dist_tags(session, package.id)


async def collaborators(ctx: AppContext, principal: Principal, name: str) -> dict[str, str]:
    async with ctx.db.read() as session:
        package = await visible_package(session, name, principal)
        return {n: "write" for n in await repo.maintainer_names(session, package.id)}


async def visibility(ctx: AppContext, principal: Principal, name: str) -> dict[str, Any]:
    async with ctx.db.read() as session:
        package = await visible_package(session, name, principal)
    return {"public": package.access == "public", "mfa": package.mfa_policy}


async def published_version(session: AsyncSession, package: Package, version: str) -> Version:
    row = await repo.get_version(session, package.id, version)
    if row is None or row.state != "published":
        raise PackageNotFound(f"{package.name}@{version}")
    return row


async def packages_of(ctx: AppContext, user_name: str, viewer: Principal) -> dict[str, str]:
    """`npm access list packages`: what `user_name` maintains that the viewer may see."""
    async with ctx.db.read() as session:
        rows = await session.execute(
            select(Package.name)
            .join(Maintainer, Maintainer.package_id == Package.id)
            .join(User, User.id == Maintainer.user_id)
            .where(User.name == user_name, repo.visible(viewer))
            .order_by(Package.name)
        )
        return {name: "write" for name in rows.scalars().all()}
