"""Test databases: a fresh SQLite file or a fresh PostgreSQL database per server/app.

AIRLOCK_TEST_DB selects the backend (sqlite by default, or postgresql). With CI set, an
unreachable PostgreSQL is a failure, never a skip.
"""

from __future__ import annotations

import asyncio
import os
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


class TestDatabase:
    """A throwaway database; `url` is what Airlock's --database-url takes."""

    def __init__(self, tmp: Path) -> None:
        self.name: str | None = None
        if BACKEND == "postgresql":
            self.name = f"airlock_t_{uuid.uuid4().hex[:12]}"
            asyncio.run(_pg_exec(f'CREATE DATABASE "{self.name}"'))
            base = PG_ADMIN_URL.rsplit("/", 1)[0]
            self.url = f"{base}/{self.name}"
        else:
            self.url = f"sqlite:///{tmp / 'airlock.db'}"

    def drop(self) -> None:
        if self.name:
            asyncio.run(_pg_exec(f'DROP DATABASE IF EXISTS "{self.name}" WITH (FORCE)'))
