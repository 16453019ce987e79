"""Review routes: a stage's risk signals and its diff against a published version.

Both hang off a stage, so both start with queries.view_stage: whoever may view the stage
may see these, everyone else gets the same 404 an unknown id gets.
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.stage import diff, queries, risk
from airlock.web.deps import Ctx, CurrentPrincipal
from airlock.web.npm.responses import json_response
from airlock.web.npm.stage import stage_id

router = APIRouter()


def _against(request: Request) -> str | None:
    return request.query_params.get("against") or None


@router.get("/-/airlock/v1/stage/{raw_id}/signals")
async def stage_signals(
    raw_id: str, request: Request, ctx: Ctx, principal: CurrentPrincipal
) -> Response:
    info = await queries.view_stage(ctx, principal, stage_id(raw_id))
    report = await risk.assess(ctx, info, _against(request))
    return json_response(
        {
            "stageId": str(info.id),
            "package": info.package,
            "version": info.version,
            "comparedTo": report.compared_to,
            "signals": [s.as_json() for s in report.signals],
            "provenance": report.provenance.as_json(),
        }
    )


@router.get("/-/stage/{raw_id}/diff")
async def stage_diff(
    raw_id: str, request: Request, ctx: Ctx, principal: CurrentPrincipal
) -> Response:
    info = await queries.view_stage(ctx, principal, stage_id(raw_id))
    return json_response(await diff.stage_diff(ctx, info, _against(request)))
