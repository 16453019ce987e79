"""`airlock token create` (what the npm CLI cannot express, e.g. stage-only tokens) and
`airlock rotate-secrets`. Both talk to the database directly, like `airlock user create`."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, TypeVar

import typer

from airlock.cli.common import ConfigOpt, DataOpt, DbOpt, console, load_cli_settings
from airlock.context import AppContext

T = TypeVar("T")

token_app = typer.Typer(help="Manage access tokens.", no_args_is_help=True)


def _run(
    config: Path | None,
    data: Path | None,
    database_url: str | None,
    work: Callable[[AppContext], Awaitable[T]],
) -> T:
    from airlock.bootstrap import build_context
    from airlock.db.migrate import upgrade
    from airlock.errors import AirlockError

    settings = load_cli_settings(config, data=data, database_url=database_url)
    ctx = build_context(settings)
    upgrade(settings.effective_database_url)

    async def _go() -> T:
        try:
            return await work(ctx)
        finally:
            await ctx.db.dispose()

    try:
        return asyncio.run(_go())
    except AirlockError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc


@token_app.command("create")
def token_create(
    user: Annotated[str, typer.Argument(help="The user the token acts for.")],
    permission: Annotated[
        str, typer.Option(help="read-only, read-write or read-write-stage-only (stage-only).")
    ] = "read-write",
    package: Annotated[
        list[str] | None, typer.Option("--package", help="Limit to this package (repeatable).")
    ] = None,
    scope: Annotated[
        list[str] | None, typer.Option("--scope", help="Limit to this @scope (repeatable).")
    ] = None,
    cidr: Annotated[
        list[str] | None, typer.Option("--cidr", help="Allowed client network (repeatable).")
    ] = None,
    expires_days: Annotated[
        int | None, typer.Option("--expires-days", help="Lifetime in days [token_default_days].")
    ] = None,
    bypass_2fa: Annotated[
        bool, typer.Option("--bypass-2fa", help="Publish without a one-time password.")
    ] = False,
    name: Annotated[str | None, typer.Option(help="A name shown by `npm token list`.")] = None,
    config: ConfigOpt = None,
    data: DataOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Create a granular token for USER and print it (shown once, stored as a hash)."""
    from airlock.accounts.service import get_user
    from airlock.errors import NotFound
    from airlock.tokens.requests import parse_create_request
    from airlock.tokens.service import create_granular

    body = {
        "name": name,
        "permission": permission,
        "packages": package or [],
        "scopes": scope or [],
        "cidr_whitelist": cidr or [],
        "expires": expires_days,
        "bypass_2fa": bypass_2fa,
    }

    async def work(ctx: AppContext) -> str:
        spec = parse_create_request(body, ctx.settings)
        account = await get_user(ctx, user)
        if account is None:
            raise NotFound(f"User {user} not found.")
        return (await create_granular(ctx, account.id, spec)).secret

    print(_run(config, data, database_url, work))


def rotate_secrets(
    config: ConfigOpt = None, data: DataOpt = None, database_url: DbOpt = None
) -> None:
    """Re-encrypt stored two-factor secrets with the current AIRLOCK_SECRET_KEY."""
    from airlock.twofactor.service import rotate_secrets as rotate

    count = _run(config, data, database_url, rotate)
    console.print(f"re-encrypted {count} two-factor secret(s) with the current key")
