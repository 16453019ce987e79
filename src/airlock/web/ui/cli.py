"""npm's browser flows: web login (`POST /-/v1/login`) and web 2FA (the authUrl page), both
finished through the capability doneUrl `GET /-/v1/done?authId=...`.

The doneUrl needs no authorization (pnpm polls without it): knowing its 256-bit id is the
credential, and it hands its answer over once (then 410).
"""

from __future__ import annotations

import uuid
from typing import Any

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.accounts import service as accounts
from airlock.context import AppContext
from airlock.errors import AirlockError, NotFound
from airlock.packages.write import package_ref
from airlock.stage import queries
from airlock.tokens.service import issue_session_token
from airlock.twofactor.web_codes import ACCOUNT, Target
from airlock.twofactor.webauthn import has_passkeys
from airlock.web.deps import Ctx, read_body
from airlock.web.npm.responses import error_body, json_response
from airlock.web.ui import session as web
from airlock.web.ui.ceremony import ceremony, ceremony_for, stage_ids
from airlock.web.ui.render import PREFIX, error_page, page, redirect
from airlock.webauth import requests as flows
from airlock.webauth.requests import Poll

router = APIRouter()
RETRY_AFTER = "2"


def _done_url(ctx: AppContext, done_secret: str) -> str:
    return f"{ctx.settings.base_url}/-/v1/done?authId={done_secret}"


@router.post("/-/v1/login")
async def web_login(request: Request, ctx: Ctx) -> Response:
    """Step 1 of `npm login` / `npm adduser` (auth-type web, npm's default)."""
    raw = await read_body(request, 64 * 1024)
    create = b'"create"' in raw and b"true" in raw
    kind = "adduser" if create and ctx.settings.open_signup else "login"
    made = await flows.create(ctx, kind)
    return json_response(
        {
            "loginUrl": f"{ctx.settings.base_url}{PREFIX}/login/{made.auth_secret}",
            "doneUrl": _done_url(ctx, made.done_secret),
        }
    )


# npm 11.19.1 polls with the options of the request it retries: `npm dist-tag add` (PUT)
# and `dist-tag rm` (DELETE) poll the doneUrl with that method and body. The answer is
# the same whatever the method; the body is never read.
@router.api_route("/-/v1/done", methods=["GET", "PUT", "POST", "DELETE"])
async def done(request: Request, ctx: Ctx) -> Response:
    state, result = await flows.poll(ctx, request.query_params.get("authId", ""))
    if state is Poll.PENDING:
        return json_response({}, 202, {"retry-after": RETRY_AFTER})
    if state is Poll.READY:
        return json_response({"token": result})
    if state is Poll.UNKNOWN:
        return json_response(error_body("Unknown authentication request."), 404)
    message = (
        "This authentication request was already completed."
        if state is Poll.TAKEN
        else "This authentication request expired. Run the command again."
    )
    return json_response(error_body(message), 410)


async def challenge(ctx: AppContext, user_id: uuid.UUID, target: Target) -> dict[str, str]:
    """authUrl/doneUrl for a write that needs a second factor (see web.errors)."""
    made = await flows.create(ctx, target.verb, user_id, target)
    return {
        "authUrl": f"{ctx.settings.base_url}{PREFIX}/cli/{made.auth_secret}",
        "doneUrl": _done_url(ctx, made.done_secret),
    }


async def _open_request(ctx: AppContext, request: Request, secret: str) -> flows.RequestView:
    found = await flows.find(ctx, secret)
    if found is None:
        raise NotFound("This link is not valid. Run the command again for a new one.")
    if found.state != "pending":
        raise AirlockError("This link was already used.", status=410)
    if found.expired:
        raise AirlockError("This link has expired. Run the command again.", status=410)
    return found


@router.get(PREFIX + "/login/{secret}")
async def login_page(secret: str, request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    found = await _open_request(ctx, request, secret)
    if state is None or state.user is None:
        where = "sign-up" if found.kind == "adduser" else "sign-in"
        return redirect(request, f"{PREFIX}/{where}?next={PREFIX}/login/{secret}")
    return page(request, "cli_login.html", auth_secret=secret)


@router.post(PREFIX + "/login/{secret}")
async def login_confirm(secret: str, request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    await web.form(request, ctx, state)
    user = web.signed_in(request, state)
    found = await _open_request(ctx, request, secret)
    account = await accounts.get_user(ctx, user.name)
    if account is None:
        raise NotFound("Account not found.")
    token = await issue_session_token(ctx, account)
    if not await flows.answer(ctx, found.id, user.id, token):
        raise AirlockError("This link was already used.", status=410)
    return page(
        request,
        "message.html",
        title="npm is logged in",
        message=f"The command line is now logged in as {user.name}. You can close this tab.",
    )


async def _challenge_view(
    ctx: AppContext, request: Request, state: Any, secret: str
) -> tuple[flows.RequestView, Any, Any]:
    found = await _open_request(ctx, request, secret)
    user = web.signed_in(request, state)
    if found.user_id != user.id or found.target is None:
        # Someone else's challenge: as if it did not exist.
        raise NotFound("This link is not valid. Run the command again for a new one.")
    who = web.principal(request, user)
    if not found.target.is_decision:
        await _check_write_target(ctx, who, found.target)
        return found, user, None
    info = await queries.view_stage(ctx, who, uuid.UUID(found.target.ref))
    return found, user, info


async def _check_write_target(ctx: AppContext, who: Any, target: Target) -> None:
    """The page about a package write names only a package the user still maintains (or
    one not created yet, for a first publish): nothing about packages they may not see."""
    if target.ref == ACCOUNT:
        return
    ref = await package_ref(ctx, who, target.ref)
    if ref.exists and not ref.is_maintainer:
        raise NotFound("This link is not valid. Run the command again for a new one.")


@router.get(PREFIX + "/cli/{secret}")
async def auth_page(secret: str, request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    found, user, info = await _challenge_view(ctx, request, state, secret)
    if info is None:
        return await _action_form(ctx, request, user, found, secret)
    return await _auth_form(ctx, request, user, found, info, secret)


async def _action_form(
    ctx: AppContext,
    request: Request,
    user: Any,
    found: flows.RequestView,
    secret: str,
    error: str | None = None,
    status: int = 200,
) -> Response:
    assert found.target is not None
    return page(
        request,
        "cli_auth_action.html",
        status,
        target=found.target,
        auth_secret=secret,
        error=error,
        passkeys=await has_passkeys(ctx, user.id),
    )


async def _auth_form(
    ctx: AppContext,
    request: Request,
    user: Any,
    found: Any,
    info: Any,
    secret: str,
    error: str | None = None,
    status: int = 200,
) -> Response:
    listed = await queries.list_stages(ctx, web.principal(request, user), 0, 100, None)
    others = [o for o in listed.items if o.id != info.id]
    return page(
        request,
        "cli_auth.html",
        status,
        verb=found.target.verb,
        info=info,
        others=others,
        auth_secret=secret,
        error=error,
        passkeys=await has_passkeys(ctx, user.id),
    )


@router.post(PREFIX + "/cli/{secret}")
async def auth_confirm(secret: str, request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    data = await web.form(request, ctx, state)
    found, user, info = await _challenge_view(ctx, request, state, secret)
    if info is None:
        return await _action_confirm(ctx, request, user, found, secret, data)
    picked = [v for v in data.getlist("stage") if isinstance(v, str)]
    ids = stage_ids([str(info.id), *picked])
    who = web.principal(request, user)
    targets = [info] + [await queries.view_stage(ctx, who, i) for i in ids[1:]]
    assert found.target is not None
    verb = found.target.verb
    try:
        minted = await ceremony(ctx, user, data, verb, ids)
    except AirlockError as exc:
        return await _auth_form(ctx, request, user, found, info, secret, exc.message, exc.status)
    if not await flows.answer(ctx, found.id, user.id, minted.code):
        return error_page(request, 410, "This link was already used.")
    return page(request, "cli_code.html", code=minted.code, verb=verb, targets=targets)


async def _action_confirm(
    ctx: AppContext,
    request: Request,
    user: Any,
    found: flows.RequestView,
    secret: str,
    data: Any,
) -> Response:
    """One ceremony for one write: a code bound to its verb, package (or account) and the
    action in words, nothing else."""
    target = found.target
    assert target is not None
    try:
        minted = await ceremony_for(ctx, user, data, target.verb, [target.ref], target.what)
    except AirlockError as exc:
        return await _action_form(ctx, request, user, found, secret, exc.message, exc.status)
    if not await flows.answer(ctx, found.id, user.id, minted.code):
        return error_page(request, 410, "This link was already used.")
    return page(request, "cli_code.html", code=minted.code, what=target.what, targets=[])
