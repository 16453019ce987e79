"""The one place AirlockError (and framework errors) become HTTP responses."""

from __future__ import annotations

import logging

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from airlock.errors import AirlockError, OtpRequired, TooManyRequests, Unauthorized
from airlock.web.npm.clients import localise
from airlock.web.npm.responses import error_body, json_response
from airlock.web.ui import errors as ui_errors

log = logging.getLogger("airlock")

_STATUS_TEXT = {404: "Not found", 405: "Method not allowed"}


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(AirlockError)
    async def _airlock_error(request: Request, exc: AirlockError) -> Response:
        if ui_errors.is_ui_path(request.url.path):
            return ui_errors.html_error(request, exc)
        headers: dict[str, str] = {}
        # Commands the message tells the user to run are named for the client that asked.
        body = error_body(localise(exc.message, request.headers.get("user-agent")))
        if isinstance(exc, OtpRequired):
            headers["www-authenticate"] = "OTP"
            # npm's web 2FA: authUrl + doneUrl (and npm-notice for yarn), unless --otp.
            body.update(await ui_errors.web_otp_challenge(request, exc, headers))
        elif isinstance(exc, Unauthorized):
            headers["www-authenticate"] = exc.challenge
        elif isinstance(exc, TooManyRequests) and exc.retry_after is not None:
            headers["retry-after"] = str(exc.retry_after)
        return json_response(body, exc.status, headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException) -> Response:
        message = _STATUS_TEXT.get(exc.status_code, str(exc.detail))
        if ui_errors.is_ui_path(request.url.path):
            return ui_errors.html_error(request, AirlockError(message, status=exc.status_code))
        return json_response(error_body(message), exc.status_code, dict(exc.headers or {}))

    @app.exception_handler(RequestValidationError)
    async def _validation_error(_: Request, exc: RequestValidationError) -> Response:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        message = f"Invalid request: {where} {first.get('msg', '')}".strip()
        return json_response(error_body(message), 400)

    @app.exception_handler(Exception)
    async def _unexpected(_: Request, exc: Exception) -> Response:
        log.exception("unhandled error", exc_info=exc)
        return json_response(error_body("Internal server error"), 500)
