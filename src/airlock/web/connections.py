"""Connection-level limits uvicorn lacks: header/body read timeouts, header size, per-client cap.

uvicorn closes idle keep-alive connections (`timeout_keep_alive`) but never times out a
request that is still arriving, and with httptools it has no header size limit
(`h11_max_incomplete_event_size` applies to h11 only). These limits have to act before
the application is called (a slow header never reaches ASGI), so they live in a subclass
of uvicorn's httptools protocol that `airlock serve` installs.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import time
from collections import Counter
from typing import Any, cast

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from airlock.settings import Settings


def _reply(status: str, message: str) -> bytes:
    body = json.dumps({"error": message}).encode()
    return (
        f"HTTP/1.1 {status}\r\ncontent-type: application/json\r\n"
        f"content-length: {len(body)}\r\nconnection: close\r\n\r\n"
    ).encode() + body


class GuardedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with read timeouts, a head size limit and a client cap."""

    settings: Settings
    per_client: Counter[str]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._timer: asyncio.TimerHandle | None = None
        self._in_head = True
        self._head_bytes = 0
        self._head_too_big = False
        self._body_started = 0.0
        self._body_bytes = 0
        self._counted: str | None = None

    # Connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        # Response head and a small body leave in one write (web/connections.py, below).
        self.transport = cast(asyncio.Transport, _OneWriteTransport(transport, self.loop))
        cap = self.settings.max_connections_per_client
        host = self.client[0] if self.client else None
        if cap > 0 and host is not None:
            if self.per_client[host] >= cap:
                self._refuse("429 Too Many Requests", f"More than {cap} connections at once.")
                return
            self.per_client[host] += 1
            self._counted = host
        self._arm(self.settings.header_timeout_seconds, "Request headers not received in time.")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self._counted is not None:
            self.per_client[self._counted] -= 1
            if self.per_client[self._counted] <= 0:
                del self.per_client[self._counted]
            self._counted = None
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._in_head:
            self._head_bytes += len(data)
        super().data_received(data)
        # Headers still incomplete and already over the limit (a slow or huge head).
        if self._in_head and self._head_bytes > self.settings.max_header_bytes:
            self._head_too_big = True
        if self._head_too_big and not self.transport.is_closing():
            self._refuse("431 Request Header Fields Too Large", self._head_message())

    # Parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self._arm(self.settings.header_timeout_seconds, "Request headers not received in time.")

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self._disarm()
        if self._head_too_big:
            return
        super().on_headers_complete()
        self._body_started = time.monotonic()
        self._body_bytes = 0
        if self.cycle is not None and self.cycle.more_body:
            self._arm(self.settings.body_timeout_seconds, "Request body not received in time.")

    def on_body(self, body: bytes) -> None:
        if self._head_too_big:
            return
        super().on_body(body)
        self._body_bytes += len(body)
        elapsed = time.monotonic() - self._body_started
        floor = self.settings.body_min_bytes_per_second
        if elapsed > self.settings.body_timeout_seconds and self._body_bytes < floor * elapsed:
            self._refuse("408 Request Timeout", "Request body arrived too slowly.")
            return
        self._arm(self.settings.body_timeout_seconds, "Request body not received in time.")

    def on_message_complete(self) -> None:
        self._disarm()
        if self._head_too_big:
            return
        super().on_message_complete()

    def send_400_response(self, msg: str) -> None:
        # A callback refusing an oversized head stops the parser, which uvicorn reports as
        # a parse error: answer what really happened.
        if self._head_too_big:
            self._refuse("431 Request Header Fields Too Large", self._head_message())
            return
        super().send_400_response(msg)

    # Helpers

    def _head_message(self) -> str:
        return f"Request headers exceed {self.settings.max_header_bytes} bytes."

    def _count_head(self, size: int) -> None:
        self._head_bytes += size
        if self._head_bytes > self.settings.max_header_bytes:
            self._head_too_big = True
            raise ValueError("request head too large")  # stops httptools' parser

    def _arm(self, seconds: float, message: str) -> None:
        self._disarm()
        if seconds > 0:
            self._timer = self.loop.call_later(seconds, self._timed_out, message)

    def _disarm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _timed_out(self, message: str) -> None:
        self._timer = None
        self._refuse("408 Request Timeout", message)

    def _refuse(self, status: str, message: str) -> None:
        """Answer (unless a response already started) and close the connection."""
        self._disarm()
        if self.transport.is_closing():
            return
        if self.cycle is None or not self.cycle.response_started:
            self.transport.write(_reply(status, message))
        if self.cycle is not None:
            self.cycle.keep_alive = False
        self.transport.close()


# A response head is held back for the body that follows it in the same loop step, up to
# this body size (a bigger body is written after the head, not copied into one buffer).
_JOIN_LIMIT = 64 * 1024


class _OneWriteTransport:
    """The connection's transport, with uvicorn's two writes per response made one.

    uvicorn writes the status line and headers, then the body: two `send` calls and two
    TCP segments for every small response (the read fast path's packuments and tarballs).
    A write that ends a response head is held until the next write (the body, in the same
    task step) or the end of this loop iteration, whichever comes first, so nothing is
    ever delayed past the current step. Everything else passes straight through.
    """

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None

    def write(self, data: bytes | bytearray | memoryview) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if len(data) <= _JOIN_LIMIT:
                self._transport.write(held + bytes(data))
                return
            self._transport.write(held)
        elif len(data) <= _JOIN_LIMIT and bytes(data[-4:]) == b"\r\n\r\n":
            self._held = bytes(data)
            self._loop.call_soon(self.flush)
            return
        self._transport.write(data)

    def flush(self) -> None:
        held, self._held = self._held, None
        if held is not None and not self._transport.is_closing():
            self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def write_eof(self) -> None:
        self.flush()
        self._transport.write_eof()

    def abort(self) -> None:
        self._held = None
        self._transport.abort()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)


def protocol_class(settings: Settings) -> type[GuardedHttpProtocol]:
    """The protocol class for one server, bound to its settings (uvicorn's `http=`)."""
    return type(
        "AirlockHttpProtocol",
        (GuardedHttpProtocol,),
        {"settings": settings, "per_client": Counter()},
    )


@functools.cache
def _worker_protocol() -> type[GuardedHttpProtocol]:
    from airlock.web.workers import SETTINGS_ENV

    return protocol_class(Settings.model_validate_json(os.environ[SETTINGS_ENV]))


def __getattr__(name: str) -> type[GuardedHttpProtocol]:
    # `serve --workers N` hands uvicorn "airlock.web.connections:WorkerHttpProtocol": worker
    # processes are spawned, so the class is built in each from the settings the parent
    # resolved (a class made at run time cannot be pickled across).
    if name == "WorkerHttpProtocol":
        return _worker_protocol()
    raise AttributeError(name)
