"""The account page: two-factor status, passkeys (add, list, remove), browser sessions."""

from __future__ import annotations

import uuid

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.accounts import service as accounts
from airlock.errors import AirlockError, BadRequest, NotFound
from airlock.twofactor import webauthn
from airlock.twofactor.service import is_enabled
from airlock.web.deps import Ctx
from airlock.web.npm.responses import json_response
from airlock.web.ui import session as web
from airlock.web.ui.render import PREFIX, page, redirect
from airlock.webauth import sessions
from airlock.webauth.sessions import SessionState

router = APIRouter(prefix=PREFIX)


def _uuid(raw: str) -> uuid.UUID:
    try:
        return uuid.UUID(raw)
    except ValueError as exc:
        raise NotFound("Not found.") from exc


async def _account_page(
    request: Request, ctx: Ctx, state: SessionState, error: str | None = None
) -> Response:
    assert state.user is not None
    account = await accounts.get_user(ctx, state.user.name)
    if account is None:
        raise NotFound("Account not found.")
    return page(
        request,
        "account.html",
        400 if error else 200,
        email=account.email,
        tfa=account.tfa_mode if is_enabled(account) else None,
        passkeys=await webauthn.list_passkeys(ctx, account.id),
        sessions=await sessions.list_for(ctx, account.id, state.handle),
        error=error,
    )


@router.get("/account")
async def account_page(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    web.signed_in(request, state)
    assert state is not None
    return await _account_page(request, ctx, state)


@router.post("/account/passkeys/options")
async def register_options(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    await web.form(request, ctx, state)
    user = web.signed_in(request, state)
    handle, options = await webauthn.registration_options(ctx, user.id, user.name)
    return json_response({"handle": handle, "publicKey": options})


@router.post("/account/passkeys")
async def register(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    data = await web.form(request, ctx, state)
    user = web.signed_in(request, state)
    assert state is not None
    try:
        await webauthn.register(
            ctx,
            user.id,
            web.field(data, "passkey_handle", False),
            web.field(data, "passkey_response", False) or "{}",
            web.field(data, "label", False),
        )
    except AirlockError as exc:
        return await _account_page(request, ctx, state, exc.message)
    return redirect(request, f"{PREFIX}/account")


@router.post("/account/passkeys/{raw_id}/remove")
async def remove(raw_id: str, request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    await web.form(request, ctx, state)
    user = web.signed_in(request, state)
    if not await webauthn.remove(ctx, user.id, _uuid(raw_id)):
        raise NotFound("Passkey not found.")
    return redirect(request, f"{PREFIX}/account")


@router.post("/account/sessions/{raw_id}/end")
async def end_session(raw_id: str, request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    await web.form(request, ctx, state)
    user = web.signed_in(request, state)
    if not await sessions.end_by_handle(ctx, user.id, _uuid(raw_id)):
        raise NotFound("Session not found.")
    return redirect(request, f"{PREFIX}/account")


@router.post("/passkey/options")
async def assertion_options(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    """A single-use challenge for the signed-in user (or the one halfway through sign-in)."""
    await web.form(request, ctx, state)
    assert state is not None
    user_id = state.user.id if state.user is not None else state.pending_user_id
    if user_id is None:
        raise BadRequest("Sign in first.")
    handle, options = await webauthn.assertion_options(ctx, user_id)
    return json_response({"handle": handle, "publicKey": options})
