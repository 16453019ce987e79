"""Slow, silent, oversized and too many connections are cut off (review D8, issue #8.20/.25).

Raw sockets against a live `airlock serve`, with short timeouts set through settings.
"""

from __future__ import annotations

import contextlib
import socket
import time

import httpx

LIMITS = {
    "AIRLOCK_HEADER_TIMEOUT_SECONDS": "2",
    "AIRLOCK_BODY_TIMEOUT_SECONDS": "2",
    "AIRLOCK_BODY_MIN_BYTES_PER_SECOND": "1024",
    "AIRLOCK_MAX_CONNECTIONS_PER_CLIENT": "6",
}
USER_PATH = "/-/user/org.couchdb.user:slow"


def _connect(server) -> socket.socket:
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=15)
    return sock


def _read_all(sock: socket.socket) -> bytes:
    """Everything until the server closes the connection."""
    chunks = []
    while True:
        try:
            chunk = sock.recv(65536)
        except ConnectionResetError:
            break
        if not chunk:
            break
        chunks.append(chunk)
    return b"".join(chunks)


def _still_serving(server) -> None:
    assert httpx.get(f"{server.url}/-/ping", timeout=5).status_code == 200


def test_a_4_mib_header_is_refused(server_factory):
    server = server_factory(env=LIMITS)
    with _connect(server) as sock:
        head = b"GET /-/ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * (4 << 20) + b"\r\n\r\n"
        # The server may close before we finish sending.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(head)
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    assert b'"error"' in answer
    _still_serving(server)


def test_headers_just_over_the_limit_in_one_packet_are_refused(server_factory):
    server = server_factory(env={**LIMITS, "AIRLOCK_MAX_HEADER_BYTES": "4096"})
    with _connect(server) as sock:
        sock.sendall(b"GET /-/ping HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 5000 + b"\r\n\r\n")
        answer = _read_all(sock)
    assert answer.startswith(b"HTTP/1.1 431 "), answer[:200]
    # Ordinary headers pass.
    ok = httpx.get(f"{server.url}/-/ping", headers={"x-some": "a" * 2000}, timeout=5)
    assert ok.status_code == 200


def test_slowloris_headers_are_timed_out(server_factory):
    server = server_factory(env=LIMITS)
    with _connect(server) as sock:
        sock.sendall(b"GET /-/ping HTTP/1.1\r\n")
        started = time.monotonic()
        sock.settimeout(0.5)
        answer = b""
        while time.monotonic() - started < 10:
            try:
                sock.sendall(b"X")  # one header byte at a time, forever
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert elapsed < 5, elapsed
    _still_serving(server)


def test_a_silent_connection_is_closed(server_factory):
    server = server_factory(env=LIMITS)
    with _connect(server) as sock:
        started = time.monotonic()
        answer = _read_all(sock)
    assert time.monotonic() - started < 5
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]


def _body_request(length: int) -> bytes:
    return (
        f"PUT {USER_PATH} HTTP/1.1\r\nHost: x\r\ncontent-type: application/json\r\n"
        f"content-length: {length}\r\n\r\n"
    ).encode()


def test_a_stalled_body_is_timed_out(server_factory):
    server = server_factory(env=LIMITS)
    with _connect(server) as sock:
        sock.sendall(_body_request(1000) + b'{"name": ')
        started = time.monotonic()
        answer = _read_all(sock)
    assert 1.5 < time.monotonic() - started < 6
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    _still_serving(server)


def test_a_trickling_body_is_timed_out(server_factory):
    server = server_factory(env=LIMITS)
    with _connect(server) as sock:
        sock.sendall(_body_request(1 << 20))
        sock.settimeout(0.5)
        started = time.monotonic()
        answer = b""
        while time.monotonic() - started < 15:
            try:
                sock.sendall(b" " * 10)  # 20 bytes/s: far below 1 KiB/s
                chunk = sock.recv(4096)
                if not chunk:
                    break
                answer += chunk
            except TimeoutError:
                continue
            except (BrokenPipeError, ConnectionResetError):
                break
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 408 "), answer[:200]
    assert elapsed < 6, elapsed
    _still_serving(server)


def test_a_steady_upload_is_not_cut_off(server_factory):
    """A body that keeps arriving above the floor rate is fine, even after the timeout."""
    server = server_factory(env=LIMITS)
    body = b'{"name": "slow", "password": "correct-horse-9", "x": "' + b"a" * 12000 + b'"}'
    with _connect(server) as sock:
        sock.sendall(_body_request(len(body)))
        for i in range(0, len(body), 2000):  # 4 KB/s for 3 s
            sock.sendall(body[i : i + 2000])
            time.sleep(0.5)
        answer = sock.recv(4096)
    assert not answer.startswith(b"HTTP/1.1 408"), answer[:200]


def test_connections_per_client_are_capped(server_factory):
    server = server_factory(env={**LIMITS, "AIRLOCK_HEADER_TIMEOUT_SECONDS": "30"})
    held = [_connect(server) for _ in range(6)]
    try:
        time.sleep(0.3)
        with _connect(server) as extra:
            answer = _read_all(extra)
        assert answer.startswith(b"HTTP/1.1 429 "), answer[:200]
        held.pop().close()
        time.sleep(0.3)
        with _connect(server) as sock:
            sock.sendall(b"GET /-/ping HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            assert _read_all(sock).startswith(b"HTTP/1.1 200 ")
    finally:
        for sock in held:
            sock.close()
