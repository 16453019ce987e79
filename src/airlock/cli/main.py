"""The `airlock` command: serve the registry and administer it."""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console

from airlock.settings import Settings, load_settings

app = typer.Typer(
    help=(
        "Airlock: a self-hosted npm registry with staged publishing.\n\n"
        "Settings come from, lowest to highest priority: built-in defaults, a TOML file "
        "(--config), AIRLOCK_* environment variables, command-line flags. "
        "`airlock settings` lists every setting with its variable and default."
    ),
    no_args_is_help=True,
    add_completion=False,
    rich_markup_mode=None,
)
user_app = typer.Typer(help="Manage user accounts.", no_args_is_help=True)
app.add_typer(user_app, name="user")
console = Console(stderr=True)

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


def _settings(config: Path | None, **overrides: object) -> Settings:
    try:
        settings = load_settings(config, **overrides)
        settings.check_secrets()
    except (ValueError, OSError) as exc:
        console.print(f"[red]error:[/red] {exc}")
        raise typer.Exit(2) from exc
    return settings


@app.command()
def serve(
    config: ConfigOpt = None,
    data: DataOpt = None,
    database_url: DbOpt = None,
    host: Annotated[str | None, typer.Option(help="Address to listen on [127.0.0.1].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [4873].")] = None,
    public_url: Annotated[
        str | None, typer.Option(help="URL clients use, for tarball links (http://HOST:PORT).")
    ] = None,
) -> None:
    """Start the registry (runs database migrations first)."""
    import uvicorn

    from airlock.context import build_context
    from airlock.db.migrate import upgrade
    from airlock.web.app import create_app
    from airlock.web.connections import protocol_class

    settings = _settings(
        config, data=data, database_url=database_url, host=host, port=port, public_url=public_url
    )
    ctx = build_context(settings)
    upgrade(settings.effective_database_url)
    url = settings.base_url
    print(f"Airlock is listening on {url}/", flush=True)
    print(f"Point npm at it with this line in .npmrc:  registry={url}/", flush=True)
    uvicorn.run(
        create_app(ctx),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level,
        access_log=False,
        server_header=False,
        # Slow or oversized requests are cut off before they reach the app (web/connections.py).
        http=protocol_class(settings),
    )


@app.command("settings")
def settings_cmd(
    markdown: Annotated[bool, typer.Option("--markdown", help="Print a Markdown table.")] = False,
) -> None:
    """List every setting: TOML key, environment variable, default and meaning."""
    from airlock.cli.settings_doc import settings_markdown, settings_text

    print(settings_markdown() if markdown else settings_text())


@app.command()
def migrate(config: ConfigOpt = None, data: DataOpt = None, database_url: DbOpt = None) -> None:
    """Bring the database schema up to date without starting the server."""
    from airlock.db.migrate import upgrade

    settings = _settings(config, data=data, database_url=database_url)
    settings.data.mkdir(parents=True, exist_ok=True)
    upgrade(settings.effective_database_url)
    console.print("database is up to date")


@user_app.command("create")
def user_create(
    name: str,
    email: Annotated[str | None, typer.Option(help="Email address.")] = None,
    password_stdin: Annotated[
        bool, typer.Option("--password-stdin", help="Read the password from standard input.")
    ] = False,
    config: ConfigOpt = None,
    data: DataOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Create a user (works even when sign-up is closed). Prompts for the password."""
    from airlock.accounts.service import create_user
    from airlock.context import build_context
    from airlock.db.migrate import upgrade
    from airlock.errors import AirlockError

    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    settings = _settings(config, data=data, database_url=database_url)
    ctx = build_context(settings)
    upgrade(settings.effective_database_url)

    async def _run() -> None:
        try:
            await create_user(ctx, name, password, email)
        finally:
            await ctx.db.dispose()

    try:
        asyncio.run(_run())
    except AirlockError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    console.print(f"created user {name}")


from airlock.cli.tokens import rotate_secrets, token_app  # noqa: E402 (needs `app` above)

app.add_typer(token_app, name="token")
app.command("rotate-secrets")(rotate_secrets)

from airlock.cli.backup import backup  # noqa: E402

app.command("backup")(backup)
