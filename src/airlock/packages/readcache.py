"""An in-process cache of what the hot read paths serve: packument bytes and package facts.

Freshness rules (docs/performance.md):
- A write committed by this process drops the package's entry at commit (the next read
  loads the new state), and bumps a counter in a small shared file under the data folder,
  so every worker process of the same `airlock serve` revalidates before its next read.
- Other instances (other machines on the same database) are seen within
  `read_cache_seconds`: a read that finds the last revalidation older than that first
  revalidates every entry with one batched query on (name, rev, etag). Every change to a
  package (versions, tags, access, maintainers) goes through `service.touch`, which bumps
  `rev`; a rebuild for a new public URL changes `etag`.
- Only packument documents, package facts and the published version -> blob key map are
  cached. The version-status endpoint and staged-publishing decisions never read it.
- A name with no local record (a cached miss) may carry its uplink packument
  (`ProxiedCopy`, docs/uplink.md). Creating the package row drops the miss entry like any
  other change (`service.create_package` marks it), here at once and on other instances
  at their next revalidation, so a hosted name is never answered from an uplink copy.
  Revalidation also drops a copy whose stored uplink document changed meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
import mmap
import os
import struct
import time
import uuid
import zlib
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from airlock.authz import visibility
from airlock.authz.principal import Principal
from airlock.db.engine import Database
from airlock.packages.models import Maintainer, Package, Version
from airlock.packages.packument import compress
from airlock.uplink.models import UplinkPackage

_FORMS = {
    (False, False): Package.packument_full,
    (False, True): Package.packument_full_gz,
    (True, False): Package.packument_abbrev,
    (True, True): Package.packument_abbrev_gz,
}
_BATCH = 500


def _gunzip(body: bytes) -> bytes:
    return zlib.decompress(body, wbits=31)  # a gzip stream (header and trailer checked)


@dataclass(frozen=True)
class PackageFacts:
    """What the visibility rule needs about a package (cached with its bytes)."""

    name: str
    access: str  # public | restricted
    maintainer_ids: frozenset[uuid.UUID]
    published: bool  # something public to show (a stored packument exists)


def can_read(principal: Principal, facts: PackageFacts) -> bool:
    """The cached paths' read decision: the one visibility rule (authz.visibility) on the
    cached facts; a package with nothing published is seen only by its maintainers."""
    rule_facts = visibility.PackageFacts.of(facts.name, facts.access, facts.maintainer_ids)
    if not facts.published:
        return visibility.maintains(principal, rule_facts)
    return visibility.can_see(principal, rule_facts)


@dataclass(frozen=True)
class ProxiedCopy:
    """The stored uplink packument of a name with no local record (uplink.service builds it)."""

    forms: dict[tuple[bool, bool], bytes]  # (abbreviated, gzip) -> stored bytes
    etag: str  # of the processed document (uplink_packages.etag)
    fresh_until: datetime  # checked_at + uplink_ttl_seconds; later the app revalidates


@dataclass
class Entry:
    package_id: uuid.UUID | None  # None: no such package (a cached miss)
    rev: int
    etag: str | None
    facts: PackageFacts | None
    docs: dict[tuple[bool, bool], bytes] = field(default_factory=dict)
    # version -> blob key of its tarball, published versions only; loaded on first use.
    tarballs: dict[str, str] | None = None
    # blob key -> local file path (filesystem store), filled by the tarball fast path.
    paths: dict[str, str] = field(default_factory=dict)
    # gzip forms being compressed (large documents are stored without one), per form.
    compressing: dict[tuple[bool, bool], asyncio.Future[bytes]] = field(default_factory=dict)
    # Misses only: the uplink copy the fast path serves while fresh.
    uplink: ProxiedCopy | None = None


class ChangeCounter:
    """A counter in a shared file: writers bump it, readers compare it (a memory read)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            if os.fstat(fd).st_size < 8:
                os.ftruncate(fd, 8)
            self._map = mmap.mmap(fd, 8)
        finally:
            os.close(fd)

    def value(self) -> int:
        return int(struct.unpack_from("<Q", self._map, 0)[0])

    def bump(self) -> None:
        # A lost increment between two processes is harmless: any change of the value
        # makes readers revalidate, and the value changes whichever write lands last.
        struct.pack_into("<Q", self._map, 0, (self.value() + 1) % 2**64)


class ReadCache:
    def __init__(
        self, db: Database, *, max_age: float, max_entries: int, counter: ChangeCounter | None
    ) -> None:
        self.db = db
        self.max_age = max_age
        self.max_entries = max_entries
        self.counter = counter
        self._entries: dict[str, Entry] = {}
        self._validated_at = time.monotonic()
        self._seen_counter = counter.value() if counter else 0
        self._revalidating: asyncio.Future[None] | None = None
        # Bumped by every local change: a load that overlapped one is not kept.
        self._generation = 0
        db.change_listeners.append(self.changed)

    # --- freshness ------------------------------------------------------------------

    def changed(self, names: Iterable[str]) -> None:
        """Called after a write transaction committed changes to these packages."""
        self._generation += 1
        for name in names:
            self._entries.pop(name, None)
        if self.counter is not None:
            # Our own readers revalidate too (cheap), so a sibling's bump is never hidden.
            self.counter.bump()

    def _stale(self) -> bool:
        if time.monotonic() - self._validated_at > self.max_age:
            return True
        return self.counter is not None and self.counter.value() != self._seen_counter

    async def _fresh(self) -> None:
        if not self._stale():
            return
        if self._revalidating is not None:
            await asyncio.shield(self._revalidating)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._revalidating = future
        try:
            await self._revalidate()
            future.set_result(None)
        except BaseException as exc:
            # Could not check: forget everything rather than serve unchecked entries.
            self._entries.clear()
            future.set_exception(exc)
            raise
        finally:
            self._revalidating = None
            with contextlib.suppress(BaseException):
                future.exception()

    async def _revalidate(self) -> None:
        started = time.monotonic()
        seen = self.counter.value() if self.counter else 0
        names = list(self._entries)
        current: dict[str, tuple[int, str | None]] = {}
        async with self.db.read() as session:
            for i in range(0, len(names), _BATCH):
                rows = await session.execute(
                    select(Package.name, Package.rev, Package.etag).where(
                        Package.name.in_(names[i : i + _BATCH])
                    )
                )
                current.update({n: (r, e) for n, r, e in rows.all()})
            proxied = [n for n, e in self._entries.items() if e.uplink is not None]
            uplink: dict[str, str] = {}
            for i in range(0, len(proxied), _BATCH):
                copies = await session.execute(
                    select(UplinkPackage.name, UplinkPackage.etag).where(
                        UplinkPackage.name.in_(proxied[i : i + _BATCH])
                    )
                )
                uplink.update({n: e for n, e in copies.all()})
        for name in names:
            entry = self._entries.get(name)
            if entry is None:
                continue
            now = current.get(name)
            if entry.package_id is None:
                if now is not None:
                    self._entries.pop(name, None)
                elif entry.uplink is not None and uplink.get(name) != entry.uplink.etag:
                    entry.uplink = None  # refreshed or dropped by another process
            elif now != (entry.rev, entry.etag):
                self._entries.pop(name, None)
        self._validated_at = started
        self._seen_counter = seen

    # --- lookups --------------------------------------------------------------------

    async def entry(self, name: str) -> Entry:
        await self._fresh()
        entry = self._entries.get(name)
        if entry is None:
            generation = self._generation
            entry = await self._load(name)
            if generation == self._generation:
                if len(self._entries) >= self.max_entries:
                    self._entries.clear()
                self._entries[name] = entry
        return entry

    def is_current(self, name: str, entry: Entry) -> bool:
        """Whether `entry` is still the cached one (no write dropped it meanwhile)."""
        return self._entries.get(name) is entry

    async def _load(self, name: str) -> Entry:
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(Package.id, Package.rev, Package.etag, Package.access).where(
                        Package.name == name
                    )
                )
            ).first()
            if row is None:
                return Entry(package_id=None, rev=0, etag=None, facts=None)
            package_id, rev, etag, access = row
            ids = (
                await session.execute(
                    select(Maintainer.user_id).where(Maintainer.package_id == package_id)
                )
            ).scalars()
            facts = PackageFacts(
                name=name, access=access, maintainer_ids=frozenset(ids), published=etag is not None
            )
        return Entry(package_id=package_id, rev=rev, etag=etag, facts=facts)

    async def document(
        self, name: str, entry: Entry, abbreviated: bool, gzip: bool
    ) -> bytes | None:
        """One stored form of the packument (None: nothing published, or the entry is
        outdated; the caller then lets the slow path read the database).

        Memory: when the gzip form is stored (documents up to packument.GZIP_STORED_MAX),
        only that form is kept, and a plain read decompresses it (microseconds for such a
        document; npm always asks for gzip). Large documents are stored without their gzip
        form: their plain bytes are kept, and the first gzip read compresses them in a
        thread, once per revision; later reads get the cached result."""
        key = (abbreviated, gzip)
        body = entry.docs.get(key)
        if body is not None or entry.package_id is None or entry.etag is None:
            return body
        packed = entry.docs.get((abbreviated, True))
        if not gzip and packed is not None:
            return _gunzip(packed)
        async with self.db.read() as session:
            row = (
                await session.execute(
                    select(
                        Package.etag, _FORMS[(abbreviated, False)], _FORMS[(abbreviated, True)]
                    ).where(Package.id == entry.package_id)
                )
            ).first()
        # Only keep bytes of the revision the entry describes. If a write landed in
        # between (another instance, or the start-up rebuild for a new public URL),
        # forget the entry: the caller answers from the database this once.
        if row is None or row[0] != entry.etag or row[1] is None:
            if self._entries.get(name) is entry:
                del self._entries[name]
            return None
        plain, packed = row[1], row[2]
        if packed is not None:
            entry.docs[(abbreviated, True)] = packed
            return packed if gzip else plain
        entry.docs[(abbreviated, False)] = plain
        if not gzip:
            return plain
        pending = entry.compressing.get(key)
        if pending is None:
            loop = asyncio.get_running_loop()
            pending = entry.compressing[key] = loop.run_in_executor(None, compress, plain)
        try:
            body = await asyncio.shield(pending)
        finally:
            if pending.done():
                entry.compressing.pop(key, None)
        entry.docs[key] = body
        return body

    async def tarball_key(self, entry: Entry, version: str) -> str | None:
        if entry.package_id is None:
            return None
        if entry.tarballs is None:
            async with self.db.read() as session:
                # The state is checked here, not in SQL: given `state = 'published'`, SQLite
                # picks the (unselective) state index over the package's and reads every
                # version row of the registry (40 ms instead of 0.1 ms at 8,000 versions).
                rows = await session.execute(
                    select(Version.version, Version.blob_key, Version.state).where(
                        Version.package_id == entry.package_id
                    )
                )
                entry.tarballs = {
                    v: k for v, k, state in rows.all() if k is not None and state == "published"
                }
        return entry.tarballs.get(version)
