"""How errors look to a browser (an HTML page) and npm's web 2FA challenge on OTP errors."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from airlock.errors import AirlockError
from airlock.twofactor.errors import OtpMissing
from airlock.web.npm.responses import error_body, json_response
from airlock.web.ui.cli import challenge
from airlock.web.ui.render import PREFIX, error_page, is_ui_path, redirect
from airlock.web.ui.session import SignInNeeded

__all__ = ["html_error", "is_ui_path", "web_otp_challenge"]


def html_error(request: Request, exc: AirlockError) -> Response:
    if request.url.path.endswith("/options"):
        # The passkey endpoints are fetched by script, which reads {"error": ...}.
        return json_response(error_body(exc.message), exc.status)
    if isinstance(exc, SignInNeeded):
        return redirect(request, f"{PREFIX}/sign-in?next={exc.next_url}")
    return error_page(request, exc.status, exc.message)


async def web_otp_challenge(
    request: Request, exc: AirlockError, headers: dict[str, str]
) -> dict[str, Any]:
    """authUrl/doneUrl for a write sent without a code (npm's default auth-type web).

    Not for `--otp` / `--auth-type=legacy` (npm-auth-type: legacy): npm then prompts for a
    code. A stage decision offers it to every other client too (yarn sends no
    npm-auth-type and reads the npm-notice header; pnpm follows authUrl); the other writes
    only to a client that asked for the web flow (npm-auth-type: web), so pnpm's and
    yarn's publish prompts stay as they are.
    """
    if not isinstance(exc, OtpMissing) or exc.user_id is None or exc.target is None:
        return {}
    auth_type = request.headers.get("npm-auth-type")
    if auth_type == "legacy" or (not exc.target.is_decision and auth_type != "web"):
        return {}
    urls = await challenge(request.app.state.ctx, exc.user_id, exc.target)
    headers["npm-notice"] = f"Open {urls['authUrl']} to use your security key for authentication"
    return urls
