"""Test databases: a fresh SQLite file or a fresh PostgreSQL database per server/app.

AIRLOCK_TEST_DB selects the backend (sqlite by default, or postgresql). With CI set, an
unreachable PostgreSQL is a failure, never a skip.

Each fresh database starts as a copy of one migrated template per test process (a file
copy for SQLite, `CREATE DATABASE ... TEMPLATE` for PostgreSQL): running the migrations
for every test cost 1.4 s (PostgreSQL) to 5.8 s (SQLite, busy machine) each, most of the
suite's time. The servers and apps still run `upgrade` on start; on a copy it finds the
schema at head. `TestDatabase(..., migrated=False)` gives an empty one.

On PostgreSQL a migrated database is reused within its test process: `drop()` empties
every table (TRUNCATE, after ending whatever connections are left) and keeps the database
for the next test. CREATE DATABASE from the template and DROP DATABASE cost 0.9 s per test
together on a busy machine, TRUNCATE a few tens of ms. A database that cannot be emptied
is dropped instead.
"""

from __future__ import annotations

import asyncio
import atexit
import os
import shutil
import sqlite3
import tempfile
import uuid
from pathlib import Path

import pytest

BACKEND = os.environ.get("AIRLOCK_TEST_DB", "sqlite")
PG_ADMIN_URL = os.environ.get(
    "AIRLOCK_TEST_PG_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


async def _pg_exec(sql: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(PG_ADMIN_URL, timeout=5)
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


def pg_available() -> str | None:
    """None if PostgreSQL answers, else the reason."""
    try:
        asyncio.run(_pg_exec("SELECT 1"))
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    return None


def require_backend() -> None:
    if BACKEND != "postgresql":
        return
    reason = pg_available()
    if reason is None:
        return
    message = f"PostgreSQL is not reachable at {PG_ADMIN_URL}: {reason}"
    if os.environ.get("CI"):
        pytest.fail(message, pytrace=False)
    pytest.skip(message)


def _pg_url(name: str) -> str:
    return f"{PG_ADMIN_URL.rsplit('/', 1)[0]}/{name}"


def _migrate(url: str) -> None:
    from airlock.db.migrate import upgrade
    from airlock.settings import normalise_database_url

    upgrade(normalise_database_url(url))


_template: str | None = None


def _template_source() -> str:
    """This process's migrated template: a SQLite file path or a PostgreSQL database name."""
    global _template
    if _template is not None:
        return _template
    if BACKEND == "postgresql":
        name = f"airlock_tpl_{uuid.uuid4().hex[:12]}"
        asyncio.run(_pg_exec(f'CREATE DATABASE "{name}"'))
        atexit.register(
            lambda: asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        )
        _migrate(_pg_url(name))
        _template = name
    else:
        folder = Path(tempfile.mkdtemp(prefix="airlock-tpl-"))
        atexit.register(shutil.rmtree, folder, True)
        path = folder / "template.db"
        _migrate(f"sqlite:///{path}")
        # Fold the WAL into the main file so that a plain copy of it is the whole database.
        with sqlite3.connect(path) as conn:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            conn.execute("PRAGMA journal_mode=DELETE")
        _template = str(path)
    return _template


# Emptied, migrated PostgreSQL databases of this test process, ready for the next test.
_reusable: list[str] = []


def _drop_reusable() -> None:
    for name in _reusable:
        asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


atexit.register(_drop_reusable)


async def _pg_empty(name: str) -> None:
    """End the connections a test left (a killed server's), then empty every table but
    Alembic's: the database is then as the template made it."""
    import asyncpg

    conn = await asyncpg.connect(_pg_url(name), timeout=5)
    try:
        await conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        tables = await conn.fetch(
            "SELECT tablename FROM pg_tables WHERE schemaname = 'public'"
            " AND tablename <> 'alembic_version'"
        )
        await conn.execute("SET lock_timeout = '5s'")
        names = ", ".join(f'public."{row[0]}"' for row in tables)
        await conn.execute(f"TRUNCATE {names} RESTART IDENTITY CASCADE")
    finally:
        await conn.close()


class TestDatabase:
    """A throwaway database; `url` is what Airlock's --database-url takes."""

    def __init__(self, tmp: Path, migrated: bool = True) -> None:
        self.name: str | None = None
        self.migrated = migrated
        template = _template_source() if migrated else None
        if BACKEND == "postgresql":
            if template and _reusable:
                self.name = _reusable.pop()
            else:
                self.name = f"airlock_t_{uuid.uuid4().hex[:12]}"
                copy = f' TEMPLATE "{template}"' if template else ""
                asyncio.run(_pg_exec(f'CREATE DATABASE "{self.name}"{copy}'))
            self.url = _pg_url(self.name)
        else:
            path = tmp / "airlock.db"
            if template:
                path.parent.mkdir(parents=True, exist_ok=True)
                shutil.copyfile(template, path)
            self.url = f"sqlite:///{path}"

    def drop(self) -> None:
        if not self.name:
            return
        name, self.name = self.name, None
        if self.migrated:
            try:
                asyncio.run(_pg_empty(name))
            except Exception:  # anything odd (a lock held on): throw this one away instead
                pass
            else:
                _reusable.append(name)
                return
        asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
