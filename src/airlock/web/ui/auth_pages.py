"""Sign in (password, then the second factor), sign out, sign up."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.accounts import service as accounts
from airlock.errors import AirlockError, NotFound, TooManyRequests, Unauthorized
from airlock.twofactor.service import is_enabled, verify_code
from airlock.twofactor.webauthn import has_passkeys, verify_passkey
from airlock.web.deps import Ctx, client_ip
from airlock.web.ui import session as web
from airlock.web.ui.ceremony import passkey_sent
from airlock.web.ui.render import PREFIX, page, redirect
from airlock.webauth import sessions, throttle

router = APIRouter(prefix=PREFIX)


@router.get("/")
async def home(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    return redirect(request, f"{PREFIX}/stages" if state and state.user else f"{PREFIX}/sign-in")


@router.get("/sign-in")
async def sign_in_form(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    next_url = web.safe_next(request.query_params.get("next"))
    if state is not None and state.user is not None:
        return redirect(request, next_url)
    await web.ensure(request, ctx, state)
    notice = "Sign in to continue." if request.query_params.get("next") else None
    return page(request, "sign_in.html", next=next_url, username="", notice=notice)


@router.post("/sign-in")
async def sign_in(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    data = await web.form(request, ctx, state)
    next_url = web.safe_next(web.field(data, "next", required=False))
    name = web.field(data, "username", required=False)
    password = web.field(data, "password", required=False)
    keys = throttle.keys(name, client_ip(request))
    try:
        await throttle.check(ctx, keys)
        if not name or not password:
            raise Unauthorized("Enter your username and password.")
        user = await accounts.verify_credentials(ctx, password, client_ip(request), name=name)
    except (Unauthorized, TooManyRequests) as exc:
        if isinstance(exc, Unauthorized):
            await throttle.failed(ctx, keys)
        return page(
            request, "sign_in.html", exc.status, next=next_url, username=name, error=exc.message
        )
    if is_enabled(user):
        await web.renew(request, ctx, state, pending_user_id=user.id)
        return redirect(request, f"{PREFIX}/sign-in/code?next={next_url}")
    await throttle.succeeded(ctx, name)
    await web.renew(request, ctx, state, user_id=user.id)
    return redirect(request, next_url)


@router.get("/sign-in/code")
async def code_form(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    next_url = web.safe_next(request.query_params.get("next"))
    if state is None or state.pending_user_id is None:
        return redirect(request, f"{PREFIX}/sign-in")
    passkeys = await has_passkeys(ctx, state.pending_user_id)
    return page(request, "sign_in_code.html", next=next_url, passkeys=passkeys)


@router.post("/sign-in/code")
async def sign_in_code(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    data = await web.form(request, ctx, state)
    next_url = web.safe_next(web.field(data, "next", required=False))
    assert state is not None
    if state.pending_user_id is None:
        return redirect(request, f"{PREFIX}/sign-in")
    try:
        if passkey_sent(data):
            # A second factor after the password: presence is enough (UV not required).
            await verify_passkey(
                ctx,
                state.pending_user_id,
                web.field(data, "passkey_handle", False),
                web.field(data, "passkey_response", False),
                require_uv=False,
            )
        else:
            # verify_code counts failures and locks the account's second factor after many.
            await verify_code(ctx, state.pending_user_id, web.field(data, "code", required=False))
    except AirlockError as exc:
        passkeys = await has_passkeys(ctx, state.pending_user_id)
        return page(
            request,
            "sign_in_code.html",
            exc.status,
            next=next_url,
            error=exc.message,
            passkeys=passkeys,
        )
    await web.renew(request, ctx, state, user_id=state.pending_user_id)
    return redirect(request, next_url)


@router.post("/sign-out")
async def sign_out(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    await web.form(request, ctx, state)
    assert state is not None
    await sessions.end(ctx, state.secret)
    request.state.clear_cookie = True
    request.state.web_session = None
    return redirect(request, f"{PREFIX}/sign-in")


def _signup_open(ctx: Ctx) -> None:
    if not ctx.settings.open_signup:
        raise NotFound(
            "Sign-up is closed on this registry. Ask an administrator to create your account."
        )


@router.get("/sign-up")
async def sign_up_form(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    _signup_open(ctx)
    await web.ensure(request, ctx, state)
    next_url = web.safe_next(request.query_params.get("next"))
    return page(request, "sign_up.html", next=next_url, username="", email="")


@router.post("/sign-up")
async def sign_up(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    _signup_open(ctx)
    data = await web.form(request, ctx, state)
    next_url = web.safe_next(web.field(data, "next", required=False))
    name = web.field(data, "username", required=False)
    email = web.field(data, "email", required=False)
    try:
        for label, value in (("Username", name), ("Email", email)):
            if not value:
                raise Unauthorized(f"{label} is required.")
        if "@" not in email:
            raise Unauthorized("Enter a valid email address.")
        user = await accounts.create_user(ctx, name, web.field(data, "password", False), email)
    except AirlockError as exc:
        status = 400 if isinstance(exc, Unauthorized) else exc.status
        return page(
            request,
            "sign_up.html",
            status,
            next=next_url,
            username=name,
            email=email,
            error=exc.message,
        )
    await web.renew(request, ctx, state, user_id=user.id)
    return redirect(request, next_url)
