"""npm wire routes: `npm stage publish|list|view|download|approve|reject` and version status.

Shapes follow shared/npm-contract.md §4: stage publish is never OTP-challenged; approve and
reject are (authz DECIDE always wants a fresh code); item fields are scalars because the
CLI prints them as `key: value` lines.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import FileResponse, Response, StreamingResponse

from airlock.authz.actions import Action
from airlock.clock import iso
from airlock.errors import BadRequest, Unauthorized
from airlock.packages import write
from airlock.packages.upload import parse_publish_body
from airlock.stage import decide, queries, risk, service
from airlock.stage.errors import MalformedStageId, StageNotFound
from airlock.stage.schemas import StageInfo
from airlock.storage.base import BlobMissing
from airlock.web.deps import Ctx, CurrentPrincipal
from airlock.web.npm import names
from airlock.web.npm.publish import publish_body_limit, read_big_json
from airlock.web.npm.responses import json_response

# The {name:pkg} convertor must exist before the route decorators below compile paths.
names.register()
router = APIRouter()

# npmjs's wording for access; "restricted" is what `npm publish --access` calls private.
_ACCESS = {"public": "public", "restricted": "private"}


def item(info: StageInfo) -> dict[str, Any]:
    body = {
        "id": str(info.id),
        "packageName": info.package,
        "version": info.version,
        "tag": info.tag,
        "access": _ACCESS.get(info.access, info.access),
        "createdAt": iso(info.created_at),
        "actor": info.actor,
        "actorType": info.actor_type,
        "workflow": info.workflow,
        "shasum": info.shasum,
        "integrity": info.integrity,
        "status": "staged",
        "expiresAt": iso(info.expires_at),
    }
    if info.review is not None:
        # What a reviewer should look at, against the version tagged latest (npm prints
        # every scalar field of a stage item as a `key: value` line).
        body["comparedTo"] = info.review.compared_to or "nothing (new package)"
        body["installScripts"] = info.review.install_scripts
        body["newDependencies"] = info.review.new_dependencies
        body["changedDependencies"] = info.review.changed_dependencies
    return body


def stage_id(raw: str) -> uuid.UUID:
    # 400, not 404: a malformed id is a client mistake and reveals nothing about stages.
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise MalformedStageId(raw) from exc


def _int(raw: str | None, name: str, default: int) -> int:
    if raw is None or raw == "":
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise BadRequest(f"{name} must be a whole number.") from exc


@router.post("/-/stage/package/{name:pkg}")
async def stage_publish(
    name: str, request: Request, ctx: Ctx, principal: CurrentPrincipal
) -> Response:
    if principal.user is None:
        raise Unauthorized(f"You must be logged in to stage {name}. Run `npm login`.")
    # Before reading a body of up to ~70 MB: may this caller stage under this name at all?
    await write.check_may_write(ctx, principal, name, (Action.STAGE,))
    # The same size limit as npm publish; JSON parsed off the event loop.
    body = await read_big_json(request, publish_body_limit(ctx))
    upload = await parse_publish_body(ctx.settings, name, body)
    info = await service.stage_upload(ctx, principal, upload)
    return json_response(
        {
            "ok": True,
            "message": f"{info.package}@{info.version} staged with tag {info.tag}. "
            f"Approve it with: npm stage approve {info.id}",
            "stageId": str(info.id),
        },
        status=201,
    )


@router.get("/-/stage")
async def list_stages(request: Request, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    params = request.query_params
    page = _int(params.get("page"), "page", 0)
    per_page = _int(params.get("perPage"), "perPage", queries.DEFAULT_PER_PAGE)
    package = params.get("package") or None
    result = await queries.list_stages(ctx, principal, page, per_page, package)
    return json_response(
        {
            "items": [item(info) for info in result.items],
            "total": result.total,
            "page": result.page,
            "perPage": result.per_page,
        }
    )


@router.get("/-/stage/{raw_id}")
async def view_stage(raw_id: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    info = await queries.view_stage(ctx, principal, stage_id(raw_id))
    return json_response({**item(info), **await risk.view_fields_for(ctx, info)})


@router.get("/-/stage/{raw_id}/tarball")
async def download_stage(raw_id: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    info = await queries.view_stage(ctx, principal, stage_id(raw_id))
    if info.blob_key is None or not await ctx.blobs.exists(info.blob_key):
        raise StageNotFound(info.id)
    # The name `npm stage download` itself writes: pkg-1.0.0-<id>.tgz.
    filename = f"{info.package.lstrip('@').replace('/', '-')}-{info.version}-{info.id}.tgz"
    headers = {
        "cache-control": "no-store",
        "content-disposition": f'attachment; filename="{filename}"',
    }
    path = ctx.blobs.local_path(info.blob_key)
    if path is not None:
        return FileResponse(path, media_type="application/octet-stream", headers=headers)
    return StreamingResponse(
        _stream(ctx, info.blob_key), media_type="application/octet-stream", headers=headers
    )


async def _stream(ctx: Ctx, key: str) -> AsyncIterator[bytes]:
    try:
        async for chunk in ctx.blobs.stream(key):
            yield chunk
    except BlobMissing:
        return


@router.post("/-/stage/{raw_id}/approve")
async def approve_stage(raw_id: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    info = await decide.approve(ctx, principal, stage_id(raw_id))
    if info.approvals < info.approvals_required:  # only set while more are needed
        # Four-eyes: recorded, still staged. npm prints an npm-notice header as a notice.
        waiting = (
            f"Approval {info.approvals} of {info.approvals_required} recorded for "
            f"{info.package}@{info.version}; it stays staged until "
            f"{info.approvals_required} maintainers have approved."
        )
        return json_response(
            {
                "ok": True,
                "message": waiting,
                "approvals": info.approvals,
                "approvalsRequired": info.approvals_required,
                "status": "staged",
            },
            status=202,
            headers={"npm-notice": waiting},
        )
    # npm reads this body as JSON: an empty answer would fail the command after success.
    return json_response(
        {
            "ok": True,
            "message": f"{info.package}@{info.version} approved and published with tag {info.tag}.",
        },
        status=201,
    )


@router.delete("/-/stage/{raw_id}")
async def reject_stage(raw_id: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    info = await decide.reject(ctx, principal, stage_id(raw_id))
    return json_response(
        {"ok": True, "message": f"Stage of {info.package}@{info.version} rejected and deleted."}
    )


@router.get("/-/package/{name:pkg}/version/{version}/status")
async def version_status(
    name: str, version: str, ctx: Ctx, principal: CurrentPrincipal
) -> Response:
    status, staged_as = await queries.version_status(ctx, principal, name, version)
    # CI pollers need to know what the answer is about, and which stage to wait for.
    body = {"packageName": name, "version": version, "status": status}
    if staged_as is not None:
        body["stageId"] = str(staged_as)
    return json_response(body)
