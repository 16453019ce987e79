"""Operator basics against a live server: health, readiness, metrics, logs, shutdown."""

from __future__ import annotations

import json
import signal
import socket
import time

import httpx

from tests.support.packages import make_package_dir, publish_body
from tests.support.users import signup

TOKEN = "metrics-secret-for-tests"


def _ops_server(server_factory, **env: str):
    return server_factory(
        env={
            "AIRLOCK_METRICS_TOKEN": TOKEN,
            "AIRLOCK_LOG_FORMAT": "json",
            "AIRLOCK_LOG_LEVEL": "info",
            **env,
        }
    )


def test_health_and_ready_answer_json(server):
    http = server.client()
    health = http.get("/-/health")
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    ready = http.get("/-/ready")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ok", "checks": {"database": "ok", "blobs": "ok"}}


def test_metrics_need_the_token_and_count_requests_publishes_and_stages(
    server_factory, npm_factory, tmp_path
):
    srv = _ops_server(server_factory)
    http = srv.client()
    assert http.get("/-/metrics").status_code == 401
    assert http.get("/-/metrics", headers={"authorization": "Bearer wrong"}).status_code == 401
    alice = npm_factory(srv, "alice", signup(srv.url, "alice"))
    alice.ok("publish", cwd=make_package_dir(tmp_path, "metered", "1.0.0"))
    alice.ok("stage", "publish", cwd=make_package_dir(tmp_path / "s", "metered", "1.1.0"))
    assert http.get("/metered").status_code == 200
    resp = http.get("/-/metrics", headers={"authorization": f"Bearer {TOKEN}"})
    assert resp.status_code == 200 and resp.headers["content-type"].startswith("text/plain")
    text = resp.text
    assert 'airlock_http_requests_total{method="GET",route="/{name:pkg}",status="200"}' in text
    assert "airlock_http_request_duration_seconds_bucket{" in text
    assert "airlock_publishes_total 1.0" in text
    assert "airlock_stages_created_total 1.0" in text
    assert 'airlock_stages{state="pending"} 1.0' in text
    assert 'airlock_versions{state="published"} 1.0' in text
    # Multi-process mode: samples live in files every worker writes and any worker sums.
    assert list((tmp_path / "data" / "metrics").glob("*.db"))


def test_metrics_are_404_without_a_token_setting(server):
    assert server.client().get("/-/metrics").status_code == 404


def test_one_json_log_line_per_request_without_secrets(server_factory, npm_factory, tmp_path):
    srv = _ops_server(server_factory)
    token = signup(srv.url, "alice")
    alice = npm_factory(srv, "alice", token)
    alice.ok("publish", cwd=make_package_dir(tmp_path, "logged", "1.0.0"))
    resp = srv.client(token).get("/logged", headers={"x-request-id": "req-123"})
    assert resp.headers["x-request-id"] == "req-123"
    time.sleep(0.3)
    raw = srv.log.read_text()
    assert token not in raw and "correct-horse-9" not in raw
    lines = [json.loads(line) for line in raw.splitlines() if line.startswith("{")]
    requests = [line for line in lines if line.get("event") == "request"]
    mine = [line for line in requests if line.get("request_id") == "req-123"]
    assert len(mine) == 1
    assert mine[0]["route"] == "/{name:pkg}" and mine[0]["status"] == 200
    assert mine[0]["user"] == "alice" and mine[0]["duration_ms"] >= 0
    publish = [line for line in requests if line["method"] == "PUT" and line["user"] == "alice"]
    assert publish and all(isinstance(line["request_id"], str) for line in publish)


def test_sigterm_lets_an_in_flight_publish_finish(server_factory, tmp_path):
    srv = server_factory()
    token = signup(srv.url, "alice")
    body = json.dumps(publish_body("slow-pkg", "1.0.0", registry=srv.url)).encode()
    head = (
        f"PUT /slow-pkg HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
        "Connection: close\r\n\r\n"
    ).encode()
    sock = socket.create_connection(("127.0.0.1", srv.port), timeout=30)
    sock.sendall(head + body[: len(body) // 2])
    time.sleep(0.5)
    assert srv.proc is not None and srv.proc.pid is not None
    __import__("os").kill(srv.proc.pid, signal.SIGTERM)  # the server we started, by pid
    time.sleep(1.0)  # the slow client is still sending while the server shuts down
    # New connections are refused once shutdown began...
    try:
        refused = httpx.get(f"{srv.url}/-/ping", timeout=2).status_code != 200
    except httpx.HTTPError:
        refused = True
    assert refused
    # ...but the request in flight completes.
    sock.sendall(body[len(body) // 2 :])
    answer = b""
    while chunk := sock.recv(65536):
        answer += chunk
    sock.close()
    assert answer.startswith(b"HTTP/1.1 201"), answer[:300]
    deadline = time.monotonic() + 15
    while srv.running and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not srv.running
    again = server_factory()
    assert again.client().get("/slow-pkg").json()["dist-tags"]["latest"] == "1.0.0"


async def test_ready_is_503_with_the_reason_when_the_database_is_unreachable(tmp_path):
    from airlock.bootstrap import build_context
    from airlock.settings import Settings
    from airlock.web.app import create_app

    settings = Settings(
        data=tmp_path / "data", database_url=f"sqlite:///{tmp_path}/missing/dir/airlock.db"
    )
    ctx = build_context(settings)
    transport = httpx.ASGITransport(app=create_app(ctx))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as http:
        resp = await http.get("/-/ready")
        assert (await http.get("/-/health")).status_code == 200
    await ctx.db.dispose()
    assert resp.status_code == 503
    body = resp.json()
    assert body["status"] == "unavailable" and body["checks"]["blobs"] == "ok"
    assert body["checks"]["database"].startswith("error:")
