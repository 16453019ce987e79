"""Shared fixtures: throwaway databases, live servers, the pinned npm CLI, in-process apps."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

from airlock.bootstrap import build_context
from airlock.clock import FrozenClock
from airlock.context import AppContext
from airlock.db.migrate import upgrade
from airlock.settings import Settings, normalise_database_url
from airlock.web.app import create_app
from tests.support.databases import BACKEND, TestDatabase, require_backend
from tests.support.npm import Npm, ensure_npm
from tests.support.s3 import STORAGE, MotoServer
from tests.support.server import LiveServer


def pytest_report_header() -> str:
    return f"airlock database backend: {BACKEND}, blob storage: {STORAGE}"


@pytest.fixture
def database(tmp_path: Path) -> Iterator[TestDatabase]:
    require_backend()
    db = TestDatabase(tmp_path)
    try:
        yield db
    finally:
        db.drop()


ServerFactory = Callable[..., LiveServer]


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoServer]:
    """moto's S3 server on 127.0.0.1, one per test worker."""
    with MotoServer() as server:
        yield server


@pytest.fixture
def storage_env(request: pytest.FixtureRequest) -> dict[str, str]:
    """AIRLOCK_TEST_STORAGE=s3: live servers store blobs in a fresh bucket of moto."""
    if STORAGE != "s3":
        return {}
    moto: MotoServer = request.getfixturevalue("moto")
    return moto.env(moto.create_bucket(), prefix="airlock/")


@pytest.fixture
def server_factory(
    tmp_path: Path, database: TestDatabase, storage_env: dict[str, str]
) -> Iterator[ServerFactory]:
    """Start live servers sharing this test's database (pass env= for settings)."""
    started: list[LiveServer] = []

    def start(env: dict[str, str] | None = None, data: Path | None = None) -> LiveServer:
        env = {**storage_env, **(env or {})}
        srv = LiveServer(data or tmp_path / "data", database.url, env=env)
        started.append(srv)
        return srv.start()

    yield start
    for srv in started:
        srv.stop()


@pytest.fixture
def server(server_factory: ServerFactory) -> LiveServer:
    return server_factory()


@pytest.fixture(scope="session")
def npm_cli() -> Path:
    return ensure_npm()


NpmFactory = Callable[..., Npm]


@pytest.fixture
def npm_factory(tmp_path: Path, npm_cli: Path) -> NpmFactory:
    """npm users with their own config and cache: npm_factory(server, "alice")."""

    def make(srv: LiveServer, name: str = "anon", token: str | None = None) -> Npm:
        npm = Npm(registry=srv.url, home=tmp_path / f"npm-{name}")
        if token:
            npm.set_token(token)
        return npm

    return make


@pytest.fixture
def clock() -> FrozenClock:
    return FrozenClock()


@pytest.fixture
async def app_ctx(
    tmp_path: Path, database: TestDatabase, clock: FrozenClock
) -> AsyncIterator[AppContext]:
    """An in-process context on a migrated database, with a clock the test controls."""
    settings = Settings(data=tmp_path / "data", database_url=database.url, port=4873)
    await asyncio.to_thread(upgrade, normalise_database_url(database.url))
    ctx = build_context(settings, clock=clock)
    try:
        yield ctx
    finally:
        await ctx.db.dispose()


@pytest.fixture
async def client(app_ctx: AppContext) -> AsyncIterator[httpx.AsyncClient]:
    """httpx against the ASGI app in this process (no network)."""
    app = create_app(app_ctx)
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:4873") as c:
        yield c
