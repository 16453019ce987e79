"""Registers the web UI on the app: its routers and its static files."""

from __future__ import annotations

from fastapi import FastAPI
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.staticfiles import StaticFiles

from airlock.web.ui import (
    account,
    audit_pages,
    auth_pages,
    cli,
    package_settings,
    packages,
    stages,
    tokens,
    twofactor_pages,
)
from airlock.web.ui.render import HERE, PREFIX


def install(app: FastAPI) -> None:
    pages = (cli, auth_pages, stages, account, packages, tokens, twofactor_pages)
    for module in (*pages, package_settings, audit_pages):
        app.include_router(module.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="web-static")

    @app.get("/", include_in_schema=False)
    async def _root(_: Request) -> Response:
        return RedirectResponse(f"{PREFIX}/", status_code=303)
