"""The browser session of a request: cookie handling, CSRF checks, and the Principal the
services see (the same object the npm routes build from a token)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from starlette.datastructures import FormData

from airlock.authz.principal import Principal, UserRef
from airlock.errors import AirlockError, BadRequest
from airlock.web.deps import Ctx, client_ip
from airlock.web.ui.render import COOKIE, PREFIX
from airlock.webauth import sessions
from airlock.webauth.sessions import SessionState

MAX_FORM_FIELDS = 300


class SignInNeeded(AirlockError):
    """Turned into a redirect to the sign-in page (see web.errors)."""

    status = 401

    def __init__(self, next_url: str) -> None:
        super().__init__("Please sign in.")
        self.next_url = next_url


class CsrfRefused(AirlockError):
    status = 403

    def __init__(self) -> None:
        super().__init__(
            "This form has expired or did not come from this site. Go back, reload the page "
            "and try again."
        )


async def current(request: Request, ctx: Ctx) -> SessionState | None:
    state = await sessions.load(ctx, request.cookies.get(COOKIE))
    request.state.web_session = state
    return state


WebSession = Annotated[SessionState | None, Depends(current)]


def signed_in(request: Request, state: SessionState | None) -> UserRef:
    if state is None or state.user is None:
        raise SignInNeeded(
            request.url.path + (f"?{request.url.query}" if request.url.query else "")
        )
    return state.user


def principal(request: Request, user: UserRef, otp: str | None = None) -> Principal:
    return Principal(user=user, token=None, via="web", client_ip=client_ip(request), otp=otp)


async def ensure(request: Request, ctx: Ctx, state: SessionState | None) -> SessionState:
    """A session for an anonymous visitor (so the sign-in form has a CSRF token)."""
    if state is not None:
        return state
    secret = await sessions.start(ctx, ip=client_ip(request), user_agent=_agent(request))
    fresh = await sessions.load(ctx, secret)
    assert fresh is not None
    request.state.web_session = fresh
    request.state.set_cookie = secret
    return fresh


async def renew(
    request: Request,
    ctx: Ctx,
    state: SessionState | None,
    *,
    user_id: object = None,
    pending_user_id: object = None,
) -> str:
    """A new session id for a sign-in step; the old row is deleted."""
    secret = await sessions.start(
        ctx,
        ip=client_ip(request),
        user_agent=_agent(request),
        user_id=user_id,  # type: ignore[arg-type]
        pending_user_id=pending_user_id,  # type: ignore[arg-type]
        replaces=state.secret if state is not None else None,
    )
    request.state.set_cookie = secret
    return secret


async def form(request: Request, ctx: Ctx, state: SessionState | None) -> FormData:
    """The posted form, after its CSRF token checked out against the session."""
    data = await request.form(max_files=0, max_fields=MAX_FORM_FIELDS)
    sent = data.get("csrf")
    if not sessions.csrf_ok(ctx, state, sent if isinstance(sent, str) else None):
        raise CsrfRefused()
    return data


def field(data: FormData, name: str, required: bool = True) -> str:
    value = data.get(name)
    if not isinstance(value, str) or (required and not value.strip()):
        if required:
            raise BadRequest(f"{name.replace('_', ' ').capitalize()} is required.")
        return ""
    return value.strip() if name != "password" else value


def safe_next(raw: str | None) -> str:
    """Only local UI paths: never an open redirect."""
    if raw and raw.startswith(PREFIX + "/") and "//" not in raw and "\\" not in raw:
        return raw
    return PREFIX + "/stages"


def _agent(request: Request) -> str:
    return request.headers.get("user-agent", "")[:255]
