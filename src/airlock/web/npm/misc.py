"""Small endpoints every npm client touches."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.web.npm.responses import json_response

router = APIRouter()


@router.get("/-/ping")
async def ping() -> Response:
    return json_response({})


@router.post("/-/npm/v1/security/advisories/bulk")
async def audit_bulk(request: Request) -> Response:
    # Airlock keeps no advisory database yet: answer "no advisories" so installs stay quiet.
    return json_response({})
