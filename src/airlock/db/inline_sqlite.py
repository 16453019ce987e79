"""An aiosqlite-shaped connection that runs each statement right away, on the caller's thread.

SQLAlchemy's aiosqlite dialect hands every statement to a per-connection thread and waits
for its answer. A publish runs about twenty statements while it holds the database's
write lock; each round trip wakes that thread, waits for the GIL (up to
`sys.getswitchinterval()`, 5 ms, while the event loop runs other requests' Python code)
and then waits again for the loop to pick the answer up. Under concurrent publishes those
hops, not SQLite, were most of the time the lock was held (docs/performance.md).

Write transactions use this connection instead (db/engine.py): a statement on a local
SQLite file takes microseconds, so running it on the event loop costs less than the hop.
It never waits for another writer there: `Database.write` takes the cross-process write
lock (db/writelock.py) before `BEGIN IMMEDIATE`, so SQLite's busy handler is not reached
by Airlock's own processes. Reads keep the threaded driver (they may be long and need no
lock).

Only what SQLAlchemy's aiosqlite adapter calls is provided.
"""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import Callable, Iterable, Sequence
from typing import Any


class _ImmediateQueue:
    """Stands in for aiosqlite's request queue: runs the request at once (the adapter's
    isolation_level setter puts a function and a future on it, then awaits the future)."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn

    def put_nowait(self, item: tuple[asyncio.Future[Any] | None, Callable[[], Any]]) -> None:
        future, function = item
        try:
            result = function()
        except BaseException as exc:  # handed to the awaiting caller, as aiosqlite does
            if future is not None:
                future.set_exception(exc)
            return
        if future is not None:
            future.set_result(result)


class InlineCursor:
    def __init__(self, cursor: sqlite3.Cursor) -> None:
        self._cursor = cursor

    async def __aenter__(self) -> InlineCursor:
        return self

    async def __aexit__(self, *_exc: object) -> None:
        self._cursor.close()

    async def execute(self, sql: str, parameters: Any = None) -> InlineCursor:
        if parameters is None:
            self._cursor.execute(sql)
        else:
            self._cursor.execute(sql, parameters)
        return self

    async def executemany(self, sql: str, parameters: Iterable[Any]) -> InlineCursor:
        self._cursor.executemany(sql, parameters)
        return self

    async def fetchone(self) -> Any:
        return self._cursor.fetchone()

    async def fetchmany(self, size: int | None = None) -> list[Any]:
        return self._cursor.fetchmany(size if size is not None else self._cursor.arraysize)

    async def fetchall(self) -> list[Any]:
        return self._cursor.fetchall()

    async def close(self) -> None:
        self._cursor.close()

    async def setinputsizes(self, *_sizes: Any) -> None:
        return None

    @property
    def description(self) -> Any:
        return self._cursor.description

    @property
    def rowcount(self) -> int:
        return self._cursor.rowcount

    @property
    def lastrowid(self) -> int | None:
        return self._cursor.lastrowid

    @property
    def arraysize(self) -> int:
        return self._cursor.arraysize

    @arraysize.setter
    def arraysize(self, value: int) -> None:
        self._cursor.arraysize = value


class InlineConnection:
    def __init__(self, conn: sqlite3.Connection) -> None:
        self._conn = conn
        self._connection: sqlite3.Connection | None = conn  # the adapter tests this
        self._tx = _ImmediateQueue(conn)

    @property
    def isolation_level(self) -> str | None:
        return self._conn.isolation_level

    def cursor(self) -> InlineCursor:
        return InlineCursor(self._conn.cursor())

    async def execute(self, sql: str, parameters: Sequence[Any] | None = None) -> InlineCursor:
        cursor = self.cursor()
        return await cursor.execute(sql, parameters)

    async def create_function(self, *args: Any, **kw: Any) -> None:
        self._conn.create_function(*args, **kw)

    async def commit(self) -> None:
        self._conn.commit()

    async def rollback(self) -> None:
        self._conn.rollback()

    async def close(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()

    def stop(self) -> None:
        if self._connection is not None:
            self._connection = None
            self._conn.close()


def creator(path: str, timeout: float) -> Callable[[], Any]:
    """`async_creator` for create_async_engine: a new inline connection to `path`."""

    async def connect() -> InlineConnection:
        # Used only from the event loop thread that opened it, but SQLAlchemy's pool may
        # close it from another (engine disposal at shutdown).
        conn = sqlite3.connect(path, timeout=timeout, check_same_thread=False)
        return InlineConnection(conn)

    return connect
