"""Pieces of the write path (packages/write.py): blobs, package rows, making a version live,
and rebuilding the stored packuments."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import Sequence
from typing import Any

import anyio
from sqlalchemy import inspect, select
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.authz.principal import Principal, TokenKind
from airlock.context import AppContext
from airlock.db.engine import mark_changed
from airlock.errors import Forbidden, Unauthorized
from airlock.packages import blobs
from airlock.packages import repository as repo
from airlock.packages import statements as sql
from airlock.packages.errors import PackageNotFound
from airlock.packages.models import Maintainer, Package, Version
from airlock.packages.names import scope_of
from airlock.packages.packument import (
    BuiltPackument,
    PackageSnapshot,
    VersionSnapshot,
    append,
    build,
    highest,
)
from airlock.packages.upload import Upload
from airlock.storage.base import StorageUnavailable, tarball_key

# session.info key: ids of the packages this transaction has locked (lock_package).
_LOCKED = "airlock_locked_packages"
# Stored documents up to this size are extended on the event loop (splice, digest and
# gzip of 64 KiB: well under a millisecond); larger ones in a worker thread.
_INLINE_SPLICE_BYTES = 64 * 1024


def provenance_key(bundle: bytes) -> str:
    digest = hashlib.sha256(bundle).hexdigest()
    return f"provenance/{digest[:2]}/{digest}.sigstore.json"


async def store_upload_blobs(ctx: AppContext, upload: Upload) -> tuple[str, str | None]:
    """Write the tarball (content-addressed) and provenance bundle BEFORE any row points at them."""
    key = tarball_key(upload.sha512_hex)
    prov_key = provenance_key(upload.provenance) if upload.provenance is not None else None
    # Claimed before the existence check, so the collector cannot remove it under us.
    claimed = await blobs.claim(ctx, (key, prov_key))
    pending = [k for k in (key, prov_key) if k is not None]
    try:
        if not await ctx.blobs.exists(key):
            await ctx.blobs.put(key, upload.tarball)
        pending.remove(key)
        if prov_key is not None and upload.provenance is not None:
            await ctx.blobs.put(prov_key, upload.provenance)
    except StorageUnavailable as exc:
        if exc.nothing_written:  # refused outright: no claim is left behind for these
            await blobs.release(ctx, claimed, pending)
        raise
    return key, prov_key


async def discard_blobs(ctx: AppContext, *keys: str | None) -> None:
    """Delete blobs that no version row references (after a failed or undone write).

    The one safe deletion (packages/blobs.py): blobs still within their grace period are
    left for the sweep."""
    await blobs.collect(ctx, keys)


def npm_user_for(principal: Principal) -> dict[str, Any]:
    """`_npmUser` of a version: the publisher, plus the trusted publisher for OIDC tokens."""
    if principal.user is None:
        raise Unauthorized("You must be logged in to publish packages.")
    user: dict[str, Any] = {"name": principal.user.name, "email": principal.user.email or ""}
    token = principal.token
    if token is not None and token.kind is TokenKind.OIDC and token.trusted_publisher:
        user["trustedPublisher"] = token.trusted_publisher
    return user


async def create_package(
    ctx: AppContext, session: AsyncSession, name: str, owner_id: uuid.UUID, access: str | None
) -> Package:
    """A new package row with its first maintainer (no public packument yet).

    `access` None (npm sends null unless --access or publishConfig.access is given) means
    restricted for a scoped name, as on npmjs (nothing leaks by accident), public otherwise."""
    now = ctx.clock.now()
    package = Package(
        id=uuid.uuid4(),
        name=name,
        scope=scope_of(name),
        access=access or ("restricted" if scope_of(name) else "public"),
        mfa_policy="none",
        created_at=now,
        modified_at=now,
        rev=1,
        keywords=[],
    )
    session.add(package)
    await session.flush()
    session.add(Maintainer(package_id=package.id, user_id=owner_id, added_at=now))
    await session.flush()
    # A row this transaction inserted is its own until commit: nothing to lock or reload.
    session.info.setdefault(_LOCKED, set()).add(package.id)
    # The name is hosted from this commit on (a stage's reservation too): read caches drop
    # what they held for it, including an uplink copy (docs/uplink.md).
    mark_changed(session, name)
    return package


async def make_live(
    ctx: AppContext,
    session: AsyncSession,
    package: Package,
    version: Version,
    tag: str,
    npm_user: dict[str, Any],
) -> None:
    """The one place a version becomes public (npm publish and stage approval).

    Sets the state, the tag (and `latest` when the package has none yet, as npmjs does),
    bumps the package revision and rebuilds the stored packuments. Reads no tarball.
    A `version` not yet in the session (a publish's new row) is inserted here, live.
    """
    await lock_package(session, package)
    now = ctx.clock.now()
    version.state = "published"
    version.published_at = now
    version.npm_user = npm_user
    version.expires_at = None
    if inspect(version).transient:
        await insert_version(session, version)
    tags = await repo.dist_tags(session, package.id)
    had_latest = "latest" in tags
    await repo.set_dist_tag(session, package.id, tag, version.version, tags)
    if tag != "latest" and not had_latest:
        await repo.set_dist_tag(session, package.id, "latest", version.version, tags)
    await touch(ctx, session, package, added=version, tags=tags)


async def insert_version(session: AsyncSession, version: Version) -> None:
    """Insert a new version row with one Core statement (not tracked by the session:
    `version` stays a plain object holding what was written)."""
    row = {key: getattr(version, key) for key in sql.VERSION_COLUMNS}
    conn = await sql.connection(session)
    await conn.execute(sql.INSERT_VERSION, row)


async def lock_package(session: AsyncSession, package: Package) -> bool:
    """Take the package row's lock and reload it (PostgreSQL; SQLite writes are serial);
    False when the row was deleted while we waited for the lock.

    Two concurrent writes to one package (two publishes of different versions, say) must
    not each build a packument that misses the other's version, nor both bump `rev` from
    the same value: the second waits here and then reads what the first committed.

    A row lock lasts until the transaction ends, so a package this transaction has
    locked and reloaded already is not locked and reloaded again (a publish asks three
    times: ownership check, make_live, touch).
    """
    locked_ids: set[uuid.UUID] = session.info.setdefault(_LOCKED, set())
    if package.id in locked_ids and package in session:
        return True
    locked = await session.execute(
        select(Package.id)
        .where(Package.id == package.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    )
    if locked.first() is None:
        return False
    await session.refresh(package)
    locked_ids.add(package.id)
    return True


async def touch(
    ctx: AppContext,
    session: AsyncSession,
    package: Package,
    added: Version | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """Record a change to the package: new revision, modified time, fresh packuments
    (`added`: the change is that one version went live, so the documents can be extended;
    `tags`: the package's dist-tags as this transaction left them)."""
    await lock_package(session, package)
    # What the documents show (versions, tags) must be in the database before they are
    # built; the package row's own changes are then written by one UPDATE at the end.
    await session.flush()
    with session.no_autoflush:
        package.modified_at = ctx.clock.now()
        package.rev = (package.rev or 0) + 1
        await rebuild_packuments(ctx, session, package, added=added, tags=tags)
    mark_changed(session, package.name)


async def rebuild_packuments(
    ctx: AppContext,
    session: AsyncSession,
    package: Package,
    added: Version | None = None,
    tags: dict[str, str] | None = None,
) -> None:
    """Build and store the full and abbreviated documents (None if nothing is published)."""
    if added is not None and await extend_packuments(ctx, session, package, added, tags):
        return
    published = await repo.versions_in_state(session, package.id, "published")
    if not published:
        package.packument_full = package.packument_abbrev = None
        package.packument_full_gz = package.packument_abbrev_gz = None
        package.etag = package.rev_id = package.packument_base = None
        package.description = None
        await session.flush()
        return
    snap = await _package_snapshot(ctx, session, package, published)
    built = await anyio.to_thread.run_sync(build, snap)
    _store(package, snap, built)
    _search_fields(package, snap)
    await session.flush()


async def _package_snapshot(
    ctx: AppContext,
    session: AsyncSession,
    package: Package,
    versions: Sequence[Version],
    tags: dict[str, str] | None = None,
) -> PackageSnapshot:
    if tags is None:
        tags = await repo.dist_tags(session, package.id)
    return PackageSnapshot(
        name=package.name,
        rev=package.rev,
        created_at=package.created_at,
        modified_at=package.modified_at,
        base_url=ctx.settings.base_url,
        maintainers=await repo.maintainer_contacts(session, package.id),
        dist_tags=dict(sorted(tags.items())),
        versions=[_snapshot(v) for v in versions],
    )


def _store(package: Package, snap: PackageSnapshot, built: BuiltPackument) -> None:
    package.packument_full, package.packument_abbrev = built.full, built.abbrev
    package.packument_full_gz, package.packument_abbrev_gz = built.full_gz, built.abbrev_gz
    package.etag, package.rev_id = built.etag, built.rev
    package.packument_base = snap.base_url


async def extend_packuments(
    ctx: AppContext,
    session: AsyncSession,
    package: Package,
    added: Version,
    tags: dict[str, str] | None = None,
) -> bool:
    """Add one newly live version to the stored documents without reading the other
    versions (packument.append splices it into the stored bytes); False when a full
    rebuild is needed instead."""
    conn = await sql.connection(session)
    old = (await conn.execute(sql.STORED_DOCUMENTS, {"package_id": package.id})).first()
    if old is None or old[0] is None or old[1] is None or old[2] != ctx.settings.base_url:
        return False
    snap = await _package_snapshot(ctx, session, package, [added], tags)
    if len(old[0]) <= _INLINE_SPLICE_BYTES:
        # Cheaper than the hop to a worker thread and back, which this transaction would
        # wait for while it holds the write lock (every other publish waits with it).
        built = append(snap, snap.versions[0], old[0], old[1])
    else:
        built = await anyio.to_thread.run_sync(append, snap, snap.versions[0], old[0], old[1])
    if built is None:
        return False
    _store(package, snap, built)
    if snap.dist_tags.get("latest") == added.version:
        _search_fields(package, snap)
    await session.flush()
    return True


def _snapshot(v: Version) -> VersionSnapshot:
    assert v.published_at is not None
    return VersionSnapshot(
        version=v.version,
        manifest=v.manifest,
        shasum=v.shasum,
        integrity=v.integrity,
        file_count=v.file_count,
        unpacked_size=v.unpacked_size,
        published_at=v.published_at,
        deprecated=v.deprecated,
        npm_user=v.npm_user,
        has_provenance=v.provenance_key is not None,
    )


def _search_fields(package: Package, snap: PackageSnapshot) -> None:
    latest = snap.dist_tags.get("latest") or highest([v.version for v in snap.versions])
    manifest = next((v.manifest for v in snap.versions if v.version == latest), {})
    description = manifest.get("description")
    package.description = description[:2048] if isinstance(description, str) else None
    keywords = manifest.get("keywords")
    if isinstance(keywords, str):
        keywords = keywords.split()
    package.keywords = (
        [k for k in keywords if isinstance(k, str)] if isinstance(keywords, list) else []
    )


async def locked_package(session: AsyncSession, name: str, principal: Principal) -> Package | None:
    """Re-check ownership inside the write transaction (it may have changed since `authorize`,
    which runs before the transaction because the second-factor check writes on its own).

    The package is locked by the same query. A row deleted while we waited for its lock
    (the expiry sweep released a reservation whose last stage lapsed) is not returned:
    the name is free again."""
    package, ref = await repo.package_ref(session, name, principal, lock=True)
    if package is None:
        return None
    session.info.setdefault(_LOCKED, set()).add(package.id)
    if not ref.is_maintainer:
        if ref.access != "public":
            raise PackageNotFound(name)
        raise Forbidden(f"You do not have permission to change {name}.")
    return package
