"""Two-factor settings in the browser: TOTP enrolment (QR code, confirming code, recovery
codes shown once) and disabling, through the same service as `npm profile enable-2fa`."""

from __future__ import annotations

import base64
import io
from urllib.parse import parse_qs, urlsplit

from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.accounts import service as accounts
from airlock.errors import AirlockError
from airlock.twofactor import service as twofactor
from airlock.web.deps import Ctx, client_ip
from airlock.web.ui import session as web
from airlock.web.ui.render import PREFIX, page

router = APIRouter(prefix=PREFIX)


def _qr_data_uri(url: str) -> str:
    import segno  # on first use: ~1 MiB a worker would carry from start-up

    buf = io.BytesIO()
    segno.make(url, error="m").save(buf, kind="svg", scale=5, border=2)
    return "data:image/svg+xml;base64," + base64.b64encode(buf.getvalue()).decode()


async def _page(
    request: Request, ctx: Ctx, name: str, status: int = 200, **values: object
) -> Response:
    account = await accounts.get_user(ctx, name)
    enabled = account is not None and twofactor.is_enabled(account)
    mode = account.tfa_mode if account is not None else None
    return page(
        request,
        "twofactor.html",
        status,
        title="Two-factor authentication",
        enabled=enabled,
        mode=mode,
        **values,
    )


@router.get("/account/2fa")
async def show(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    user = web.signed_in(request, state)
    return await _page(request, ctx, user.name)


@router.post("/account/2fa/start")
async def start(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    data = await web.form(request, ctx, state)
    user = web.signed_in(request, state)
    try:
        url = await twofactor.start_enrolment(
            ctx,
            user.id,
            web.field(data, "password", False),
            web.field(data, "mode", False) or "auth-and-writes",
            None,
            client_ip=client_ip(request),
        )
    except AirlockError as exc:
        return await _page(request, ctx, user.name, exc.status, error=exc.message)
    assert url is not None
    secret = parse_qs(urlsplit(url).query).get("secret", [""])[0]
    return await _page(request, ctx, user.name, qr=_qr_data_uri(url), secret=secret)


@router.post("/account/2fa/confirm")
async def confirm(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    data = await web.form(request, ctx, state)
    user = web.signed_in(request, state)
    try:
        codes = await twofactor.confirm_enrolment(ctx, user.id, web.field(data, "code", False))
    except AirlockError as exc:
        return await _page(request, ctx, user.name, exc.status, error=exc.message, confirming=True)
    return await _page(request, ctx, user.name, recovery=codes)


@router.post("/account/2fa/disable")
async def disable(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    data = await web.form(request, ctx, state)
    user = web.signed_in(request, state)
    try:
        await twofactor.disable(
            ctx,
            user.id,
            web.field(data, "password", False),
            web.field(data, "code", False) or None,
            client_ip=client_ip(request),
        )
    except AirlockError as exc:
        return await _page(request, ctx, user.name, exc.status, error=exc.message)
    return await _page(request, ctx, user.name, notice="Two-factor authentication is off.")
