"""npm wire routes: `npm search` (`/-/v1/search`)."""

from __future__ import annotations

from fastapi import APIRouter, Query
from starlette.responses import Response

from airlock.packages.search import search as run_search
from airlock.web.deps import Ctx, CurrentPrincipal
from airlock.web.npm.responses import json_response

router = APIRouter()


@router.get("/-/v1/search")
async def search(
    ctx: Ctx,
    principal: CurrentPrincipal,
    text: str = "",
    size: int = Query(20, ge=1),
    offset: int = Query(0, ge=0, alias="from"),
) -> Response:
    return json_response(await run_search(ctx, principal, text, size, offset))
