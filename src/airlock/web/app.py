"""The ASGI application factory."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from airlock.authz.second_factor import register_verifier
from airlock.context import AppContext
from airlock.web.errors import install_error_handlers
from airlock.web.fastpath import ReadFastPath
from airlock.web.head import HeadAsGetMiddleware
from airlock.web.jobs import BACKGROUND_JOBS
from airlock.web.npm import (
    access,
    airlock_v1,
    batch,
    dist_tags,
    manifests,
    misc,
    names,
    oidc,
    ops,
    owners,
    packages,
    profile,
    publish,
    review,
    search,
    stage,
    tarballs,
    tokens,
    trust,
    users,
)
from airlock.web.observe import RequestObserver
from airlock.web.ui import routes as ui_routes
from airlock.web.ui.ceremony import WEB_CODES

log = logging.getLogger("airlock")


def create_app(ctx: AppContext) -> FastAPI:
    """Build the app around a ready context (settings, database, blob store, clock)."""
    names.register()

    @contextlib.asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        # Everything built so far (modules, routes, models) lives as long as the process:
        # move it out of the collector's sight, so a full collection under load scans only
        # what requests allocated (a gen-2 pass over ~0.5 M start-up objects was a p99 spike).
        gc.collect()
        gc.freeze()
        tasks = [asyncio.create_task(job(ctx)) for job in BACKGROUND_JOBS]
        try:
            yield
        finally:
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            await ctx.close_uplink()
            await ctx.db.dispose()

    app = FastAPI(
        title="Airlock",
        lifespan=lifespan,
        docs_url=None,
        redoc_url=None,
        openapi_url="/-/airlock/openapi.json",
        # Airlock exports its own metrics (observability/metrics.py); FastAPI's OpenTelemetry
        # hooks otherwise look up the global providers on every request.
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    app.state.ctx = ctx
    # Browser-issued codes (web 2FA, batch approval) are a second factor for decisions.
    register_verifier(WEB_CODES)
    install_error_handlers(app)
    ui_routes.install(app)  # web UI (branch web): before the catch-all package routes
    # Order matters: fixed /-/ routes first, then the catch-all package routes.
    for module in (
        ops,
        misc,
        airlock_v1,
        users,
        tokens,
        profile,
        review,
        stage,
        trust,
        oidc,
        access,
        dist_tags,
        search,
        owners,
        batch,
        publish,
        tarballs,
        manifests,
        packages,
    ):
        app.include_router(module.router)
    app.add_middleware(names.ScopedNameMiddleware)
    # Packument and tarball GETs answered from the read cache (docs/performance.md).
    app.add_middleware(ReadFastPath, ctx=ctx)
    # Metrics and the request log see every request, fast path included.
    app.add_middleware(RequestObserver)
    # Outermost (added last): HEAD reaches every route, fast paths included, as a GET.
    app.add_middleware(HeadAsGetMiddleware)
    return app
