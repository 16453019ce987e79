"""pnpm 12 and yarn 4, installed by the tests from the npm registry into .cache/ (as the
pinned npm is, tests/support/npm.py), and a runner for each with its own home and config.

pnpm 12 is a native binary: the `pnpm` package pulls the one for this platform
(`@pnpm/exe.linux-x64`) as an optional dependency. yarn 4 is one JavaScript file,
`@yarnpkg/cli-dist` (what corepack would otherwise download from a host that is not
reachable here), run with the machine's node.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tests.support.databases import TestDatabase, require_backend
from tests.support.npm import ROOT, NpmResult, run_cli
from tests.support.server import LiveServer

PNPM_VERSION = "12.23.0"
YARN_VERSION = "4.18.1"
PNPM_PREFIX = ROOT / ".cache" / f"pnpm-{PNPM_VERSION}"
YARN_PREFIX = ROOT / ".cache" / f"yarn-{YARN_VERSION}"
PNPM_BIN = PNPM_PREFIX / "node_modules" / ".bin" / "pnpm"
YARN_JS = YARN_PREFIX / "node_modules" / "@yarnpkg" / "cli-dist" / "bin" / "yarn.js"


def _npm_install(prefix: Path, spec: str) -> None:
    prefix.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        ["npm", "install", "--prefix", str(prefix), spec, "--no-audit", "--no-fund", "-q"],
        check=True,
        timeout=600,
    )


def ensure_pnpm() -> Path:
    if not PNPM_BIN.exists():
        _npm_install(PNPM_PREFIX, f"pnpm@{PNPM_VERSION}")
    return PNPM_BIN


def ensure_yarn() -> Path:
    if not YARN_JS.exists():
        _npm_install(YARN_PREFIX, f"@yarnpkg/cli-dist@{YARN_VERSION}")
    return YARN_JS


def _clean_environ() -> dict[str, str]:
    drop = ("npm_config_", "pnpm_config_", "yarn_")
    return {
        k: v
        for k, v in os.environ.items()
        if not k.lower().startswith(drop) and k not in {"CI", "GITHUB_ACTIONS"}
    }


@dataclass
class _Client:
    registry: str
    home: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.configure()

    def configure(self) -> None:
        raise NotImplementedError

    def command(self, *args: str) -> list[str]:
        raise NotImplementedError

    def base_env(self) -> dict[str, str]:
        env = _clean_environ()
        env.update(
            {
                "HOME": str(self.home),
                "XDG_CONFIG_HOME": str(self.home / ".config"),
                "XDG_CACHE_HOME": str(self.home / ".cache"),
                "XDG_DATA_HOME": str(self.home / ".local" / "share"),
                "XDG_STATE_HOME": str(self.home / ".local" / "state"),
            }
        )
        env.update(self.env)
        return env

    def run(
        self,
        *args: str,
        cwd: Path | None = None,
        input: str | None = None,
        env: dict[str, str] | None = None,
        timeout: float = 120,
    ) -> NpmResult:
        return run_cli(
            self.command(*args),
            cwd=cwd or self.home,
            input=input,
            timeout=timeout,
            env={**self.base_env(), **(env or {})},
        )

    def ok(self, *args: str, **kwargs: Any) -> NpmResult:
        return self.run(*args, **kwargs).check()

    def spawn(self, *args: str, cwd: Path | None = None, timeout: float = 60) -> Any:
        """On a pseudo-terminal, for the prompts shown only on a TTY (pexpect)."""
        import pexpect

        cmd = self.command(*args)
        return pexpect.spawn(
            cmd[0],
            cmd[1:],
            env=self.base_env(),
            encoding="utf-8",
            timeout=timeout,
            cwd=str(cwd or self.home),
            dimensions=(50, 250),
        )


@dataclass
class Pnpm(_Client):
    """pnpm 12 with its user `.npmrc` (registry and token) and global `config.yaml`."""

    def configure(self) -> None:
        self.userconfig = self.home / ".npmrc"
        if not self.userconfig.exists():
            self.userconfig.write_text(f"registry={self.registry}/\n")
        config_dir = self.home / ".config" / "pnpm"
        config_dir.mkdir(parents=True, exist_ok=True)
        # pnpm 12 refuses versions younger than a day by default (minimumReleaseAge 1440
        # minutes); a registry's own fresh releases need this off (docs/clients.md).
        (config_dir / "config.yaml").write_text("minimumReleaseAge: 0\nupdateNotifier: false\n")

    def set_token(self, token: str) -> None:
        host = self.registry.split("://", 1)[1].rstrip("/")
        lines = [ln for ln in self.userconfig.read_text().splitlines() if ":_authToken=" not in ln]
        lines.append(f"//{host}/:_authToken={token}")
        self.userconfig.write_text("\n".join(lines) + "\n")

    def command(self, *args: str) -> list[str]:
        return [str(ensure_pnpm()), *args]

    def base_env(self) -> dict[str, str]:
        env = super().base_env()
        env["npm_config_userconfig"] = str(self.userconfig)
        return env


@dataclass
class Yarn(_Client):
    """yarn 4 with a home `.yarnrc.yml`: the registry over plain HTTP on 127.0.0.1, the
    token, the node-modules linker, and no minimal age gate (default: one day)."""

    token: str | None = None

    def configure(self) -> None:
        self.write_rc()

    def write_rc(self) -> None:
        lines = [
            f'npmRegistryServer: "{self.registry}"',
            'unsafeHttpWhitelist: ["127.0.0.1"]',
            "npmMinimalAgeGate: 0",
            "nodeLinker: node-modules",
            "enableTelemetry: false",
            "enableGlobalCache: false",
            "enableImmutableInstalls: false",
            "enableProgressBars: false",
            "enableMessageNames: false",
            "enableHyperlinks: false",
        ]
        if self.token:
            lines.append(f'npmAuthToken: "{self.token}"')
        (self.home / ".yarnrc.yml").write_text("\n".join(lines) + "\n")

    def set_token(self, token: str) -> None:
        self.token = token
        self.write_rc()

    def command(self, *args: str) -> list[str]:
        return ["node", str(ensure_yarn()), *args]


@contextlib.contextmanager
def module_server(root: Path, env: dict[str, str] | None = None) -> Iterator[LiveServer]:
    """One live server (and database) for a whole test module: client start-up dominates
    these tests, a server per test would double their time."""
    require_backend()
    root.mkdir(parents=True, exist_ok=True)
    db = TestDatabase(root)
    srv = LiveServer(root / "data", db.url, env=env)
    try:
        yield srv.start()
    finally:
        srv.stop()
        db.drop()


def blob_files(srv: LiveServer) -> set[Path]:
    """Every file in the server's blob folder (to show a refused write left none behind)."""
    return {p for p in (srv.data / "blobs").rglob("*") if p.is_file()}
