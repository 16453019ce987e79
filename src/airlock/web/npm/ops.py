"""Operator endpoints: liveness, readiness and Prometheus metrics (not npm's API)."""

from __future__ import annotations

import asyncio
import hmac
import os
from typing import Any

from fastapi import APIRouter, Request
from prometheus_client.core import GaugeMetricFamily
from sqlalchemy import func, select, text
from starlette.responses import Response

from airlock.context import AppContext
from airlock.observability import metrics
from airlock.packages.models import Version
from airlock.web.deps import Ctx
from airlock.web.npm.responses import error_body, json_response

router = APIRouter()

_CHECK_SECONDS = 2.0


@router.get("/-/health")
async def health() -> Response:
    """The process is up and its event loop answers (no I/O: safe to poll often)."""
    return json_response({"status": "ok"})


@router.get("/-/ready")
async def ready(ctx: Ctx) -> Response:
    """Database and blob store reachable: 200 when both answer, 503 otherwise."""
    checks = {
        "database": await _check(_database(ctx)),
        "blobs": await _check(_blobs(ctx)),
    }
    ok = all(v == "ok" for v in checks.values())
    return json_response(
        {"status": "ok" if ok else "unavailable", "checks": checks}, 200 if ok else 503
    )


async def _check(probe: Any) -> str:
    try:
        async with asyncio.timeout(_CHECK_SECONDS):
            await probe
    except TimeoutError:
        return "error: timed out"
    except Exception as exc:  # any failure is "not ready", with its reason
        return f"error: {type(exc).__name__}: {exc}"[:300]
    return "ok"


async def _database(ctx: AppContext) -> None:
    async with ctx.db.read() as session:
        await session.execute(text("SELECT 1"))


async def _blobs(ctx: AppContext) -> None:
    await ctx.blobs.check()  # S3: the bucket exists and may be listed
    await ctx.blobs.exists("ready-probe")  # S3: the key may read objects
    path = ctx.blobs.local_path("ready-probe")
    if path is not None and not os.access(path.parent.parent, os.W_OK):
        raise OSError(f"blob directory {path.parent.parent} is not writable")


@router.get("/-/metrics")
async def metrics_endpoint(request: Request, ctx: Ctx) -> Response:
    token = ctx.settings.metrics_token
    if not token:
        return json_response(error_body("Not found"), 404)
    scheme, _, given = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(
        given.strip().encode(), token.encode()
    ):
        return json_response(
            error_body("Metrics need Authorization: Bearer <metrics_token>."),
            401,
            {"www-authenticate": "Bearer"},
        )
    body = metrics.exposition(await _version_gauges(ctx))
    return Response(body, media_type=metrics.CONTENT_TYPE)


async def _version_gauges(ctx: AppContext) -> list[GaugeMetricFamily]:
    """Counts by state from the database: the same answer from every instance."""
    now = ctx.clock.now()
    async with ctx.db.read() as session:
        by_state = dict(
            (
                await session.execute(select(Version.state, func.count()).group_by(Version.state))
            ).all()
        )
        lapsed = (
            await session.execute(
                select(func.count()).where(Version.state == "staged", Version.expires_at <= now)
            )
        ).scalar_one()
    versions = GaugeMetricFamily("airlock_versions", "Versions by state.", labels=["state"])
    for state in ("published", "staged", "unpublished"):
        versions.add_metric([state], float(by_state.get(state, 0)))
    stages = GaugeMetricFamily(
        "airlock_stages", "Staged versions awaiting a decision, by state.", labels=["state"]
    )
    stages.add_metric(["pending"], float(by_state.get("staged", 0) - lapsed))
    stages.add_metric(["lapsed"], float(lapsed))
    return [versions, stages]
