"""What every `airlock` sub-command shares: the console, option types, settings loading.

(Its own module so that cli/main.py and cli/tokens.py do not import each other.)
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from airlock.settings import Settings, load_settings

# soft_wrap: messages carry paths and URLs, which must stay whole for copy and paste (and for
# scripts reading stderr); rich would otherwise break them at 80 columns when not on a TTY.
console = Console(stderr=True, soft_wrap=True)

ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="TOML file with settings (keys as in docs/configuration.md)."),
]
DataOpt = Annotated[
    Path | None, typer.Option("--data", help="Data folder for SQLite and blobs [./airlock-data].")
]
DbOpt = Annotated[
    str | None,
    typer.Option("--database-url", help="postgresql://... or sqlite:///... [SQLite under --data]."),
]


def load_cli_settings(config: Path | None, **overrides: object) -> Settings:
    try:
        settings = load_settings(config, **overrides)
        settings.check_secrets()
    except (ValueError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    return settings
