"""Helpers for the staged-publishing tests (in-process and live)."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
from sqlalchemy import delete, func, select

from airlock.accounts.models import User
from airlock.context import AppContext
from airlock.packages.models import Maintainer, Package, Version
from airlock.tokens.models import Token
from airlock.tokens.secrets import display_prefix, hash_token, new_token
from tests.support.packages import make_tarball, publish_body

STAGE_ID = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"


def auth(token: str | None, otp: str | None = None) -> dict[str, str]:
    headers = {"authorization": f"Bearer {token}"} if token else {}
    if otp:
        headers["npm-otp"] = otp
    return headers


def escaped(name: str) -> str:
    return name.replace("/", "%2f")


async def signup(client: httpx.AsyncClient, name: str) -> str:
    body = {"name": name, "password": "correct-horse-9", "email": f"{name}@example.com"}
    resp = await client.put(f"/-/user/org.couchdb.user:{name}", json=body)
    assert resp.status_code == 201, resp.text
    token: str = resp.json()["token"]
    return token


async def stage(
    client: httpx.AsyncClient,
    token: str | None,
    name: str,
    version: str,
    *,
    tag: str = "latest",
    access: str | None = None,
    tarball: bytes | None = None,
    body: dict[str, Any] | None = None,
) -> httpx.Response:
    data = body or publish_body(name, version, tarball, tag=tag, access=access)
    return await client.post(f"/-/stage/package/{escaped(name)}", json=data, headers=auth(token))


async def staged_id(
    client: httpx.AsyncClient, token: str, name: str, version: str, **kw: Any
) -> str:
    resp = await stage(client, token, name, version, **kw)
    assert resp.status_code == 201, resp.text
    stage_id: str = resp.json()["stageId"]
    return stage_id


async def add_token(
    ctx: AppContext,
    user: str,
    *,
    kind: str = "granular",
    permission: str = "read-write",
    packages: list[str] | None = None,
    trust_permissions: list[str] | None = None,
) -> str:
    """A token row made directly (the token routes belong to another suite)."""
    secret = new_token()
    async with ctx.db.write() as session:
        owner = (await session.execute(select(User).where(User.name == user))).scalar_one()
        session.add(
            Token(
                user_id=owner.id,
                token_hash=hash_token(secret),
                display=display_prefix(secret),
                kind=kind,
                permission=permission,
                packages=packages or [],
                scopes=[],
                cidr=[],
                bypass_2fa=False,
                created_at=datetime.now(UTC),
                trust_permissions=trust_permissions or [],
                trusted_publisher={"provider": "github"} if kind == "oidc" else None,
                trust_id=uuid.uuid4() if kind == "oidc" else None,
            )
        )
    return secret


async def set_maintainer(ctx: AppContext, package: str, user: str, present: bool) -> None:
    async with ctx.db.write() as session:
        pkg = (await session.execute(select(Package).where(Package.name == package))).scalar_one()
        who = (await session.execute(select(User).where(User.name == user))).scalar_one()
        if present:
            session.add(Maintainer(package_id=pkg.id, user_id=who.id, added_at=datetime.now(UTC)))
        else:
            await session.execute(
                delete(Maintainer).where(
                    Maintainer.package_id == pkg.id, Maintainer.user_id == who.id
                )
            )


async def version_rows(ctx: AppContext, package: str | None = None) -> list[tuple[str, str, str]]:
    """(package, version, state) of every version row: to assert nothing changed."""
    async with ctx.db.read() as session:
        query = select(Package.name, Version.version, Version.state).join(
            Package, Package.id == Version.package_id
        )
        if package is not None:
            query = query.where(Package.name == package)
        rows = await session.execute(query.order_by(Package.name, Version.version))
        return [(r[0], r[1], r[2]) for r in rows]


async def package_count(ctx: AppContext) -> int:
    async with ctx.db.read() as session:
        return int(await session.scalar(select(func.count()).select_from(Package)) or 0)


def blob_files(ctx: AppContext) -> set[str]:
    root = ctx.settings.data / "blobs"
    return {str(p.relative_to(root)) for p in root.rglob("*.tgz")} if root.exists() else set()


__all__ = ["STAGE_ID", "make_tarball"]


async def swept_blob_files(ctx: AppContext) -> set[str]:
    """The blob files left once the grace period has passed and the collector swept."""
    from airlock.clock import FrozenClock
    from airlock.packages.blobs import sweep

    assert isinstance(ctx.clock, FrozenClock)
    ctx.clock.advance(ctx.settings.blob_grace_seconds + 1)
    await sweep(ctx)
    return blob_files(ctx)
