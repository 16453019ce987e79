"""The ASGI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from airlock.context import AppContext
from airlock.web.errors import install_error_handlers
from airlock.web.jobs import BACKGROUND_JOBS
from airlock.web.npm import (
    access,
    dist_tags,
    misc,
    names,
    oidc,
    owners,
    packages,
    profile,
    publish,
    search,
    stage,
    tarballs,
    tokens,
    trust,
    users,
)
from airlock.web.ui import routes as ui_routes

log = logging.getLogger("airlock")


def create_app(ctx: AppContext) -> FastAPI:
    """Build the app around a ready context (settings, database, blob store, clock)."""
    names.register()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        tasks = [asyncio.create_task(job(ctx)) for job in BACKGROUND_JOBS]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await ctx.db.dispose()

    app = FastAPI(
        title="Airlock",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/-/airlock/openapi.json",
    )
    app.state.ctx = ctx
    install_error_handlers(app)
    ui_routes.install(app)  # web UI (branch web): before the catch-all package routes
    # Order matters: fixed /-/ routes first, then the catch-all package routes.
    for module in (
        misc,
        users,
        tokens,
        profile,
        stage,
        trust,
        oidc,
        access,
        dist_tags,
        search,
        owners,
        publish,
        tarballs,
        packages,
    ):
        app.include_router(module.router)
    app.add_middleware(names.ScopedNameMiddleware)
    return app
