"""Airlock's own HTTP extensions under /-/airlock/v1/ (JSON, errors as {"error": ...})."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.errors import BadRequest
from airlock.notifications import hooks
from airlock.packages import audit_log as audit_query
from airlock.stage import policy
from airlock.web.deps import Ctx, CurrentPrincipal, read_json_object
from airlock.web.npm import names
from airlock.web.npm.responses import json_response

names.register()
router = APIRouter()


@router.get("/-/airlock/v1/package/{name:pkg}/policy")
async def get_policy(name: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    rule = await policy.get_rule(ctx, principal, name)
    return json_response({"package": name, **rule.as_json()})


@router.put("/-/airlock/v1/package/{name:pkg}/policy")
async def put_policy(
    name: str, request: Request, ctx: Ctx, principal: CurrentPrincipal
) -> Response:
    body = await read_json_object(request, 16 * 1024)
    rule = await policy.set_rule(ctx, principal, name, body)
    return json_response({"package": name, **rule.as_json()})


@router.get("/-/airlock/v1/audit")
async def audit_log(request: Request, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    q = request.query_params
    try:
        page = int(q.get("page") or 0)
    except ValueError as exc:
        raise BadRequest("page must be a whole number.") from exc
    filters = audit_query.Filters(
        package=q.get("package") or None,
        actor=q.get("actor") or None,
        event=q.get("event") or None,
        since=audit_query.parse_time(q.get("since"), "since"),
        until=audit_query.parse_time(q.get("until"), "until"),
        page=page,
    )
    return json_response(await audit_query.search(ctx, principal, filters))


def _hook_id(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise BadRequest(f"Malformed hook id {raw!r}.") from exc


@router.get("/-/airlock/v1/package/{name:pkg}/hooks")
async def list_hooks(name: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    return json_response({"hooks": await hooks.list_hooks(ctx, principal, name)})


@router.post("/-/airlock/v1/package/{name:pkg}/hooks")
async def add_hook(name: str, request: Request, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    body = await read_json_object(request, 16 * 1024)
    return json_response(await hooks.add_hook(ctx, principal, name, body), status=201)


@router.delete("/-/airlock/v1/package/{name:pkg}/hooks/{raw_id}")
async def remove_hook(name: str, raw_id: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    await hooks.remove_hook(ctx, principal, name, _hook_id(raw_id))
    return json_response({"ok": True})


@router.get("/-/airlock/v1/package/{name:pkg}/hooks/{raw_id}/deliveries")
async def hook_deliveries(
    name: str, raw_id: str, ctx: Ctx, principal: CurrentPrincipal
) -> Response:
    items = await hooks.deliveries(ctx, principal, name, _hook_id(raw_id))
    return json_response({"deliveries": items})
