"""A package's settings page for its maintainers: the four-eyes review rule and the
package's webhooks (list with delivery log, add, remove).

The services decide everything (stage.policy, notifications.hooks): who may (maintainers;
anyone else gets 404) and the fresh second factor, which the browser sends as the form's
one-time code (the same rule as `npm-otp` on the HTTP API, authz.second_factor).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.authz.principal import Principal
from airlock.errors import AirlockError, BadRequest
from airlock.notifications import hooks
from airlock.notifications.outbox import NOTIFY
from airlock.stage import policy
from airlock.web.deps import Ctx
from airlock.web.npm import names
from airlock.web.ui import session as web
from airlock.web.ui.render import PREFIX, page, redirect

names.register()
router = APIRouter(prefix=PREFIX)
DELIVERIES_SHOWN = 10


async def _settings(
    request: Request, ctx: Ctx, who: Principal, name: str, status: int = 200, **values: Any
) -> Response:
    rule = await policy.get_rule(ctx, who, name)  # 404 unless a maintainer
    listed = await hooks.list_hooks(ctx, who, name)
    for h in listed:
        log = await hooks.deliveries(ctx, who, name, uuid.UUID(h["id"]))
        h["deliveries"] = log[:DELIVERIES_SHOWN]
    return page(
        request,
        "package_settings.html",
        status,
        title=f"{name} settings",
        name=name,
        rule=rule,
        hooks=listed,
        events=sorted(NOTIFY),
        max_approvals=policy.MAX_APPROVALS,
        saved=request.query_params.get("saved", "")[:20],
        **values,
    )


def _back(request: Request, name: str, what: str) -> Response:
    return redirect(request, f"{PREFIX}/package/{name}/settings?saved={what}")


@router.get("/package/{name:pkg}/settings")
async def settings_page(name: str, request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    user = web.signed_in(request, state)
    return await _settings(request, ctx, web.principal(request, user), name)


@router.post("/package/{name:pkg}/settings/policy")
async def set_policy(name: str, request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    data = await web.form(request, ctx, state)
    user = web.signed_in(request, state)
    raw = web.field(data, "approvals_required", False) or "1"
    try:
        if not raw.isdigit():
            raise BadRequest("Approvals required must be a whole number.")
        body = {"fourEyes": data.get("four_eyes") == "on", "approvalsRequired": int(raw)}
        who = web.principal(request, user, web.field(data, "code", False) or None)
        await policy.set_rule(ctx, who, name, body)
    except AirlockError as exc:
        return await _failed(request, ctx, user, name, exc)
    return _back(request, name, "policy")


@router.post("/package/{name:pkg}/settings/hooks")
async def add_hook(name: str, request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    data = await web.form(request, ctx, state)
    user = web.signed_in(request, state)
    events = [e for e in data.getlist("events") if isinstance(e, str)]
    body = {
        "url": web.field(data, "url", False),
        "secret": web.field(data, "secret", False),
        "events": events or ["*"],
    }
    try:
        who = web.principal(request, user, web.field(data, "code", False) or None)
        await hooks.add_hook(ctx, who, name, body)
    except AirlockError as exc:
        return await _failed(request, ctx, user, name, exc)
    return _back(request, name, "hook-added")


@router.post("/package/{name:pkg}/settings/hooks/{raw_id}/remove")
async def remove_hook(
    name: str, raw_id: str, request: Request, ctx: Ctx, state: web.WebSession
) -> Response:
    data = await web.form(request, ctx, state)
    user = web.signed_in(request, state)
    try:
        hook_id = uuid.UUID(raw_id)
    except ValueError as exc:
        raise BadRequest(f"Malformed hook id {raw_id!r}.") from exc
    try:
        who = web.principal(request, user, web.field(data, "code", False) or None)
        await hooks.remove_hook(ctx, who, name, hook_id)
    except AirlockError as exc:
        return await _failed(request, ctx, user, name, exc)
    return _back(request, name, "hook-removed")


async def _failed(request: Request, ctx: Ctx, user: Any, name: str, exc: AirlockError) -> Response:
    """The page again with the error (a non-maintainer's post ends in the page's 404)."""
    who = web.principal(request, user)
    return await _settings(request, ctx, who, name, exc.status, error=exc.message)
