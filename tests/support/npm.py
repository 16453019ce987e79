"""The pinned npm CLI, installed by the tests themselves into .cache/, and a runner for it."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlparse

NPM_VERSION = "11.19.1"
ROOT = Path(__file__).resolve().parents[2]
NPM_PREFIX = ROOT / ".cache" / f"npm-{NPM_VERSION}"
NPM_CLI = NPM_PREFIX / "node_modules" / "npm" / "bin" / "npm-cli.js"


def ensure_npm() -> Path:
    """Install npm@NPM_VERSION once (uses the machine's node and npm to fetch it)."""
    if not NPM_CLI.exists():
        NPM_PREFIX.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--prefix",
                str(NPM_PREFIX),
                f"npm@{NPM_VERSION}",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ],
            check=True,
            timeout=600,
        )
    return NPM_CLI


@dataclass
class NpmResult:
    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr

    def check(self) -> NpmResult:
        assert self.code == 0, f"npm failed ({self.code}):\n{self.output}"
        return self


@dataclass
class Npm:
    """One npm user: its own userconfig (registry + token) and cache."""

    registry: str
    home: Path
    env: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        self.userconfig = self.home / ".npmrc"
        if not self.userconfig.exists():
            self.userconfig.write_text(f"registry={self.registry}/\n")
        self.cache = self.home / "cache"

    @property
    def host_key(self) -> str:
        parsed = urlparse(self.registry)
        return f"//{parsed.netloc}{parsed.path.rstrip('/')}/"

    def set_token(self, token: str) -> None:
        lines = [ln for ln in self.userconfig.read_text().splitlines() if ":_authToken=" not in ln]
        lines.append(f"{self.host_key}:_authToken={token}")
        self.userconfig.write_text("\n".join(lines) + "\n")

    def base_env(self) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if not k.lower().startswith("npm_config_") and k not in {"CI", "GITHUB_ACTIONS"}
        }
        env.update(
            {
                "HOME": str(self.home),
                "npm_config_userconfig": str(self.userconfig),
                "npm_config_cache": str(self.cache),
                "npm_config_registry": f"{self.registry}/",
                "npm_config_update_notifier": "false",
                "npm_config_fund": "false",
                "npm_config_audit": "false",
                "npm_config_loglevel": "notice",
                "npm_config_fetch_retries": "0",
            }
        )
        env.update(self.env)
        return env

    def command(self, *args: str) -> list[str]:
        return ["node", str(ensure_npm()), *args]

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

    def ok(self, *args: str, **kwargs: object) -> NpmResult:
        return self.run(*args, **kwargs).check()  # type: ignore[arg-type]


def run_cli(
    command: list[str], *, cwd: Path, input: str | None, timeout: float, env: dict[str, str]
) -> NpmResult:
    """Run a client (npm, pnpm, yarn) to completion and keep what it printed."""
    proc = subprocess.run(
        command, cwd=cwd, input=input, capture_output=True, text=True, timeout=timeout, env=env
    )
    return NpmResult(proc.returncode, proc.stdout, proc.stderr)
