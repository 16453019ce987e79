"""npm wire routes: couch-style adduser/login, whoami, logout."""

from __future__ import annotations

from urllib.parse import unquote

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.accounts import service as accounts
from airlock.accounts.models import User
from airlock.authz.second_factor import require_login
from airlock.errors import BadRequest, Forbidden, NotFound, Unauthorized
from airlock.tokens.service import issue_session_token, revoke_token_value
from airlock.web.deps import ClientIp, Ctx, CurrentPrincipal, CurrentUser, read_json_object
from airlock.web.npm.responses import json_response

router = APIRouter()

_COUCH_PREFIX = "org.couchdb.user:"


def _user_from_path(raw: str) -> str:
    name = unquote(raw)
    return name[len(_COUCH_PREFIX) :] if name.startswith(_COUCH_PREFIX) else name


@router.put("/-/user/{couch_id}")
async def adduser_or_login(couch_id: str, request: Request, ctx: Ctx, ip: ClientIp) -> Response:
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
    if existing is None and not is_signup(request, body):
        existing = await login_unknown_name(ctx, request, name, password, ip)
    if existing is None:
        if not ctx.settings.open_signup:
            raise Forbidden(
                "Sign-up is closed on this registry. Ask an administrator to create your "
                "account (airlock user create)."
            )
        email = body.get("email")
        if not isinstance(email, str) or not email.strip():
            raise BadRequest("An e-mail address is required to create an account.")
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
    user = await accounts.verify_credentials(ctx, password, ip, name=name)
    await require_login(ctx, user, request.headers.get("npm-otp"))
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


def is_signup(request: Request, body: dict[str, object]) -> bool:
    """Only a sign-up may create an account; a login for an unknown name must not.

    npm's adduser sends `npm-command: adduser` and an e-mail; npm's login sends
    `npm-command: login` and none. pnpm's login (a sign-up-or-login form) always sends
    an e-mail and no npm-command. yarn's login sends neither, so it never creates one.
    """
    command = request.headers.get("npm-command")
    if command == "adduser":
        return True
    return command != "login" and "email" in body


async def login_unknown_name(ctx: Ctx, request: Request, name: str, password: str, ip: str) -> User:
    """A login for a name that did not exist a moment ago: the password check runs anyway
    (same timing as a wrong password), and its refusal is what each client shows for a
    wrong user name. (If the account appeared meanwhile and the password is right, it is
    simply a login.)"""
    try:
        return await accounts.verify_credentials(ctx, password, ip, name=name)
    except Unauthorized:
        if request.headers.get("npm-command") == "login":
            # npm turns a 400 on login into "There is no user with the username ...".
            raise BadRequest(f"There is no user with the username {name!r}.") from None
        # yarn shows "Invalid authentication (attempted as NAME)" for this 401.
        raise


@router.get("/-/user/{couch_id}")
async def get_user(couch_id: str, ctx: Ctx, principal: CurrentPrincipal) -> Response:
    """Used by `npm owner add|rm` to look a user up. The e-mail address only for the
    account holder themself: anyone else (anonymous included) gets the name."""
    user = await accounts.get_user(ctx, _user_from_path(couch_id))
    if user is None:
        raise NotFound(f"User {_user_from_path(couch_id)} not found.")
    body: dict[str, str | None] = {"_id": f"{_COUCH_PREFIX}{user.name}", "name": user.name}
    if principal.user is not None and principal.user.id == user.id:
        body["email"] = user.email
    return json_response(body)


@router.get("/-/whoami")
async def whoami(caller: CurrentUser) -> Response:
    return json_response({"username": caller.user.name})


@router.delete("/-/user/token/{token}")
async def logout(token: str, caller: CurrentUser, ctx: Ctx) -> Response:
    if not await revoke_token_value(ctx, caller.user.id, unquote(token)):
        raise NotFound("Token not found.")
    return json_response({"ok": True, "message": "Logged out"})
