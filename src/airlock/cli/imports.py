"""`airlock import verdaccio PATH`: bring a Verdaccio registry's users and packages over."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from airlock.cli.common import ConfigOpt, DataOpt, DbOpt
from airlock.cli.tokens import _run

import_app = typer.Typer(help="Import another registry's data.", no_args_is_help=True)


@import_app.command("verdaccio")
def import_verdaccio_cmd(
    path: Annotated[Path, typer.Argument(help="Verdaccio folder (with storage/ and htpasswd).")],
    htpasswd: Annotated[
        Path | None, typer.Option(help="htpasswd file, if not PATH/htpasswd.")
    ] = None,
    owner: Annotated[
        str | None,
        typer.Option(
            help="Maintainer for packages whose files name none (Verdaccio 6 keeps none)."
        ),
    ] = None,
    config: ConfigOpt = None,
    data: DataOpt = None,
    database_url: DbOpt = None,
) -> None:
    """Import users (bcrypt hashes kept), packages, versions, tarballs, dist-tags, times and
    owners. Safe to run again: what is already here is skipped."""
    from airlock.imports.verdaccio import import_verdaccio

    report = _run(
        config, data, database_url, lambda ctx: import_verdaccio(ctx, path, htpasswd, owner)
    )
    for line in report.lines():
        print(line)
    if report.problems:
        raise typer.Exit(1)
