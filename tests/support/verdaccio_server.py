"""A real Verdaccio 6 on 127.0.0.1, installed by the tests into .cache/ from the npm registry.

tests/support/verdaccio/package.json pins the version and the override that makes it
installable with only the `latest` dist-tags reachable (from shared/bench/verdaccio).
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import httpx

from tests.support.server import free_port

ROOT = Path(__file__).resolve().parents[2]
SPEC = Path(__file__).resolve().parent / "verdaccio" / "package.json"
PREFIX = ROOT / ".cache" / "verdaccio-6.8.0"
BIN = PREFIX / "node_modules" / "verdaccio" / "bin" / "verdaccio"

CONFIG = """\
storage: ./storage
auth:
  htpasswd:
    file: ./htpasswd
    max_users: 1000
packages:
  '@*/*':
    access: $all
    publish: $authenticated
    unpublish: $authenticated
  '**':
    access: $all
    publish: $authenticated
    unpublish: $authenticated
uplinks: {}
log: {type: stdout, format: pretty, level: warn}
"""


def ensure_verdaccio() -> Path:
    if not BIN.exists():
        PREFIX.mkdir(parents=True, exist_ok=True)
        shutil.copy(SPEC, PREFIX / "package.json")
        subprocess.run(
            ["npm", "install", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=PREFIX,
            check=True,
            timeout=900,
        )
    return BIN


class Verdaccio:
    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> Verdaccio:
        self.folder.mkdir(parents=True, exist_ok=True)
        (self.folder / "config.yaml").write_text(CONFIG)
        log = (self.folder / "verdaccio.log").open("ab")
        self.proc = subprocess.Popen(
            [
                "node",
                str(ensure_verdaccio()),
                "--config",
                "config.yaml",
                "--listen",
                f"127.0.0.1:{self.port}",
            ],
            cwd=self.folder,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/-/ping", timeout=1).status_code == 200:
                    return self
            except httpx.HTTPError:
                time.sleep(0.2)
        raise RuntimeError(
            "verdaccio did not start: " + (self.folder / "verdaccio.log").read_text()
        )

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(15)
