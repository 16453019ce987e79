"""JSON responses the way the npm CLI reads them."""

from __future__ import annotations

from typing import Any

import orjson
from starlette.responses import Response

NO_STORE = {"cache-control": "no-store"}


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None, *, cache: bool = False
) -> Response:
    """orjson-encoded JSON. Dynamic answers are `no-store` unless `cache` is set."""
    merged = {} if cache else dict(NO_STORE)
    merged.update(headers or {})
    return Response(
        orjson.dumps(body), status_code=status, media_type="application/json", headers=merged
    )


def error_body(message: str) -> dict[str, str]:
    # npm prints only `error`; npmjs's newer endpoints use `message`. Send both.
    return {"error": message, "message": message}


def ok(message: str, status: int = 200, **extra: Any) -> Response:
    return json_response({"ok": True, "message": message, **extra}, status=status)
