"""npm wire routes: the overloaded `PUT /{name}` (publish, deprecate, star) and unpublish.

How the PUT bodies are told apart (contract §3.5): `users` without `versions` is a star;
the whole document with its `_rev` and no `_attachments` is a metadata update
(deprecate/undeprecate); everything else is a publish, validated as one (so a publish body
that lost its attachment is a 400 naming the problem, not a confusing 404).
`PUT /{name}/-rev/{rev}` is either an unpublish of versions (the document minus them) or an
owner change (`{_id, _rev, maintainers}`).
"""

from __future__ import annotations

from typing import Any

import anyio
import orjson
from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.authz.actions import Action
from airlock.authz.principal import Principal
from airlock.context import AppContext
from airlock.errors import AirlockError, BadRequest, Unauthorized
from airlock.packages import manage, write
from airlock.packages.names import validate_name
from airlock.packages.upload import parse_publish_body
from airlock.web.deps import Ctx, CurrentPrincipal, read_body, read_json_object
from airlock.web.npm import names
from airlock.web.npm.owners import maintainer_names_from
from airlock.web.npm.responses import json_response

# The {name:pkg} convertor must exist before the route decorators below compile paths.
names.register()
router = APIRouter()

# JSON and readme around the base64 tarball (which grows by 4/3).
_BODY_OVERHEAD = 8 * 1024 * 1024
_STAR_LIMIT = 64 * 1024
# Bodies up to this size are parsed on the event loop (well under a millisecond).
_INLINE_PARSE_BYTES = 256 * 1024


def publish_body_limit(ctx: AppContext) -> int:
    return ctx.settings.max_tarball_bytes * 4 // 3 + _BODY_OVERHEAD


def _require_user(principal: Principal, name: str) -> None:
    if principal.user is None:
        raise Unauthorized(f"You must be logged in to publish or change {name}. Run `npm login`.")


async def read_big_json(request: Request, limit: int) -> dict[str, Any]:
    """A large JSON body, parsed off the event loop, a few at a time per process.

    Parsing multiplies memory (a 28 MiB body of tiny objects is ~400 MB of Python
    objects), so at most `max_large_body_parses` run at once; the others wait.
    """
    raw = await read_body(request, limit)
    if not raw.strip():
        raise BadRequest("Request body is empty; expected JSON.")
    try:
        if len(raw) <= _INLINE_PARSE_BYTES:
            # Parsed in less time than a hop to a worker thread and back takes.
            body = orjson.loads(raw)
        else:
            body = await anyio.to_thread.run_sync(
                orjson.loads, raw, limiter=_parse_limiter(request)
            )
    except orjson.JSONDecodeError as exc:
        raise BadRequest(f"Request body is not valid JSON: {exc}") from exc
    if not isinstance(body, dict):
        raise BadRequest("Request body must be a JSON object.")
    return body


def _parse_limiter(request: Request) -> anyio.CapacityLimiter:
    state = request.app.state
    limiter: anyio.CapacityLimiter | None = getattr(state, "large_body_limiter", None)
    if limiter is None:
        ctx: AppContext = state.ctx
        limiter = anyio.CapacityLimiter(ctx.settings.max_large_body_parses)
        state.large_body_limiter = limiter
    return limiter


@router.put("/{name:pkg}")
async def put_package(
    name: str, request: Request, ctx: Ctx, principal: CurrentPrincipal
) -> Response:
    try:
        # Who may write here is known from the URL: strangers never get a big body parsed.
        await write.check_may_write(ctx, principal, name, (Action.PUBLISH, Action.MANAGE))
    except AirlockError:
        if await _is_star(request):
            return json_response({"ok": True, "success": True})
        raise
    body = await read_big_json(request, publish_body_limit(ctx))
    versions = body.get("versions")
    if versions is None and "users" in body:
        # Stars are not kept (Airlock has no popularity signals); answer as npm expects.
        return json_response({"ok": True, "success": True})
    if "_rev" in body and "_attachments" not in body and isinstance(versions, dict):
        # deprecate/undeprecate send back the whole document they read, `_rev` included.
        await manage.deprecate(ctx, principal, name, _deprecations(versions))
        return json_response({"ok": True, "success": True, "message": "package changed"}, 201)
    upload = await parse_publish_body(ctx.settings, name, body)
    await write.write_version(ctx, principal, upload, write.PUBLISH)
    return json_response(
        {"ok": True, "success": True, "message": f"+ {name}@{upload.version}"}, status=201
    )


async def _is_star(request: Request) -> bool:
    """Anyone may star a package they can read: a small body, and stars are not kept."""
    try:
        body = await read_json_object(request, _STAR_LIMIT)
    except AirlockError:
        return False
    return "users" in body and "versions" not in body


def _deprecations(versions: dict[str, Any]) -> dict[str, str]:
    messages: dict[str, str] = {}
    for version, doc in versions.items():
        if isinstance(doc, dict) and "deprecated" in doc:
            message = doc["deprecated"]
            if not isinstance(message, str):
                raise BadRequest(f"deprecated of {version} must be a string.")
            messages[version] = message
    return messages


@router.put("/{name:pkg}/")
async def put_trailing_slash(name: str) -> Response:
    # "@scope/" (an empty package part) arrives here; answer the name error, not a redirect.
    validate_name(f"{name}/")
    raise BadRequest(f"Invalid package name {name + '/'!r}.")


@router.put("/{name:pkg}/-rev/{rev}")
async def put_revision(
    name: str, rev: str, request: Request, ctx: Ctx, principal: CurrentPrincipal
) -> Response:
    _require_user(principal, name)
    body = await read_big_json(request, publish_body_limit(ctx))
    versions = body.get("versions")
    if versions is None and "maintainers" in body:
        owners = maintainer_names_from(body["maintainers"])
        await manage.set_maintainers(ctx, principal, name, owners, rev)
        return json_response({"ok": True, "success": True, "message": "maintainers changed"})
    if not isinstance(versions, dict):
        raise BadRequest("Expected the package document with its remaining versions.")
    await manage.unpublish_missing(ctx, principal, name, set(versions), rev)
    return json_response({"ok": True, "success": True, "message": "package changed"}, status=201)


@router.delete("/{name:pkg}/-rev/{rev}")
async def delete_package(name: str, rev: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    _require_user(principal, name)
    await manage.unpublish_package(ctx, principal, name, rev)
    return json_response({"ok": True, "success": True, "message": f"- {name}"})
