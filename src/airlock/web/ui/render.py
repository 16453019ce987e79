"""One Jinja environment (autoescape on), one layout, and the headers every page carries."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.requests import Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

HERE = Path(__file__).parent
PREFIX = "/-/web"

# No inline script or style anywhere: script-src/style-src 'self' only. frame-ancestors
# 'none' stops clickjacking the Approve button.
CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-frame-options": "DENY",
    "x-content-type-options": "nosniff",
    # authUrl/loginUrl paths are capabilities: never leak them in a Referer.
    "referrer-policy": "no-referrer",
    "cache-control": "no-store",
}


def _ago(when: datetime, now: datetime | None = None) -> str:
    seconds = int(((now or datetime.now(UTC)) - when).total_seconds())
    future = seconds < 0
    seconds = abs(seconds)
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            n = seconds // size
            text = f"{n} {unit}{'s' if n != 1 else ''}"
            return f"in {text}" if future else f"{text} ago"
    return "in under a minute" if future else "just now"


def _size(n: int) -> str:
    value = float(n)
    for unit in ("B", "kB", "MB"):
        if value < 1000 or unit == "MB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{n} B"


def _when(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


env = Environment(
    loader=FileSystemLoader(HERE / "templates"),
    autoescape=select_autoescape(default=True, default_for_string=True),
    trim_blocks=True,
    lstrip_blocks=True,
)
env.filters["ago"] = _ago
env.filters["size"] = _size
env.filters["when"] = _when
env.globals["prefix"] = PREFIX


COOKIE = "airlock_session"


def page(request: Request, template: str, status: int = 200, **values: Any) -> Response:
    state = getattr(request.state, "web_session", None)
    body = env.get_template(template).render(
        request=request,
        me=state.user if state is not None else None,
        csrf=state.csrf if state is not None else "",
        open_signup=request.app.state.ctx.settings.open_signup,
        **values,
    )
    return with_cookie(request, HTMLResponse(body, status_code=status, headers=SECURITY_HEADERS))


def redirect(request: Request, url: str) -> Response:
    return with_cookie(request, RedirectResponse(url, status_code=303, headers=SECURITY_HEADERS))


def with_cookie(request: Request, response: Response) -> Response:
    """Attach a session cookie issued during this request (new visitor or sign-in step)."""
    secure = is_https(request)
    if getattr(request.state, "clear_cookie", False):
        response.delete_cookie(COOKIE, path="/", httponly=True, samesite="lax", secure=secure)
    secret = getattr(request.state, "set_cookie", None)
    if secret is not None:
        response.set_cookie(COOKIE, secret, httponly=True, samesite="lax", secure=secure, path="/")
    return response


def is_https(request: Request) -> bool:
    base = str(request.app.state.ctx.settings.base_url)
    return request.url.scheme == "https" or base.startswith("https://")


def error_page(request: Request, status: int, message: str) -> Response:
    titles = {
        400: "That request was not valid",
        401: "Please sign in",
        403: "Not allowed",
        404: "Not found",
        409: "Already decided",
        410: "This link has been used",
        413: "Too large",
        429: "Slow down",
    }
    title = titles.get(status, "Something went wrong")
    return page(request, "message.html", status, title=title, message=message)


def is_ui_path(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")
