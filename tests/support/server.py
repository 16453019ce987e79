"""A live `airlock serve` in its own process on a free 127.0.0.1 port.

The process runs the real CLI entry point (`airlock serve ...`), but it is forked from a
multiprocessing fork server that imported Airlock once: the imports cost ~2 s of CPU per
start, which across the end-to-end suite was most of its time. AIRLOCK_TEST_SPAWN=exec
starts `python -m airlock serve` with exec instead.
"""

from __future__ import annotations

import multiprocessing
import os
import socket
import subprocess
import sys
import time
from multiprocessing.process import BaseProcess
from pathlib import Path
from typing import Any

import httpx

_FORK = multiprocessing.get_context("forkserver")
# Import only: no threads, loops or connections exist in the fork server.
_FORK.set_forkserver_preload(
    ["airlock.cli.main", "airlock.web.app", "airlock.db.migrate", "uvicorn", "alembic.command"]
)


def _serve(argv: list[str], env: dict[str, str], log_path: str) -> None:
    """Child body: the environment and output of a fresh `airlock` process, then the CLI."""
    os.environ.clear()
    os.environ.update(env)
    fd = os.open(log_path, os.O_WRONLY | os.O_CREAT | os.O_APPEND)
    os.dup2(fd, 1)
    os.dup2(fd, 2)
    from airlock.cli.main import app

    app(args=argv, prog_name="airlock")


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
        self.proc: subprocess.Popen[bytes] | BaseProcess | None = None
        self.log = data / f"server-{self.port}.log"

    def start(self) -> LiveServer:
        self.data.mkdir(parents=True, exist_ok=True)
        # One process unless a test asks for more (`airlock serve` defaults to one per core).
        env = {**os.environ, "AIRLOCK_LOG_LEVEL": "warning", "AIRLOCK_WORKERS": "1", **self.env}
        argv = [
            "serve",
            "--data",
            str(self.data),
            "--database-url",
            self.database_url,
            "--port",
            str(self.port),
        ]
        # Several workers: uvicorn's children cannot come from a daemonic forked process.
        if os.environ.get("AIRLOCK_TEST_SPAWN") == "exec" or env["AIRLOCK_WORKERS"] != "1":
            with self.log.open("ab") as log:
                self.proc = subprocess.Popen(
                    [sys.executable, "-m", "airlock", *argv],
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    env=env,
                )
        else:
            self.log.touch()
            self.proc = _FORK.Process(target=_serve, args=(argv, env, str(self.log)), daemon=True)
            self.proc.start()
        # Extra workers are spawned (fresh imports): slower to start on a busy machine.
        deadline = time.monotonic() + (30 if env["AIRLOCK_WORKERS"] == "1" else 180)
        while time.monotonic() < deadline:
            if not self.running:
                raise RuntimeError(f"airlock serve exited: {self.log.read_text()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/-/ping", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"airlock serve did not start: {self.log.read_text()[-3000:]}")

    @property
    def running(self) -> bool:
        if isinstance(self.proc, subprocess.Popen):
            return self.proc.poll() is None
        return self.proc is not None and self.proc.is_alive()

    def stop(self) -> None:
        """SIGTERM (uvicorn shuts down gracefully), then SIGKILL after 10 s."""
        proc = self.proc
        if proc is None or not self.running:
            return
        proc.terminate()
        if isinstance(proc, subprocess.Popen):
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(5)
        else:
            proc.join(10)
            if proc.is_alive():
                proc.kill()
                proc.join(5)

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
