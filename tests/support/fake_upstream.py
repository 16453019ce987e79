"""A tiny registry on 127.0.0.1 that the tests steer: healthy, slow, down-ish or garbage.

Used as an uplink where another Airlock cannot misbehave on demand. It records every
request it gets, so tests can prove that Airlock did (or did not) ask it.
"""

from __future__ import annotations

import hashlib
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import unquote

import orjson

from tests.support.packages import integrity, make_tarball


@dataclass
class FakeUpstream:
    mode: str = "ok"  # ok | slow | garbage | error | bad-tarball
    delay: float = 3.0
    versions: dict[str, bytes] = field(default_factory=dict)
    name: str = "fake-pkg"
    requests: list[tuple[str, dict[str, str]]] = field(default_factory=list)
    etag: str = '"v1"'

    def add_version(self, version: str) -> bytes:
        data = make_tarball(self.name, version)
        self.versions[version] = data
        self.etag = f'"v{len(self.versions)}-{"-".join(self.versions)}"'
        return data

    def remove_version(self, version: str) -> None:
        del self.versions[version]
        self.etag = f'"removed-{version}-{len(self.versions)}"'

    def packument(self) -> dict[str, Any]:
        versions = {
            v: {
                "name": self.name,
                "version": v,
                "dist": {
                    "tarball": f"http://elsewhere.invalid/{self.name}/-/{self.name}-{v}.tgz",
                    "integrity": integrity(data),
                    "shasum": hashlib.sha1(data).hexdigest(),
                },
            }
            for v, data in self.versions.items()
        }
        latest = list(self.versions)[-1] if self.versions else None
        return {
            "name": self.name,
            "dist-tags": {"latest": latest} if latest else {},
            "versions": versions,
            "time": {"modified": "2026-11-30T10:00:00.000Z"},
        }

    def start(self) -> FakeUpstream:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                path = unquote(self.path)  # Airlock asks for /@scope%2Fname
                fake.requests.append((path, {k.lower(): v for k, v in self.headers.items()}))
                if fake.mode == "slow":
                    time.sleep(fake.delay)
                if fake.mode == "error":
                    self._send(500, b'{"error":"boom"}')
                elif fake.mode == "garbage":
                    self._send(200, b"<html>this is not a packument {")
                elif path == f"/{fake.name}":
                    if self.headers.get("if-none-match") == fake.etag:
                        self._send(304, b"")
                    else:
                        self._send(200, orjson.dumps(fake.packument()), {"etag": fake.etag})
                elif path.startswith(f"/{fake.name}/-/"):
                    version = path.rsplit("-", 1)[-1].removesuffix(".tgz")
                    data = fake.versions.get(version)
                    if data is None:
                        self._send(404, b'{"error":"not found"}')
                    elif fake.mode == "bad-tarball":
                        self._send(200, data[:-1] + b"x")
                    else:
                        self._send(200, data)
                else:
                    self._send(404, b'{"error":"not found"}')

            def _send(
                self, status: int, body: bytes, headers: dict[str, str] | None = None
            ) -> None:
                try:
                    self.send_response(status)
                    for key, value in (headers or {}).items():
                        self.send_header(key, value)
                    self.send_header("content-length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # Airlock gave up waiting (the slow mode): expected

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    def paths(self) -> list[str]:
        return [path for path, _ in self.requests]
