"""pnpm's one-request multi-package publish: `PUT /-/pnpr/v0/publish`.

`pnpm publish --recursive --batch` (pnpm 12) sends `{"packages": [doc, ...]}`, each `doc`
exactly the body of one `PUT /{name}` publish, with `npm-otp` when it has a code; it
ignores the answer's body and treats 404/405 as "the registry does not support batch
publishing". pnpr answers `201 {"ok": true, "success": true}`; so does Airlock. pnpm
refuses `--batch` together with `stage` or provenance, so staged releases are approved in
one ceremony through the web batch approval instead (docs/clients.md).
"""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.errors import AirlockError, BadRequest, Unauthorized
from airlock.packages.batch import blame, check_batch_size, publish_batch
from airlock.packages.upload import Upload, parse_publish_body
from airlock.web.deps import Ctx, CurrentPrincipal
from airlock.web.npm.publish import publish_body_limit, read_big_json
from airlock.web.npm.responses import json_response

router = APIRouter()

BATCH_PATH = "/-/pnpr/v0/publish"


@router.put(BATCH_PATH)
async def batch_publish(request: Request, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    if principal.user is None:
        raise Unauthorized("You must be logged in to publish packages. Run `npm login`.")
    # The whole batch within one publish's limit: memory stays bounded whatever is sent.
    body = await read_big_json(request, publish_body_limit(ctx))
    docs = body.get("packages")
    if not isinstance(docs, list):
        raise BadRequest('Expected {"packages": [<publish document>, ...]}.')
    check_batch_size(len(docs))
    uploads: list[Upload] = []
    for index, doc in enumerate(docs):
        uploads.append(await _parse(ctx, index, doc))
    await publish_batch(ctx, principal, uploads)
    published = ", ".join(f"+ {u.name}@{u.version}" for u in uploads)
    return json_response({"ok": True, "success": True, "message": published}, status=201)


async def _parse(ctx: Ctx, index: int, doc: object) -> Upload:
    if not isinstance(doc, dict) or not isinstance(doc.get("name"), str):
        raise BadRequest(f"packages[{index}] must be a publish document with a name.")
    try:
        return await parse_publish_body(ctx.settings, doc["name"], doc)
    except AirlockError as exc:
        versions = doc.get("versions")
        version = next(iter(versions), "") if isinstance(versions, dict) else ""
        raise blame(exc, f"{doc['name']}@{version}" if version else doc["name"]) from None
