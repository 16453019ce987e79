"""The staged queue, a stage's page, its tarball, and deciding (one or many) in the browser."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

from fastapi import APIRouter, Request
from starlette.responses import Response, StreamingResponse

from airlock.errors import AirlockError, BadRequest
from airlock.stage import decide, queries
from airlock.stage.errors import StageNotFound
from airlock.stage.files import stage_files
from airlock.twofactor.webauthn import has_passkeys
from airlock.web.deps import Ctx
from airlock.web.npm.stage import stage_id
from airlock.web.ui import review
from airlock.web.ui import session as web
from airlock.web.ui.ceremony import ceremony, decision_of, stage_ids
from airlock.web.ui.render import PREFIX, page

router = APIRouter(prefix=PREFIX)
PER_PAGE = 20


@dataclass(frozen=True)
class Outcome:
    label: str
    ok: bool
    message: str


@router.get("/stages")
async def queue(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    user = web.signed_in(request, state)
    raw = request.query_params.get("page", "0")
    if not raw.isdigit():
        raise BadRequest("page must be a whole number.")
    who = web.principal(request, user)
    result = await queries.list_stages(ctx, who, int(raw), PER_PAGE, None)
    # The list has no review summary; each row gets its own (at most PER_PAGE lookups).
    items = [await queries.view_stage(ctx, who, info.id) for info in result.items]
    result = type(result)(items=items, total=result.total, page=result.page, per_page=PER_PAGE)
    pages = max(1, -(-result.total // PER_PAGE))
    return page(
        request,
        "stages.html",
        title="Staged versions",
        result=result,
        pages=pages,
        passkeys=await has_passkeys(ctx, user.id),
    )


@router.get("/stages/{raw_id}")
async def stage_page(raw_id: str, request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    user = web.signed_in(request, state)
    info = await queries.view_stage(ctx, web.principal(request, user), stage_id(raw_id))
    files, truncated = await stage_files(ctx, info)
    return page(
        request,
        "stage.html",
        info=info,
        files=files,
        truncated=truncated,
        passkeys=await has_passkeys(ctx, user.id),
        **await review.details(ctx, info, request.query_params.get("against")),
    )


@router.get("/stages/{raw_id}/tarball")
async def stage_tarball(raw_id: str, request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    user = web.signed_in(request, state)
    info = await queries.view_stage(ctx, web.principal(request, user), stage_id(raw_id))
    if info.blob_key is None:
        raise StageNotFound(info.id)
    key = info.blob_key
    filename = f"{info.package.lstrip('@').replace('/', '-')}-{info.version}-{info.id}.tgz"
    return StreamingResponse(
        ctx.blobs.stream(key),
        media_type="application/octet-stream",
        headers={
            "content-disposition": f'attachment; filename="{filename}"',
            "cache-control": "no-store",
            "x-content-type-options": "nosniff",
        },
    )


@router.post("/stages/decide")
async def decide_many(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    data = await web.form(request, ctx, state)
    user = web.signed_in(request, state)
    ids = stage_ids([v for v in data.getlist("stage") if isinstance(v, str)])
    verb = decision_of(data)
    who = web.principal(request, user)
    labels = {}
    for i in ids:
        # Only stages the user may see; anything else is "not found" before any ceremony.
        info = await queries.view_stage(ctx, who, i)
        labels[i] = f"{info.package}@{info.version}"
    try:
        minted = await ceremony(ctx, user, data, verb, ids)
    except AirlockError as exc:
        return page(
            request,
            "decided.html",
            exc.status,
            title="Nothing was decided",
            outcomes=[],
            error=exc.message,
        )
    outcomes = [await _decide_one(ctx, request, user, verb, i, labels[i], minted.code) for i in ids]
    done = sum(o.ok for o in outcomes)
    title = f"{done} of {len(ids)} {'approved' if verb == 'approve' else 'rejected'}"
    return page(request, "decided.html", title=title, outcomes=outcomes)


async def _decide_one(
    ctx: Ctx, request: Request, user: object, verb: str, sid: uuid.UUID, label: str, code: str
) -> Outcome:
    who = web.principal(request, user, otp=code)  # type: ignore[arg-type]
    try:
        if verb == "approve":
            info = await decide.approve(ctx, who, sid)
            return Outcome(label, True, f"approved and published with tag {info.tag}")
        await decide.reject(ctx, who, sid)
        return Outcome(label, True, "rejected and deleted")
    except AirlockError as exc:
        return Outcome(label, False, exc.message)
