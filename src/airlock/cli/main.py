"""The `airlock` command: serve the registry and administer it."""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Annotated

import typer

from airlock.cli.common import ConfigOpt, DataOpt, DbOpt, console, load_cli_settings
from airlock.settings import Settings

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


_settings = load_cli_settings


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
    workers: Annotated[
        int | None,
        typer.Option(help="Server processes sharing the port [one per CPU core].", min=1),
    ] = None,
) -> None:
    """Start the registry (runs database migrations first)."""
    import uvicorn

    from airlock.bootstrap import build_context
    from airlock.db.migrate import upgrade
    from airlock.web.app import create_app
    from airlock.web.asgi import SETTINGS_ENV, worker_count
    from airlock.web.connections import protocol_class
    from airlock.web.ui.urls import browser_url

    settings = _settings(
        config,
        data=data,
        database_url=database_url,
        host=host,
        port=port,
        public_url=public_url,
        workers=workers,
    )
    configure_operations(settings)
    ctx = build_context(settings)
    upgrade(settings.effective_database_url)
    url = settings.base_url
    count = worker_count(settings)
    print(
        f"Airlock is listening on {url}/ ({count} process{'es' if count > 1 else ''})", flush=True
    )
    print(f"Point npm at it with this line in .npmrc:  registry={url}/", flush=True)
    print(f"Web UI (staged versions, approvals): {browser_url(settings)}", flush=True)
    common = {
        "host": settings.host,
        "port": settings.port,
        "log_level": settings.log_level,
        "access_log": False,
        "server_header": False,
        # Airlock reads X-Forwarded-For itself, and only from `trusted_proxies`
        # (web/client_address.py): uvicorn's default trusts it from any loopback peer.
        "proxy_headers": False,
        "log_config": None,  # configure_operations set up logging (JSON or text)
        "timeout_graceful_shutdown": max(1, round(settings.shutdown_timeout_seconds)),
        # Slow or oversized requests are cut off before they reach the app (web/connections.py).
        "http": protocol_class(settings),
    }
    if count == 1:
        uvicorn.run(create_app(ctx), **common)  # type: ignore[arg-type]
        return
    # Each worker process builds its own context from the same settings (uvicorn spawns
    # them and imports the factory); the parent only holds the shared socket.
    os.environ[SETTINGS_ENV] = settings.model_dump_json()
    common["http"] = "airlock.web.connections:WorkerHttpProtocol"
    # uvicorn restarts a worker that has not finished starting (importing the app, opening
    # the database) within this many seconds, or that stops answering its pings; its 5 s
    # default kills every worker on a loaded machine, in a loop, and nothing is served.
    common["timeout_worker_healthcheck"] = 60
    uvicorn.run("airlock.web.asgi:app_from_environment", factory=True, workers=count, **common)  # type: ignore[arg-type]


def configure_operations(settings: Settings) -> None:
    """Logs and the multi-process metrics directory, before the app (or any worker) starts."""
    from airlock.observability.logs import configure_logging
    from airlock.observability.metrics import prepare_multiprocess

    configure_logging(settings.log_level, settings.log_format)
    prepare_multiprocess(settings.metrics_dir or settings.data / "metrics")


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
    from airlock.bootstrap import build_context
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


from airlock.cli.imports import import_app  # noqa: E402
from airlock.cli.tokens import rotate_secrets, token_app  # noqa: E402 (needs `app` above)

app.add_typer(token_app, name="token")
app.add_typer(import_app, name="import")
app.command("rotate-secrets")(rotate_secrets)

from airlock.cli.audit import audit  # noqa: E402

app.command("audit")(audit)

from airlock.cli.backup import backup  # noqa: E402

app.command("backup")(backup)
