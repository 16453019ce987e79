"""pnpm 12 from the npm registry, installed by the tests into .cache/ (as npm is)."""

from __future__ import annotations

import subprocess

from tests.support.npm import ROOT

PNPM_VERSION = "12.23.0"
PNPM_PREFIX = ROOT / ".cache" / f"pnpm-{PNPM_VERSION}"
PNPM_BIN = PNPM_PREFIX / "node_modules" / ".bin" / "pnpm"


def ensure_pnpm() -> str:
    if not PNPM_BIN.exists():
        PNPM_PREFIX.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [
                "npm",
                "install",
                "--prefix",
                str(PNPM_PREFIX),
                f"pnpm@{PNPM_VERSION}",
                "--no-audit",
                "--no-fund",
                "--loglevel=error",
            ],
            check=True,
            timeout=600,
        )
    return str(PNPM_BIN)


def spawn_pnpm(npm, *args: str, timeout: float = 60):
    """pnpm on a pseudo-terminal, with the same HOME/.npmrc as an Npm user."""
    import pexpect

    env = {**npm.base_env(), "CI": "", "PNPM_HOME": str(npm.home / "pnpm-home")}
    return pexpect.spawn(
        ensure_pnpm(),
        list(args),
        env=env,
        encoding="utf-8",
        timeout=timeout,
        cwd=str(npm.home),
        dimensions=(50, 250),
    )
