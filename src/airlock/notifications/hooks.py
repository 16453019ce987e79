"""A package's own webhooks, managed by its maintainers (/-/airlock/v1/package/{name}/hooks)."""

from __future__ import annotations

import uuid
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import select

from airlock.audit.events import Event, record
from airlock.authz.actions import Action
from airlock.authz.policy import authorize
from airlock.authz.principal import Principal
from airlock.context import AppContext
from airlock.errors import BadRequest, NotFound
from airlock.notifications.models import Delivery, PackageHook
from airlock.notifications.outbox import NOTIFY
from airlock.packages import repository as packages_repo
from airlock.packages.models import Package
from airlock.stage.permissions import signed_in, token_covers
from airlock.twofactor.encryption import cipher

MAX_HOOKS = 20


def hook_json(h: PackageHook) -> dict[str, Any]:
    # The secret is never shown again after creation.
    return {
        "id": str(h.id),
        "url": h.url,
        "events": h.events,
        "createdBy": h.created_by,
        "createdAt": h.created_at.isoformat().replace("+00:00", "Z"),
    }


async def _maintained(ctx: AppContext, principal: Principal, name: str) -> Package:
    user = signed_in(principal)
    async with ctx.db.read() as session:
        package = await packages_repo.get_package(session, name)
        if (
            package is None
            or not token_covers(principal, name)
            or not await packages_repo.is_maintainer(session, package.id, user.id)
        ):
            raise NotFound(f"Package {name} not found.")
        return package


def parse_hook(body: dict[str, Any]) -> tuple[str, str, list[str]]:
    url, secret, events = body.get("url"), body.get("secret"), body.get("events", ["*"])
    if (
        not isinstance(url, str)
        or urlsplit(url).scheme not in ("http", "https")
        or not urlsplit(url).netloc
    ):
        raise BadRequest("url must be an http:// or https:// URL.")
    if len(url) > 2048:
        raise BadRequest("url is too long (2048 characters at most).")
    if not isinstance(secret, str) or len(secret) < 16:
        raise BadRequest("secret must be a string of at least 16 characters.")
    if not isinstance(events, list) or not events or not all(isinstance(e, str) for e in events):
        raise BadRequest('events must be a non-empty list of event names, or ["*"].')
    unknown = [e for e in events if e != "*" and e not in NOTIFY]
    if unknown:
        raise BadRequest(
            f"Unknown events: {', '.join(unknown)}. Known: {', '.join(sorted(NOTIFY))}."
        )
    return url, secret, events


async def list_hooks(ctx: AppContext, principal: Principal, name: str) -> list[dict[str, Any]]:
    package = await _maintained(ctx, principal, name)
    async with ctx.db.read() as session:
        rows = await session.scalars(
            select(PackageHook)
            .where(PackageHook.package_id == package.id)
            .order_by(PackageHook.created_at)
        )
        return [hook_json(h) for h in rows.all()]


async def add_hook(
    ctx: AppContext, principal: Principal, name: str, body: dict[str, Any]
) -> dict[str, Any]:
    url, secret, events = parse_hook(body)
    package = await _maintained(ctx, principal, name)
    async with ctx.db.read() as session:
        _, ref = await packages_repo.package_ref(session, name, principal)
    await authorize(ctx, principal, Action.GOVERN, ref, description=f"Add a webhook to {name}")
    assert principal.user is not None
    async with ctx.db.write() as session:
        existing = await session.scalars(
            select(PackageHook.id).where(PackageHook.package_id == package.id)
        )
        if len(existing.all()) >= MAX_HOOKS:
            raise BadRequest(f"{name} has {MAX_HOOKS} hooks already; remove one first.")
        hook = PackageHook(
            package_id=package.id,
            url=url,
            secret_enc=cipher(ctx.settings).encrypt(secret.encode()),
            events=events,
            created_by=principal.user.name,
            created_at=ctx.clock.now(),
        )
        session.add(hook)
        await session.flush()
        record(
            session,
            ctx.clock,
            Event.HOOK_CHANGED,
            actor=principal.user.name,
            package=name,
            hook_id=str(hook.id),
            url=url,
            change="added",
        )
        return hook_json(hook)


async def remove_hook(ctx: AppContext, principal: Principal, name: str, hook_id: uuid.UUID) -> None:
    package = await _maintained(ctx, principal, name)
    async with ctx.db.read() as session:
        _, ref = await packages_repo.package_ref(session, name, principal)
    what = f"Remove webhook {hook_id} from {name}"
    await authorize(ctx, principal, Action.GOVERN, ref, description=what)
    assert principal.user is not None
    async with ctx.db.write() as session:
        hook = await session.get(PackageHook, hook_id)
        if hook is None or hook.package_id != package.id:
            raise NotFound(f"Hook {hook_id} not found.")
        await session.delete(hook)
        record(
            session,
            ctx.clock,
            Event.HOOK_CHANGED,
            actor=principal.user.name,
            package=name,
            hook_id=str(hook_id),
            url=hook.url,
            change="removed",
        )


async def deliveries(
    ctx: AppContext, principal: Principal, name: str, hook_id: uuid.UUID
) -> list[dict[str, Any]]:
    """The delivery log of one hook, newest first (last 100)."""
    package = await _maintained(ctx, principal, name)
    async with ctx.db.read() as session:
        hook = await session.get(PackageHook, hook_id)
        if hook is None or hook.package_id != package.id:
            raise NotFound(f"Hook {hook_id} not found.")
        rows = await session.scalars(
            select(Delivery)
            .where(Delivery.hook_id == hook_id)
            .order_by(Delivery.created_at.desc())
            .limit(100)
        )
        return [
            {
                "id": str(d.id),
                "state": d.state,
                "attempts": d.attempts,
                "lastStatus": d.last_status,
                "lastError": d.last_error,
                "deliveredAt": d.delivered_at.isoformat().replace("+00:00", "Z")
                if d.delivered_at
                else None,
            }
            for d in rows.all()
        ]
