"""npm wire routes: couch-style adduser/login, whoami, logout."""

from __future__ import annotations

from urllib.parse import unquote

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.accounts import service as accounts
from airlock.accounts.models import User
from airlock.errors import BadRequest, Forbidden, NotFound, Unauthorized
from airlock.tokens.service import issue_session_token, revoke_token_value
from airlock.twofactor.login import check_login_otp
from airlock.web.deps import Ctx, CurrentPrincipal, read_json_object
from airlock.web.npm.responses import json_response

router = APIRouter()

_COUCH_PREFIX = "org.couchdb.user:"


def _user_from_path(raw: str) -> str:
    name = unquote(raw)
    return name[len(_COUCH_PREFIX) :] if name.startswith(_COUCH_PREFIX) else name


@router.put("/-/user/{couch_id}")
async def adduser_or_login(couch_id: str, request: Request, ctx: Ctx) -> Response:
    """`npm adduser` and `npm login --auth-type=legacy`.

    npm's convention: "adding" an existing user with the right password is a login.
    """
    body = await read_json_object(request)
    name = body.get("name")
    password = body.get("password")
    if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
        raise BadRequest("Both name and password are required.")
    if name != _user_from_path(couch_id):
        raise BadRequest("The user name in the body does not match the URL.")
    existing = await accounts.get_user(ctx, name)
    if existing is None and request.headers.get("npm-command") == "login":
        # npm turns a 400 on login into "There is no user with the username ...".
        raise BadRequest(f"There is no user with the username {name!r}.")
    if existing is None:
        if not ctx.settings.open_signup:
            raise Forbidden(
                "Sign-up is closed on this registry. Ask an administrator to create your "
                "account (airlock user create)."
            )
        email = body.get("email") if isinstance(body.get("email"), str) else None
        user = await accounts.create_user(ctx, name, password, email)
        token = await issue_session_token(ctx, user)
        return json_response(
            {
                "ok": True,
                "id": f"{_COUCH_PREFIX}{name}",
                "token": token,
                "message": f"user '{name}' created",
            },
            status=201,
        )
    user = await accounts.check_password(ctx, name, password)
    await login_second_factor(ctx, user, request)
    token = await issue_session_token(ctx, user)
    return json_response(
        {
            "ok": True,
            "id": f"{_COUCH_PREFIX}{name}",
            "token": token,
            "message": f"you are authenticated as '{name}'",
        },
        status=201,
    )


async def login_second_factor(ctx: Ctx, user: User, request: Request) -> None:
    """Accounts with 2FA (either mode) need a code at login: npm prompts and re-sends."""
    await check_login_otp(ctx, user, request.headers.get("npm-otp"))


@router.get("/-/user/{couch_id}")
async def get_user(couch_id: str, ctx: Ctx) -> Response:
    """Used by `npm owner add|rm` to look a user up (name and email only)."""
    user = await accounts.get_user(ctx, _user_from_path(couch_id))
    if user is None:
        raise NotFound(f"User {_user_from_path(couch_id)} not found.")
    return json_response(
        {"_id": f"{_COUCH_PREFIX}{user.name}", "name": user.name, "email": user.email}
    )


@router.get("/-/whoami")
async def whoami(principal: CurrentPrincipal) -> Response:
    if principal.user is None:
        raise Unauthorized("You are not logged in.")
    return json_response({"username": principal.user.name})


@router.delete("/-/user/token/{token}")
async def logout(token: str, principal: CurrentPrincipal, ctx: Ctx) -> Response:
    if principal.user is None:
        raise Unauthorized("You are not logged in.")
    if not await revoke_token_value(ctx, principal.user.id, unquote(token)):
        raise NotFound("Token not found.")
    return json_response({"ok": True, "message": "Logged out"})
