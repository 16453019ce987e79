"""The uplink rules of protocols.md §4.4, one function per question.

- `is_hosted`: a name in a private namespace or with any local record (a `packages` row:
  published, unpublished, staged or reserved) is hosted and never touches the uplink.
- `guard.guard_new_name`: creating a local name the uplink has is refused (409) unless allowed.
- `packument` / `version_document` / `tarball`: everything else comes from the uplink
  through the cache.
- `cached_copy` / `copy_form`: what the read fast path (web/fastpath.py) serves for a
  proxied name while the stored copy is within its TTL; it falls through to `packument`
  otherwise, which revalidates.

Every new or dropped uplink document marks the name changed (`mark_changed`), so the
read cache drops its copy when the write commits (a 304 only extends the check time).
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

import anyio
import orjson
from sqlalchemy import delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from airlock.context import AppContext
from airlock.db.engine import mark_changed
from airlock.observability import metrics
from airlock.packages.errors import PackageNotFound
from airlock.packages.models import Package
from airlock.packages.names import version_from_filename
from airlock.packages.readcache import ProxiedCopy
from airlock.uplink.client import Fetched, Missing, NotModified, Upstream, upstream_of
from airlock.uplink.documents import GarbageDocument, ProcessedPackument, matches_integrity, process
from airlock.uplink.errors import UplinkBadTarball, UplinkDown, UplinkUnavailable
from airlock.uplink.guard import is_private
from airlock.uplink.models import UplinkPackage, UplinkVersion

log = logging.getLogger("airlock.uplink")

STALE_WARNING = '110 airlock "Response is stale: the uplink is unreachable"'
_FORMS = {
    (False, False): UplinkPackage.packument_full,
    (False, True): UplinkPackage.packument_full_gz,
    (True, False): UplinkPackage.packument_abbrev,
    (True, True): UplinkPackage.packument_abbrev_gz,
}


@dataclass(frozen=True)
class ProxiedDoc:
    body: bytes
    etag: str
    gzipped: bool
    stale: bool


async def is_hosted(session: AsyncSession, ctx: AppContext, name: str) -> bool:
    """The one rule deciding the origin of a name: hosted names never touch the uplink."""
    if is_private(ctx, name):
        return True
    found = await session.execute(select(Package.id).where(Package.name == name))
    return found.first() is not None


def _proxy_for(ctx: AppContext, name: str) -> Upstream:
    upstream = upstream_of(ctx)
    if upstream is None or is_private(ctx, name):
        raise PackageNotFound(name)
    return upstream


async def packument(ctx: AppContext, name: str, *, abbreviated: bool, gzip: bool) -> ProxiedDoc:
    """The cached uplink packument of a name that is not hosted (PackageNotFound otherwise)."""
    upstream = _proxy_for(ctx, name)
    async with ctx.db.read() as session:
        if await is_hosted(session, ctx, name):
            raise PackageNotFound(name)
        cached = await _cached(session, name)
    stale = False
    if cached is None or not _fresh(ctx, cached):
        cached, stale = await _refresh(ctx, upstream, name, cached)
    else:
        metrics.uplink("packument", "hit")
    body = {
        (False, False): cached.packument_full,
        (False, True): cached.packument_full_gz,
        (True, False): cached.packument_abbrev,
        (True, True): cached.packument_abbrev_gz,
    }[(abbreviated, gzip)]
    tag = f'"u{cached.etag}-c"' if abbreviated else f'"u{cached.etag}"'  # see copy_etag
    return ProxiedDoc(body=body, etag=tag, gzipped=gzip, stale=stale)


async def tarball(ctx: AppContext, name: str, filename: str) -> str:
    """Blob key of an uplink tarball: fetched on first request, checked, then kept."""
    upstream = _proxy_for(ctx, name)
    version = version_from_filename(name, filename)
    if version is None:
        raise PackageNotFound(f"{name}/-/{filename}")
    async with ctx.db.read() as session:
        if await is_hosted(session, ctx, name):
            raise PackageNotFound(name)
        row = await _version(session, name, version)
    if row is None and await _refetch(ctx, upstream, name):
        # The cached document may predate this version: refetched once, now decide.
        async with ctx.db.read() as session:
            row = await _version(session, name, version)
    if row is None:
        raise PackageNotFound(f"{name}@{version}")
    if row.blob_key is not None and await ctx.blobs.exists(row.blob_key):
        metrics.uplink("tarball", "hit")
        return row.blob_key
    return await _fetch_tarball(ctx, upstream, row)


async def version_document(ctx: AppContext, name: str, spec: str) -> tuple[bytes, bool]:
    """`GET /{name}/{version-or-tag}` of a proxied name: (JSON of that version, stale).

    A version or tag the cached document lacks refetches it once (a release upstream
    within the TTL), bounded per name by `uplink_refetch_interval_seconds`; still missing: 404."""
    doc = await packument(ctx, name, abbreviated=False, gzip=False)
    found = await anyio.to_thread.run_sync(_version_of, doc.body, spec)
    if found is None and not doc.stale and await _refetch(ctx, _proxy_for(ctx, name), name):
        doc = await packument(ctx, name, abbreviated=False, gzip=False)
        found = await anyio.to_thread.run_sync(_version_of, doc.body, spec)
    if found is None:
        raise PackageNotFound(f"{name}@{spec}")
    return found, doc.stale


def _version_of(body: bytes, spec: str) -> bytes | None:
    doc: dict[str, Any] = orjson.loads(body)
    version = (doc.get("dist-tags") or {}).get(spec, spec)
    found = (doc.get("versions") or {}).get(version)
    return orjson.dumps(found) if isinstance(found, dict) else None


# name -> when this process last refetched it for a missing version (time.monotonic()).
_refetched: dict[str, float] = {}


async def _refetch(ctx: AppContext, upstream: Upstream, name: str) -> bool:
    """Refetch `name` for a version or tag its cached copy lacks. False without asking the
    uplink if this process refetched the name less than `uplink_refetch_interval_seconds`
    ago: asking for versions that do not exist cannot become a stream of upstream requests."""
    now = time.monotonic()
    last = _refetched.get(name)
    if last is not None and now - last < ctx.settings.uplink_refetch_interval_seconds:
        metrics.uplink("packument", "refetch-skipped")
        return False
    if len(_refetched) > 10_000:  # bounded; forgetting only allows one more refetch
        _refetched.clear()
    _refetched[name] = now
    await _refresh(ctx, upstream, name, await _cached_outside(ctx, name), force=True)
    return True


async def cached_copy(ctx: AppContext, name: str) -> ProxiedCopy | None:
    """The stored copy of a proxied name for the read fast path (None: none stored, built for
    another public URL, or a private name). The caller knows `name` has no local record."""
    if upstream_of(ctx) is None or is_private(ctx, name):
        return None
    async with ctx.db.read() as session:
        row = (
            await session.execute(
                select(UplinkPackage.etag, UplinkPackage.base_url, UplinkPackage.checked_at).where(
                    UplinkPackage.name == name
                )
            )
        ).first()
    if row is None or row.base_url != ctx.settings.base_url:
        return None
    ttl = timedelta(seconds=ctx.settings.uplink_ttl_seconds)
    return ProxiedCopy(forms={}, etag=row.etag, fresh_until=row.checked_at + ttl)


async def copy_form(
    ctx: AppContext, name: str, copy: ProxiedCopy, key: tuple[bool, bool]
) -> bytes | None:
    """One stored form of `copy` (loaded once; None if the stored document changed)."""
    body = copy.forms.get(key)
    if body is None:
        async with ctx.db.read() as session:
            row = (
                await session.execute(
                    select(UplinkPackage.etag, _FORMS[key]).where(UplinkPackage.name == name)
                )
            ).first()
        if row is None or row[0] != copy.etag:
            return None
        body = copy.forms[key] = row[1]
    return body


def copy_etag(copy: ProxiedCopy, abbreviated: bool) -> str:
    """The ETag of a form, the same the app's path (`packument`) gives."""
    return f'"u{copy.etag}-c"' if abbreviated else f'"u{copy.etag}"'


async def _fetch_tarball(ctx: AppContext, upstream: Upstream, row: UplinkVersion) -> str:
    try:
        data = await upstream.tarball(row.package_name, row.filename)
    except UplinkDown as exc:
        metrics.uplink("tarball", "error")
        raise UplinkUnavailable(
            f"{row.package_name}@{row.version} is not cached and the uplink is unreachable ({exc})."
        ) from exc
    if not await anyio.to_thread.run_sync(matches_integrity, data, row.integrity, row.shasum):
        upstream.failed()
        metrics.uplink("tarball", "error")
        raise UplinkBadTarball(
            f"The uplink sent a tarball for {row.package_name}@{row.version} that does not "
            "match the integrity in its packument; it was not kept."
        )
    digest = hashlib.sha512(data).hexdigest()
    key = f"uplink/{digest[:2]}/{digest}.tgz"
    await ctx.blobs.put(key, data)
    async with ctx.db.write() as session:
        stored = await _version(session, row.package_name, row.version)
        if stored is not None:
            stored.blob_key = key
    metrics.uplink("tarball", "miss")
    return key


def _fresh(ctx: AppContext, cached: UplinkPackage) -> bool:
    age = ctx.clock.now() - cached.checked_at
    return cached.base_url == ctx.settings.base_url and age < timedelta(
        seconds=ctx.settings.uplink_ttl_seconds
    )


_locks: dict[str, asyncio.Lock] = {}


async def _refresh(
    ctx: AppContext,
    upstream: Upstream,
    name: str,
    cached: UplinkPackage | None,
    *,
    force: bool = False,
) -> tuple[UplinkPackage, bool]:
    """Revalidate or fetch; returns (document row, stale). Concurrent callers share one fetch."""
    if len(_locks) > 10_000:  # bound the table; a lost lock only costs a duplicate fetch
        _locks.clear()
    lock = _locks.setdefault(name, asyncio.Lock())
    seen = cached.checked_at if cached is not None else None
    async with lock:
        if cached is not None or force:
            # Another request may have refreshed it while we waited for the lock.
            latest = await _cached_outside(ctx, name)
            if latest is not None and (seen is None or latest.checked_at > seen):
                return latest, False
        try:
            return await _revalidate(ctx, upstream, name, cached), False
        except UplinkDown as exc:
            metrics.uplink("packument", "error")
            if cached is None:
                raise UplinkUnavailable(
                    f"{name} is not cached and the uplink is unreachable ({exc})."
                ) from exc
            log.warning("uplink unreachable, serving %s stale: %s", name, exc)
            metrics.uplink("packument", "stale")
            return cached, True


async def _revalidate(
    ctx: AppContext, upstream: Upstream, name: str, cached: UplinkPackage | None
) -> UplinkPackage:
    usable = cached is not None and cached.base_url == ctx.settings.base_url
    answer = await upstream.packument(
        name,
        cached.upstream_etag if usable and cached else None,
        cached.upstream_last_modified if usable and cached else None,
    )
    if isinstance(answer, NotModified) and cached is not None:
        metrics.uplink("packument", "revalidated")
        async with ctx.db.write() as session:
            row = await _cached(session, name)
            if row is not None:
                row.checked_at = ctx.clock.now()
                # Not marked changed: a fast path holding the old copy finds it past its
                # TTL and reloads it (a 304 happens at every TTL; keep other caches quiet).
                return row
        return cached
    if isinstance(answer, Missing) or not isinstance(answer, Fetched):
        # Removed upstream (or never there): forget it, so it is not served from the cache.
        await _forget(ctx, name)
        metrics.uplink("packument", "miss")
        raise PackageNotFound(name)
    try:
        doc = await anyio.to_thread.run_sync(process, answer.body, name, ctx.settings.base_url)
    except GarbageDocument as exc:
        upstream.failed()
        raise UplinkDown(f"unusable packument: {exc}") from exc
    metrics.uplink("packument", "miss")
    return await _store(ctx, name, doc, answer)


async def _store(
    ctx: AppContext, name: str, doc: ProcessedPackument, answer: Fetched
) -> UplinkPackage:
    """Replace the cached document and its version list; versions gone upstream go here."""
    for attempt in range(2):
        try:
            async with ctx.db.write() as session:
                row = await _cached(session, name)
                if row is None:
                    row = UplinkPackage(name=name)
                    session.add(row)
                row.packument_full, row.packument_abbrev = doc.full, doc.abbrev
                row.packument_full_gz, row.packument_abbrev_gz = doc.full_gz, doc.abbrev_gz
                row.etag = doc.etag
                row.upstream_etag, row.upstream_last_modified = answer.etag, answer.last_modified
                row.base_url = ctx.settings.base_url
                row.checked_at = ctx.clock.now()
                await _sync_versions(session, name, doc)
                mark_changed(session, name)
                return row
        except IntegrityError:
            if attempt:  # another process stored it at the same moment: theirs is as good
                raise
    raise AssertionError("unreachable")


async def _sync_versions(session: AsyncSession, name: str, doc: ProcessedPackument) -> None:
    existing = {
        v.version: v
        for v in (
            await session.execute(select(UplinkVersion).where(UplinkVersion.package_name == name))
        ).scalars()
    }
    wanted = {info.version: info for info in doc.versions}
    for number, row in existing.items():
        info = wanted.get(number)
        if info is None or (info.integrity, info.shasum) != (row.integrity, row.shasum):
            # Unpublished or replaced upstream: a cached tarball must not outlive its entry.
            await session.delete(row)
    await session.flush()
    for number, info in wanted.items():
        kept = existing.get(number)
        if kept is not None and (info.integrity, info.shasum) == (kept.integrity, kept.shasum):
            continue
        session.add(
            UplinkVersion(
                package_name=name,
                version=number,
                filename=info.filename,
                integrity=info.integrity,
                shasum=info.shasum,
            )
        )


async def _forget(ctx: AppContext, name: str) -> None:
    async with ctx.db.write() as session:
        await session.execute(delete(UplinkVersion).where(UplinkVersion.package_name == name))
        await session.execute(delete(UplinkPackage).where(UplinkPackage.name == name))
        mark_changed(session, name)


async def _cached(session: AsyncSession, name: str) -> UplinkPackage | None:
    found = await session.execute(select(UplinkPackage).where(UplinkPackage.name == name))
    return found.scalar_one_or_none()


async def _cached_outside(ctx: AppContext, name: str) -> UplinkPackage | None:
    async with ctx.db.read() as session:
        return await _cached(session, name)


async def _version(session: AsyncSession, name: str, version: str) -> UplinkVersion | None:
    found = await session.execute(
        select(UplinkVersion).where(
            UplinkVersion.package_name == name, UplinkVersion.version == version
        )
    )
    return found.scalar_one_or_none()
