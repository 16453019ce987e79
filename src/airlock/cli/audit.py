"""`airlock audit`: the audit log from the command line (the operator's view: everything)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.table import Table

console = Console()


def audit(
    package: Annotated[str | None, typer.Option(help="Only this package.")] = None,
    actor: Annotated[str | None, typer.Option(help="Only this account.")] = None,
    event: Annotated[
        str | None, typer.Option(help="Only this event, e.g. package:version:approved.")
    ] = None,
    since: Annotated[str | None, typer.Option(help="From this time (ISO 8601 with zone).")] = None,
    until: Annotated[
        str | None, typer.Option(help="Before this time (ISO 8601 with zone).")
    ] = None,
    page: Annotated[int, typer.Option(help="Page, from 0 (50 per page).")] = 0,
    as_json: Annotated[bool, typer.Option("--json", help="Print the JSON answer.")] = False,
    config: Annotated[Path | None, typer.Option(help="TOML settings file.")] = None,
    data: Annotated[Path | None, typer.Option(help="Data folder.")] = None,
    database_url: Annotated[str | None, typer.Option(help="Database URL.")] = None,
) -> None:
    """Show audit events, newest first (reads the database directly)."""
    from airlock.bootstrap import build_context
    from airlock.errors import AirlockError
    from airlock.packages import audit_log as query
    from airlock.settings import load_settings

    settings = load_settings(config, data=data, database_url=database_url)
    ctx = build_context(settings)

    async def _run() -> dict[str, Any]:
        try:
            f = query.Filters(
                package=package,
                actor=actor,
                event=event,
                since=query.parse_time(since, "--since"),
                until=query.parse_time(until, "--until"),
                page=page,
            )
            async with ctx.db.read() as session:
                return await query.page_of(session, f, None)
        finally:
            await ctx.db.dispose()

    try:
        result = asyncio.run(_run())
    except AirlockError as exc:
        console.print(f"[red]error:[/red] {exc.message}")
        raise typer.Exit(1) from exc
    if as_json:
        typer.echo(json.dumps(result, indent=2))
        return
    table = Table()
    for column in ("time", "event", "actor", "credential", "client", "target"):
        table.add_column(column, overflow="fold")
    for it in result["items"]:
        cred = it["credential"]["kind"] or ""
        if it["credential"]["id"]:
            cred += f" {it['credential']['id'][:8]}"
        target = "@".join(x for x in (it["package"], it["version"]) if x)
        table.add_row(it["time"], it["event"], it["actor"] or "", cred, it["client"] or "", target)
    console.print(table)
    console.print(f"page {result['page']}, {len(result['items'])} of {result['total']} events")
