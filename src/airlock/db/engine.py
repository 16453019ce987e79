"""Engine and session factory. SQLite gets WAL and a busy timeout so processes can share it.

On SQLite, write transactions run on their own engine whose connections execute each
statement on the event loop (db/inline_sqlite.py), under a per-process asyncio lock and a
cross-process file lock (db/writelock.py); reads use the threaded aiosqlite driver.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import Any

from sqlalchemy import event, make_url
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from airlock.db import inline_sqlite
from airlock.db.writelock import FileWriteLock
from airlock.errors import BadRequest

# A NUL character, raw or as the JSON escape \u0000 (an odd number of backslashes before it;
# "\\u0000" is an escaped backslash followed by text).
_NUL = re.compile(r"\x00|(?:^|[^\\])(?:\\\\)*\\u0000")

# session.info key: names of packages a write transaction changed (see packages.service.touch).
CHANGED_PACKAGES = "airlock_changed_packages"


def mark_changed(session: AsyncSession, name: str) -> None:
    """Tell read caches, once this transaction commits, that `name` changed."""
    session.info.setdefault(CHANGED_PACKAGES, set()).add(name)


_SQLITE_TIMEOUT = 30
# SQLite connections per engine and process (a read engine and an inline write engine):
# SQLAlchemy's default pool (5 kept + 10 overflow) opened up to 15 per engine under 64
# concurrent reads, each with its own page cache and, for aiosqlite, its own thread. Two
# are kept (the read cache answers almost every hot read, and a WAL reader never waits
# for a lock); bursts open up to 6 more, closed when returned; beyond that requests wait.
_SQLITE_POOL = {"pool_size": 2, "max_overflow": 6}
# Per connection (PRAGMA cache_size, in KiB; SQLite's default is 2,000 KiB). The hot pages
# stay in the OS page cache, which every connection and process shares.
_SQLITE_CACHE_KIB = 512


def sqlite_path(url: str) -> str | None:
    """The database file of a SQLite URL (None: in memory, or not SQLite)."""
    if not url.startswith("sqlite"):
        return None
    database = make_url(url).database
    return database if database and database != ":memory:" else None


def make_engine(url: str, *, inline: bool = False) -> AsyncEngine:
    """`inline`: SQLite connections that run statements on the calling thread (writes)."""
    kwargs: dict[str, Any] = {}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"timeout": _SQLITE_TIMEOUT}
        path = sqlite_path(url)
        if path is not None:  # in memory: SQLAlchemy's own single-connection pool
            kwargs.update(_SQLITE_POOL)
        if inline and path is not None:
            kwargs["async_creator"] = inline_sqlite.creator(path, _SQLITE_TIMEOUT)
    else:
        kwargs["pool_pre_ping"] = True
        kwargs["pool_size"] = 10
    engine = create_async_engine(url, **kwargs)
    event.listen(engine.sync_engine, "before_cursor_execute", _refuse_nul)
    if url.startswith("sqlite"):
        _configure_sqlite(engine)
    return engine


def _refuse_nul(
    _conn: Any, _cursor: Any, _statement: str, params: Any, _context: Any, _many: bool
) -> None:
    """400 for any text with a NUL character, whatever route or header it came from.

    PostgreSQL cannot store NUL in text or jsonb (a driver error, so a 500), SQLite stores
    it silently; one check here, in front of every query, gives both the same answer.
    """
    stack = [params]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if ("\x00" in value or "u0000" in value) and _NUL.search(value):
                raise BadRequest("Text containing a NUL character (\\u0000) is not accepted.")
        elif isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, (list, tuple)):
            stack.extend(value)


def _configure_sqlite(engine: AsyncEngine) -> None:
    sync_engine = engine.sync_engine

    @event.listens_for(sync_engine, "connect")
    def _on_connect(dbapi_conn: Any, _record: Any) -> None:
        # Let SQLAlchemy, not the driver, decide when a transaction begins, so that
        # BEGIN IMMEDIATE below takes the write lock up front (no upgrade deadlocks
        # between two Airlock processes sharing one file).
        dbapi_conn.isolation_level = None
        cur = dbapi_conn.cursor()
        cur.execute("PRAGMA journal_mode=WAL")
        cur.execute("PRAGMA foreign_keys=ON")
        cur.execute("PRAGMA busy_timeout=30000")
        cur.execute("PRAGMA synchronous=NORMAL")
        cur.execute(f"PRAGMA cache_size=-{_SQLITE_CACHE_KIB}")
        cur.close()

    @event.listens_for(sync_engine, "begin")
    def _on_begin(conn: Any) -> None:
        write = conn.get_execution_options().get("airlock_write", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if write else "BEGIN")


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, expire_on_commit=False)


class Database:
    """Owns the engine; hands out read and write units of work."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessions = make_sessionmaker(self.engine)
        self.is_sqlite = url.startswith("sqlite")
        self._write_lock = asyncio.Lock() if self.is_sqlite else None
        self.write_engine = self.engine
        self._write_sessions = self.sessions
        self._file_lock: FileWriteLock | None = None
        path = sqlite_path(url)
        if path is not None:
            self.write_engine = make_engine(url, inline=True)
            self._write_sessions = make_sessionmaker(self.write_engine)
            self._file_lock = FileWriteLock(f"{path}.writelock")
        # Called after a write commits with the package names it changed (read caches).
        self.change_listeners: list[Callable[[Iterable[str]], None]] = []

    @asynccontextmanager
    async def read(self, *, point: bool = False) -> AsyncIterator[AsyncSession]:
        """A read-only unit of work. `point`: a few indexed lookups (the checks in front
        of a write); on SQLite they run inline like writes (a WAL reader never waits for
        a lock), which saves the driver's thread hops. Anything that may read many rows
        keeps the default, so it cannot hold up the event loop."""
        async with (self._write_sessions if point else self.sessions)() as session:
            yield session

    @asynccontextmanager
    async def write(self) -> AsyncIterator[AsyncSession]:
        """A transaction that commits on success and rolls back on any exception."""
        if self._write_lock is None:
            async with self._write() as session:
                yield session
            return
        # SQLite has one writer at a time. Queue this process's writers here, and the
        # processes on the file lock: waiting in SQLite's busy handler sleeps in growing
        # steps (up to 100 ms), which under concurrent publishes left the server mostly
        # idle (docs/performance.md).
        async with self._write_lock:
            if self._file_lock is None:
                async with self._write() as session:
                    yield session
                return
            async with self._file_lock.hold(), self._write() as session:
                yield session

    @asynccontextmanager
    async def _write(self) -> AsyncIterator[AsyncSession]:
        async with self._write_sessions() as session:
            # On SQLite this makes the transaction start with BEGIN IMMEDIATE.
            await session.connection(execution_options={"airlock_write": True})
            try:
                yield session
                await session.commit()
            except BaseException:
                session.info.pop(CHANGED_PACKAGES, None)
                await session.rollback()
                raise
            changed = session.info.pop(CHANGED_PACKAGES, None)
            if changed:
                for listener in self.change_listeners:
                    listener(changed)

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.write_engine is not self.engine:
            await self.write_engine.dispose()
        if self._file_lock is not None:
            self._file_lock.close()
