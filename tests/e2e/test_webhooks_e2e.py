"""Webhooks from a live server to a receiver on 127.0.0.1: signature, retry, restart."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

from tests.support.packages import publish_body
from tests.support.server import free_port
from tests.support.users import signup

SECRET = "receiver-secret-0123456789"


class Receiver:
    """Records every POST; answers 500 to the first `fail` of them."""

    def __init__(self, port: int, fail: int = 0) -> None:
        self.calls: list[tuple[int, dict[str, str], bytes]] = []
        self.fail = fail
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers["content-length"]))
                status = 500 if receiver.fail > 0 else 200
                receiver.fail -= 1
                receiver.calls.append(
                    (status, {k.lower(): v for k, v in self.headers.items()}, body)
                )
                self.send_response(status)
                self.send_header("content-length", "0")
                self.end_headers()

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def delivered(self) -> list[tuple[dict[str, str], dict[str, Any]]]:
        return [(h, json.loads(b)) for s, h, b in self.calls if s == 200]

    def wait(self, count: int, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and len(self.delivered()) < count:
            time.sleep(0.1)

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _env(port: int) -> dict[str, str]:
    hooks = [
        {
            "url": f"http://127.0.0.1:{port}/hook",
            "secret": SECRET,
            "events": ["package:version:staged"],
        }
    ]
    return {"AIRLOCK_WEBHOOKS": json.dumps(hooks), "AIRLOCK_NOTIFY_RETRY_SECONDS": "0.5"}


def _stage(url: str, token: str, name: str, version: str) -> str:
    resp = httpx.post(
        f"{url}/-/stage/package/{name}",
        json=publish_body(name, version),
        headers={"authorization": f"Bearer {token}"},
    )
    assert resp.status_code == 201, resp.text
    stage_id: str = resp.json()["stageId"]
    return stage_id


def test_signed_webhook_delivered_once_after_a_failed_attempt(server_factory):
    port = free_port()
    receiver = Receiver(port, fail=1)
    try:
        server = server_factory(env=_env(port))
        token = signup(server.url, "alice")
        stage_id = _stage(server.url, token, "pkg-w", "1.0.0")
        receiver.wait(1)
        time.sleep(1.5)  # a second success would have arrived by now
        [(headers, body)] = receiver.delivered()
        assert [s for s, _, _ in receiver.calls] == [500, 200]
        raw = receiver.calls[-1][2]
        ts = headers["x-airlock-timestamp"]
        expected = hmac.new(SECRET.encode(), f"{ts}.".encode() + raw, hashlib.sha256).hexdigest()
        assert headers["x-airlock-signature"] == f"sha256={expected}"
        assert abs(int(ts) - time.time()) < 60
        assert body["event"] == "package:version:staged"
        assert (body["package"], body["version"], body["stageId"]) == ("pkg-w", "1.0.0", stage_id)
        assert body["actor"] == "alice" and body["time"].endswith("Z")
        assert body["link"] == f"{server.url}/-/stage/{stage_id}"
        # Both attempts carried the same delivery id (receivers de-duplicate on it).
        assert receiver.calls[0][1]["x-airlock-delivery"] == headers["x-airlock-delivery"]
    finally:
        receiver.close()


def test_delivered_after_the_server_is_killed_before_sending(server_factory, tmp_path):
    port = free_port()  # nothing listens here yet: the first attempts fail
    first = server_factory(env=_env(port), data=tmp_path / "data")
    token = signup(first.url, "alice")
    stage_id = _stage(first.url, token, "pkg-k", "1.0.0")
    assert first.proc is not None
    first.proc.kill()  # SIGKILL: no graceful shutdown, nothing flushed
    time.sleep(0.5)
    receiver = Receiver(port)
    try:
        server_factory(env=_env(port), data=tmp_path / "data")
        receiver.wait(1)
        time.sleep(1.5)
        [(_, body)] = receiver.delivered()
        assert body["stageId"] == stage_id
    finally:
        receiver.close()
