"""A live `airlock serve` in a subprocess on a free 127.0.0.1 port."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class LiveServer:
    def __init__(
        self,
        data: Path,
        database_url: str,
        env: dict[str, str] | None = None,
        port: int | None = None,
    ) -> None:
        self.data = data
        self.database_url = database_url
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = env or {}
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data / f"server-{self.port}.log"

    def start(self) -> LiveServer:
        self.data.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "AIRLOCK_LOG_LEVEL": "warning", **self.env}
        with self.log.open("ab") as log:
            self.proc = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "airlock",
                    "serve",
                    "--data",
                    str(self.data),
                    "--database-url",
                    self.database_url,
                    "--port",
                    str(self.port),
                ],
                stdout=log,
                stderr=subprocess.STDOUT,
                env=env,
            )
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"airlock serve exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/-/ping", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"airlock serve did not start: {self.log.read_text()[-3000:]}")

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)

    def client(self, token: str | None = None, **kwargs: Any) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(base_url=self.url, headers=headers, timeout=30, **kwargs)

    def cli(self, *args: str, input: str | None = None) -> subprocess.CompletedProcess[str]:
        """Run an `airlock` admin command against this server's database and data folder."""
        return subprocess.run(
            [
                sys.executable,
                "-m",
                "airlock",
                *args,
                "--data",
                str(self.data),
                "--database-url",
                self.database_url,
            ],
            input=input,
            capture_output=True,
            text=True,
            timeout=60,
            env={**os.environ, **self.env},
        )
