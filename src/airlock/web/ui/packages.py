"""Package pages: search and a package's page, from the same reads the npm routes use
(restricted packages are 404 to everyone but their maintainers)."""

from __future__ import annotations

import asyncio
from typing import Any

import orjson
import semver
from fastapi import APIRouter, Request
from starlette.responses import Response

from airlock.authz.principal import Principal
from airlock.packages import reads, search
from airlock.packages.readme import render_readme
from airlock.web.deps import Ctx, client_ip
from airlock.web.npm import names
from airlock.web.ui import session as web
from airlock.web.ui.render import PREFIX, page
from airlock.webauth.sessions import SessionState

# The {name:pkg} convertor (scoped names joined by web.npm.names) before the routes below.
names.register()
router = APIRouter(prefix=PREFIX)


def _viewer(request: Request, state: SessionState | None) -> Principal:
    if state is not None and state.user is not None:
        return web.principal(request, state.user)
    return Principal(user=None, token=None, via="anonymous", client_ip=client_ip(request))


@router.get("/packages")
async def search_page(request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    text = request.query_params.get("q", "")[:200]
    found = await search.search(ctx, _viewer(request, state), text, 50, 0)
    results = [o["package"] for o in found["objects"]]
    return page(
        request, "packages.html", title="Packages", q=text, results=results, total=found["total"]
    )


def _version_key(v: str) -> Any:
    try:
        return (1, semver.Version.parse(v))
    except ValueError:
        return (0, v)


@router.get("/package/{name:pkg}")
async def package_page(name: str, request: Request, ctx: Ctx, state: web.WebSession) -> Response:
    doc = await reads.packument(ctx, _viewer(request, state), name, abbreviated=False, gzip=False)
    data: dict[str, Any] = orjson.loads(doc.body)
    versions = sorted(data.get("versions", {}), key=_version_key, reverse=True)
    readme = str(data.get("readme") or "")
    # Markdown rendering and sanitising are CPU work: off the event loop.
    readme_html = await asyncio.to_thread(render_readme, readme) if readme else ""
    latest = data.get("dist-tags", {}).get("latest")
    return page(
        request,
        "package.html",
        title=name,
        doc=data,
        versions=versions,
        latest=latest,
        readme_html=readme_html,
        restricted=doc.restricted,
        times=data.get("time", {}),
    )
