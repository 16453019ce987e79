"""Audit pages: a package's events (its maintainers) and the signed-in account's own
events, paged and filtered, from packages.audit_log (the same query as /-/airlock/v1/audit)."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.audit.events import Event
from airlock.errors import BadRequest
from airlock.packages import audit_log
from airlock.web.deps import Ctx
from airlock.web.npm import names
from airlock.web.ui import session as web
from airlock.web.ui.render import PREFIX, page

names.register()
router = APIRouter(prefix=PREFIX)
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _time(raw: str, name: str, *, end: bool) -> datetime | None:
    """A date from the form's date field (UTC; `until` includes that day), or ISO 8601."""
    raw = raw.strip()[:40]
    if _DATE.match(raw):
        parsed = audit_log.parse_time(raw + "T00:00:00Z", name)
        return parsed + timedelta(days=1) if parsed is not None and end else parsed
    return audit_log.parse_time(raw, name)


def _filters(request: Request, **fixed: str) -> tuple[audit_log.Filters, dict[str, str]]:
    q = request.query_params
    shown = {k: q.get(k, "")[:100] for k in ("event", "since", "until")}
    raw_page = q.get("page", "0")
    if not raw_page.isdigit():
        raise BadRequest("page must be a whole number.")
    f = audit_log.Filters(
        event=shown["event"] or None,
        since=_time(shown["since"], "since", end=False),
        until=_time(shown["until"], "until", end=True),
        page=int(raw_page),
        **fixed,
    )
    return f, shown


def _render(
    request: Request, result: dict[str, Any], shown: dict[str, str], **values: Any
) -> Response:
    pages = max(1, -(-result["total"] // result["perPage"]))
    query = {k: v for k, v in shown.items() if v}
    return page(
        request,
        "audit.html",
        result=result,
        pages=pages,
        shown=shown,
        events=[e.value for e in Event],
        page_url=lambda n: "?" + urlencode({**query, "page": n}),
        **values,
    )


@router.get("/package/{name:pkg}/audit")
async def package_audit(name: str, request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    user = web.signed_in(request, state)
    f, shown = _filters(request)
    result = await audit_log.package_events(ctx, web.principal(request, user), name, f)
    return _render(request, result, shown, title=f"{name} audit log", package=name)


@router.get("/account/audit")
async def account_audit(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    user = web.signed_in(request, state)
    f, shown = _filters(request, actor=user.name)
    result = await audit_log.search(ctx, web.principal(request, user), f)
    return _render(request, result, shown, title="Your audit log", package=None)
